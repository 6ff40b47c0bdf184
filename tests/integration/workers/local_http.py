"""What the channel tests share: a real HTTP server on loopback that hands each request to
the test's fake (a Twilio, a webhook receiver), and outbound messages to send through it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import pytest

from domain.message import Channel, DeliveryFailed, Message

Answer = tuple[int, bytes, dict[str, str]]
"""Status, body and extra headers of the server's reply."""


@contextmanager
def serve(handle: Callable[[str, str, Any, bytes], Answer]) -> Iterator[int]:
    """Serve `handle(method, path, headers, raw body)` on a free port; yields the port."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._answer("POST")

        def do_GET(self) -> None:
            self._answer("GET")

        def _answer(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body, headers = handle(method, self.path, self.headers, raw)
            try:
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def outbound(channel: Channel, recipient: str, body: str, **changes: Any) -> Message:
    """A check-in message to send, as the outbox would hand it to a channel."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(), "clinic_id": uuid.uuid4(), "patient_id": uuid.uuid4(),
        "kind": "check-in", "channel": channel, "recipient": recipient, "body_text": body,
        "idempotency_key": f"check-in:{uuid.uuid4().hex[:10]}",
    }
    values.update(changes)
    return Message(**values)


class Sender(Protocol):
    async def send(self, message: Message) -> str: ...


async def failure_of(channel: Sender, message: Message) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        await channel.send(message)
    return caught.value
