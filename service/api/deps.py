"""What every handler is given: its unit of work (one transaction), the acting staff
member, the clock; and the HTTP conventions around versions and idempotency."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException

from domain.actor import Actor
from domain.errors import Forbidden, Invalid
from domain.scopes import parse_granted
from domain.vocab import Role
from service.api.problems import IdempotencyMismatch, PreconditionFailed, PreconditionRequired
from service.db.uow import RequestContext, UnitOfWork

T = TypeVar("T")
_BEARER = re.compile(r"^Bearer ([A-Za-z0-9_\-]{10,200})$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_encoder = msgspec.json.Encoder()
SYSTEM_TOKEN_PATHS = ("/fhir/",)
"""Where a SMART system's token is accepted; everywhere else it is refused (fail closed)."""


async def provide_uow(
    state: State, request: Request[Any, Any, Any]
) -> AsyncGenerator[UnitOfWork, None]:
    """Begin the request's transaction; commit once the handler has returned (the audit
    trail goes with it), roll back if anything raised."""
    context = RequestContext(
        request_id=request.scope["state"].get("request_id"),
        client_address=request.client.host if request.client else None,
    )
    async with state.engine.begin() as conn:
        uow = UnitOfWork(conn, context)
        yield uow
        await uow.flush()


async def provide_actor(request: Request[Any, Any, Any], uow: UnitOfWork) -> Actor:
    match = _BEARER.match(request.headers.get("authorization", ""))
    if match is None:
        raise NotAuthorizedException()
    found = await uow.tokens.authenticate(match.group(1))
    if found is None:
        raise NotAuthorizedException()
    request.scope["state"]["clinic_id"] = str(found.clinic_id)
    request.scope["state"]["staff_id"] = str(found.staff_id)
    scopes = None if found.scopes is None else parse_granted(found.scopes)
    path = request.url.path
    if scopes is not None and path != "/fhir" and not path.startswith(SYSTEM_TOKEN_PATHS):
        raise Forbidden(
            "this token was issued to a system for the FHIR API (/fhir); "
            "the internal API is for clinic staff"
        )
    return Actor(
        clinic_id=found.clinic_id,
        staff_id=found.staff_id,
        role=Role(found.role),
        discipline=found.discipline,
        scopes=scopes,
    )


def provide_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def etag(version: int) -> str:
    return f'W/"{version}"'


def expected_version(request: Request[Any, Any, Any]) -> int:
    """The version the client last read, from If-Match: missing is 428; a value that is
    not one of our ETags cannot match anything, which is 412."""
    raw = request.headers.get("if-match")
    if raw is None or not raw.strip():
        raise PreconditionRequired("this update needs If-Match with the ETag of your last read")
    value = raw.strip()
    value = value.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise PreconditionFailed('If-Match must be an ETag this server returned, e.g. W/"3"')
    return int(value)


def with_etag(
    body: T, version: int, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[T]:
    return Response(
        body, status_code=status_code, headers={"ETag": etag(version), **(headers or {})}
    )


async def idempotent(
    request: Request[Any, Any, Any],
    uow: UnitOfWork,
    actor: Actor,
    create: Callable[[], Awaitable[Response[Any]]],
) -> Response[Any]:
    """Run `create` once per Idempotency-Key; a repeat returns the first response."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return await create()
    if not _IDEMPOTENCY_KEY.match(key):
        raise Invalid("Idempotency-Key", "1 to 255 printable ASCII characters")
    body = await request.body()
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).digest()
    stored = await uow.idempotency.claim(actor.clinic_id, actor.staff_id, key, digest)
    if stored is not None:
        if stored.request_hash != digest:
            raise IdempotencyMismatch(
                "this Idempotency-Key was used for a different request; use a new key"
            )
        return Response(
            stored.body,
            status_code=stored.status_code,
            media_type="application/json",
            headers={**stored.headers, "Idempotent-Replayed": "true"},
        )
    response = await create()
    encoded = _encoder.encode(response.content)
    headers = {k: v for k, v in response.headers.items() if k.lower() in ("etag", "location")}
    await uow.idempotency.complete(
        actor.clinic_id, actor.staff_id, key, response.status_code or 200, encoded, headers
    )
    return response


def page_limit(limit: int | None, maximum: int = 100) -> int:
    if limit is None:
        return 50
    if not 1 <= limit <= maximum:
        raise Invalid("limit", f"between 1 and {maximum}")
    return limit
