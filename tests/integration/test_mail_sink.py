"""The development mail sink keeps each message once, by Message-ID."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from service.mail_sink import MailSink


def _send(port: int, message_id: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"] = "concord@example.org", "rosa@example.org"
    message["Subject"], message["Message-ID"] = "Check-in", message_id
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(message)


def test_a_retried_message_is_kept_once(tmp_path: Path) -> None:
    sink = MailSink(tmp_path / "mail", port=0)
    sink.start()
    try:
        _send(sink.port, "<abc@concord>", "first attempt")
        _send(sink.port, "<abc@concord>", "retry after a crash")
        _send(sink.port, "<def@concord>", "another message")
    finally:
        sink.stop()
    assert len(sink.messages()) == 2
    restarted = MailSink(tmp_path / "mail", port=0)
    restarted.start()
    try:
        _send(restarted.port, "<abc@concord>", "retry after the sink restarted")
    finally:
        restarted.stop()
    assert len(restarted.messages()) == 2
