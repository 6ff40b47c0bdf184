"""A development SMTP server (aiosmtpd) that keeps every message it receives as one
`.eml` file, so that what patients would receive can be opened and checked.

Like a careful receiving system, it deduplicates by Message-ID: the outbox gives every
email a Message-ID derived from what the message is, so a retry after a crash between the
server's acceptance and the outbox's commit lands once."""

from __future__ import annotations

import email.parser
import hashlib
import socket
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

_headers = email.parser.BytesHeaderParser()


def message_id_of(content: bytes) -> str | None:
    value = _headers.parsebytes(content).get("Message-ID")
    return value.strip() if value else None


class _Handler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.seen = {mid for path in folder.glob("*.eml")
                     if (mid := message_id_of(path.read_bytes())) is not None}

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if isinstance(content, str):
            content = content.encode()
        message_id = message_id_of(content)
        name = hashlib.sha256((message_id or content.decode("latin-1")).encode()).hexdigest()[:32]
        with self.lock:
            if message_id is not None and message_id in self.seen:
                return "250 Message accepted (duplicate Message-ID, kept once)"
            tmp = self.folder / f".{name}.tmp"
            tmp.write_bytes(content)
            tmp.rename(self.folder / f"{name}.eml")  # atomic: readers never see half a message
            # Seen only once it is on disk: a failed write must not swallow the retry.
            if message_id is not None:
                self.seen.add(message_id)
        return "250 Message accepted for delivery"


class MailSink:
    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 8025) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.host = host
        self.port = port if port and _free(host, port) else _any_free_port(host)
        self.controller = Controller(_Handler(folder), hostname=host, port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def messages(self) -> list[Path]:
        return sorted(self.folder.glob("*.eml"))


def _free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _any_free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
