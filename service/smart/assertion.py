"""Verify a client's authentication JWT (RFC 7523 client assertion, as SMART Backend
Services profiles it): which client it is, signed by that client's key, meant for this
token endpoint, short-lived and used once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
import msgspec

from service.smart.clients import SmartClient, SmartClientRepository
from service.smart.keys import ALGORITHMS, KeySetCache, KeySetUnavailable, find_key

MAX_ASSERTION_LENGTH = 16_384
MAX_LIFETIME = dt.timedelta(minutes=5)
CLOCK_SKEW = dt.timedelta(seconds=60)
"""Allowed between the client's clock and ours, on iat, nbf and the 5-minute bound on exp.
An assertion past its exp gets no leeway: it was built to have expired by then."""


class TokenRequestError(Exception):
    """An RFC 6749 §5.2 error answer: `error` is its code, `description` says why."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _client_error(description: str) -> TokenRequestError:
    return TokenRequestError("invalid_client", description)


class VerifiedAssertion(msgspec.Struct, kw_only=True, frozen=True):
    client: SmartClient
    jti: str
    expires_at: dt.datetime


async def verify(
    assertion: str,
    *,
    clients: SmartClientRepository,
    key_sets: KeySetCache,
    token_url: str,
    now: dt.datetime,
    client_id: str | None = None,
) -> VerifiedAssertion:
    """The client and the assertion's id once every check passes; TokenRequestError
    (invalid_client) naming the first that fails. Nothing is written: the caller claims
    the jti once it has decided to issue a token."""
    if len(assertion) > MAX_ASSERTION_LENGTH:
        raise _client_error("client_assertion is too long")
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise _client_error("client_assertion is not a signed JWT") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise _client_error(
            f"alg {algorithm!r} is not accepted; sign with one of {', '.join(ALGORITHMS)}"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _client_error("the JWT header needs the kid of the signing key")
    if str(header.get("typ", "JWT")).upper() != "JWT":
        raise _client_error("the JWT header's typ must be JWT")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _client_error("iss must be the client_id")
    if client_id is not None and client_id != issuer:
        raise _client_error("client_id does not match the assertion's iss")
    client = await clients.by_client_id(issuer)
    if client is None or not client.active:
        raise _client_error("no active client with this client_id")
    key = await _signing_key(client, header, kid, algorithm, key_sets)
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key,
            algorithms=[algorithm],
            audience=token_url,
            issuer=client.client_id,
            options={
                "require": ["iss", "sub", "aud", "exp", "jti"],
                "verify_iat": False,  # checked below, with the skew allowance
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise _client_error(f"the signature does not verify with the key {kid!r}") from None
    except jwt.ExpiredSignatureError:
        raise _client_error("the assertion has expired (exp)") from None
    except jwt.InvalidAudienceError:
        raise _client_error(f"aud must be this server's token endpoint, {token_url}") from None
    except jwt.InvalidIssuerError:
        raise _client_error("iss must be the client_id") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _client_error(f"the assertion has no {exc.claim} claim") from None
    except jwt.InvalidTokenError as exc:
        raise _client_error(f"the assertion is not valid ({type(exc).__name__})") from None
    if claims["sub"] != client.client_id:
        raise _client_error("sub must be the client_id")
    expires_at = _instant(claims["exp"], "exp")
    if expires_at > now + MAX_LIFETIME + CLOCK_SKEW:
        raise _client_error("exp is more than five minutes ahead")
    for name in ("iat", "nbf"):
        if name in claims and _instant(claims[name], name) > now + CLOCK_SKEW:
            raise _client_error(f"{name} is in the future")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 1 <= len(jti) <= 255:
        raise _client_error("jti must be a string of 1 to 255 characters")
    return VerifiedAssertion(client=client, jti=jti, expires_at=expires_at)


async def _signing_key(
    client: SmartClient, header: dict[str, Any], kid: str, algorithm: str, key_sets: KeySetCache
) -> Any:
    jku = header.get("jku")
    if jku is not None and jku != client.jwks_url:
        # Keys are fetched only from the URL the clinic registered, never from a URL the
        # assertion itself names.
        raise _client_error("jku is not this client's registered JWKS URL")
    if client.jwks is not None:
        key = find_key(client.jwks, kid, algorithm)
    elif client.jwks_url is not None:
        try:
            key = find_key(await key_sets.get(client.jwks_url), kid, algorithm)
            if key is None:
                key = find_key(await key_sets.get(client.jwks_url, refresh=True), kid, algorithm)
        except KeySetUnavailable as exc:
            raise _client_error(str(exc)) from None
    else:
        key = None
    if key is None:
        raise _client_error(f"the client's JWKS has no {algorithm} key with kid {kid!r}")
    return key


def _instant(value: Any, name: str) -> dt.datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _client_error(f"{name} must be a NumericDate (seconds since the epoch)")
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise _client_error(f"{name} is out of range") from None
