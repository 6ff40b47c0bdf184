"""A stand-in EHR on loopback for the FHIR client's tests: a real HTTP server (GET, POST,
PUT) that hands each request to the test's handler and records it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


Answer = tuple[int, Any, dict[str, str]]
"""Status, a JSON body (or None, or bytes) and extra headers."""


@dataclass
class StandIn:
    port: int = 0
    seen: list[Seen] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


@contextmanager
def serve(handle: Callable[[Seen], Answer]) -> Iterator[StandIn]:
    stand_in = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_PUT(self) -> None:
            self._answer("PUT")

        def _answer(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            query: dict[str, list[str]] = {}
            for key, value in parse_qsl(parts.query, keep_blank_values=True):
                query.setdefault(key, []).append(value)
            seen = Seen(method, parts.path, query, {k.lower(): v for k, v in self.headers.items()},
                        raw)
            stand_in.seen.append(seen)
            status, body, headers = handle(seen)
            data = body if isinstance(body, bytes) else \
                b"" if body is None else json.dumps(body).encode()
            try:
                self.send_response(status)
                content = {"Content-Type": "application/fhir+json"} if data else {}
                for name, value in {**content, **headers,
                                    "Content-Length": str(len(data))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stand_in.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()


def bundle(resources: list[dict[str, Any]], next_url: str | None = None,
           included: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    entries = [{"resource": r, "search": {"mode": "match"}} for r in resources]
    entries += [{"resource": r, "search": {"mode": "include"}} for r in included or []]
    links = [{"relation": "next", "url": next_url}] if next_url else []
    return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}


def outcome(diagnostics: str, code: str = "processing") -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]}
