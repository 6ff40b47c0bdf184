"""E-mail through SMTP (aiosmtplib), with short timeouts and a deterministic Message-ID."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
from email.message import EmailMessage

import aiosmtplib

from domain.message import DeliveryFailed, Message, smtp_failure, valid_email_address
from service.settings import Settings

COMMAND_TIMEOUT = 10.0
"""Seconds for each SMTP step (connect, each command, the data)."""
TOTAL_TIMEOUT = 30.0
"""Seconds for the whole conversation: well inside the claim's lease."""


class EmailChannel:
    def __init__(self, settings: Settings, *, timeout: float = COMMAND_TIMEOUT,
                 total_timeout: float = TOTAL_TIMEOUT) -> None:
        self.settings = settings
        self.timeout = timeout
        self.total_timeout = total_timeout

    def compose(self, message: Message, now: dt.datetime | None = None) -> EmailMessage:
        if not valid_email_address(message.recipient):
            raise DeliveryFailed("InvalidRecipient", permanent=True)
        mail = EmailMessage()
        try:
            mail["From"] = self.settings.smtp_from
            mail["To"] = message.recipient
            mail["Subject"] = message.subject or ""
            mail["Message-ID"] = message.email_message_id
            mail["Date"] = email.utils.format_datetime(now or dt.datetime.now(dt.UTC))
            mail["Auto-Submitted"] = "auto-generated"
            mail.set_content(message.body_text)
            if message.body_html:
                mail.add_alternative(message.body_html, subtype="html")
        except (ValueError, TypeError) as exc:  # e.g. a line break in the subject
            raise DeliveryFailed(f"InvalidMessage {type(exc).__name__}", permanent=True) from None
        return mail

    async def send(self, message: Message) -> str:
        mail = self.compose(message)
        try:
            async with asyncio.timeout(self.total_timeout):
                await self._send(mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            code = exc.recipients[0].code if exc.recipients else None
            raise smtp_failure(type(exc).__name__, code, about_the_message=True) from None
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
            raise smtp_failure(type(exc).__name__, exc.code, about_the_message=True) from None
        except aiosmtplib.SMTPResponseException as exc:  # greeting, login, sender
            raise smtp_failure(type(exc).__name__, exc.code, about_the_message=False) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise smtp_failure(type(exc).__name__, None, about_the_message=False) from None
        return message.email_message_id

    async def _send(self, mail: EmailMessage) -> None:
        s = self.settings
        implicit_tls = s.smtp_tls and s.smtp_port == 465
        await aiosmtplib.send(
            mail,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            use_tls=implicit_tls,
            start_tls=s.smtp_tls and not implicit_tls,
            timeout=self.timeout,
        )
