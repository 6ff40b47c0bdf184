"""Request ids and the access log."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("concord.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Take the caller's X-Request-ID when it is sane, else make one; echo it back, put it
    on every log line of the request, and write one access line without query or body."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await app(scope, receive, send_with_id)
        finally:
            route = scope.get("path_template") or _route_of(scope)
            state = scope.get("state", {})
            log.info(
                "request",
                method=scope.get("method"),
                route=route,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                clinic_id=state.get("clinic_id"),
                staff_id=state.get("staff_id"),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    return middleware


def _route_of(scope: Scope) -> str:
    handler = scope.get("route_handler")
    paths = getattr(handler, "paths", None)
    return sorted(paths)[0] if paths else "unmatched"
