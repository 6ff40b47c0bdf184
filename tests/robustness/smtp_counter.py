"""An SMTP server for robustness tests that records every DATA it accepts, duplicates
included (unlike `service.mail_sink`, which keeps one copy per Message-ID)."""

from __future__ import annotations

import asyncio
import email.parser
import socket
import threading
from collections import Counter
from typing import Any

from aiosmtpd.controller import Controller

_headers = email.parser.BytesHeaderParser()


class CountingHandler:
    """Counts raw DATA deliveries and Message-IDs. `mail_delay` seconds are spent in MAIL
    FROM, before the message is handed over, so that a slow server stretches the run
    without widening the window between its 250 to DATA and the sender's commit."""

    def __init__(self, mail_delay: float = 0.0) -> None:
        self.mail_delay = mail_delay
        self.lock = threading.Lock()
        self.deliveries = 0
        self.ids: Counter[str] = Counter()

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        if self.mail_delay:
            await asyncio.sleep(self.mail_delay)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        message_id = (_headers.parsebytes(content).get("Message-ID") or "").strip()
        with self.lock:
            self.deliveries += 1
            self.ids[message_id] += 1
        return "250 2.0.0 Ok: queued"

    def snapshot(self, wanted: set[str] | None = None) -> tuple[int, int]:
        """(raw deliveries, distinct Message-IDs), of `wanted` ids only when given."""
        with self.lock:
            if wanted is None:
                return self.deliveries, len(self.ids)
            raw = sum(n for mid, n in self.ids.items() if mid in wanted)
            distinct = sum(1 for mid in self.ids if mid in wanted)
            return raw, distinct

    def duplicates(self, wanted: set[str]) -> dict[str, int]:
        with self.lock:
            return {mid: n for mid, n in self.ids.items() if mid in wanted and n > 1}


class CountingSink:
    def __init__(self, mail_delay: float = 0.0, host: str = "127.0.0.1") -> None:
        self.handler = CountingHandler(mail_delay)
        self.host = host
        with socket.socket() as sock:
            sock.bind((host, 0))
            self.port = int(sock.getsockname()[1])
        self.controller = Controller(self.handler, hostname=host, port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
