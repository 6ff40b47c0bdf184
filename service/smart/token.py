"""POST /auth/token: the client credentials grant with a JWT client assertion.

The answer is a bearer token like a staff member's (an api_tokens row, hashed), held by
the client's staff row, carrying the granted scopes and expiring in five minutes. Errors
are RFC 6749 §5.2 JSON, all with status 400: the client authenticates in the body, not
with an Authorization header, so there is no challenge to answer with a 401.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State

from domain.scopes import grant, parse_system_scopes, render
from service.db.repos.staff import TokenRecord
from service.db.uow import UnitOfWork
from service.smart.assertion import TokenRequestError, verify
from service.smart.clients import AssertionLedger, SmartClientRepository
from service.smart.keys import key_sets
from service.usecases.staff import new_secret

TOKEN_PATH = "/auth/token"  # noqa: S105 - a path, not a password
TOKEN_LIFETIME = dt.timedelta(minutes=5)
GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def token_url(public_base_url: str) -> str:
    """The `aud` every assertion must carry."""
    return f"{public_base_url.rstrip('/')}{TOKEN_PATH}"


class TokenResponse(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class TokenErrorBody(msgspec.Struct, kw_only=True):
    error: str
    error_description: str


def _error(_: Request[Any, Any, Any], exc: TokenRequestError) -> Response[TokenErrorBody]:
    return Response(
        TokenErrorBody(error=exc.error, error_description=exc.description),
        status_code=400,
        media_type="application/json",
        headers=_NO_STORE,
    )


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        raise TokenRequestError("invalid_request", f"the request body must be {FORM}")
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise TokenRequestError("invalid_request", "the form body is not valid") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise TokenRequestError("invalid_request", f"{name} is given more than once")
        form[name] = value
    return form


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise TokenRequestError("invalid_request", f"{name} is required")
    return value


@post(
    TOKEN_PATH,
    status_code=200,
    exception_handlers={TokenRequestError: _error},
    tags=["smart"],
    summary="SMART Backend Services token (client_credentials, private_key_jwt)",
)
async def issue_token(
    request: Request[Any, Any, Any], state: State, uow: UnitOfWork, now: dt.datetime
) -> Response[TokenResponse]:
    form = await _form(request)
    grant_type = _required(form, "grant_type")
    if grant_type != GRANT_TYPE:
        raise TokenRequestError("unsupported_grant_type", f"grant_type must be {GRANT_TYPE}")
    assertion_type = _required(form, "client_assertion_type")
    assertion = _required(form, "client_assertion")
    requested = _required(form, "scope")
    if assertion_type != ASSERTION_TYPE:
        raise TokenRequestError("invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}")
    verified = await verify(
        assertion,
        clients=SmartClientRepository(uow.conn),
        key_sets=key_sets,
        token_url=token_url(state.settings.public_base_url),
        now=now,
        client_id=form.get("client_id") or None,
    )
    client = verified.client
    granted = grant(requested, parse_system_scopes(client.scopes))
    if not granted:
        raise TokenRequestError(
            "invalid_scope",
            f"none of the requested scopes is granted to this client; it may ask for "
            f"{client.scopes}",
        )
    staff = await uow.staff.get(client.clinic_id, client.staff_id)
    if not staff.active:
        raise TokenRequestError("invalid_client", "no active client with this client_id")
    ledger = AssertionLedger(uow.conn)
    await ledger.forget_expired(client.client_id, now - dt.timedelta(minutes=1))
    if not await ledger.claim(client.client_id, verified.jti, verified.expires_at):
        raise TokenRequestError("invalid_client", "this assertion (jti) has been used already")
    scope = render(granted)
    secret = new_secret()
    await uow.tokens.add(
        TokenRecord(
            id=uuid.uuid4(),
            clinic_id=client.clinic_id,
            staff_id=staff.id,
            role=staff.role,
            label=f"SMART {client.client_id}",
            expires_at=now + TOKEN_LIFETIME,
            scopes=scope,
        ),
        secret,
    )
    body = TokenResponse(
        access_token=secret,
        token_type="bearer",  # noqa: S106 - the OAuth token type, not a secret
        expires_in=int(TOKEN_LIFETIME.total_seconds()),
        scope=scope,
    )
    return Response(body, status_code=200, headers=_NO_STORE)
