"""Clients' public keys: what a registration may hold, where a key set is fetched from,
and which key verifies a given assertion.

Only RS384 and ES384 are accepted (SMART's token_endpoint_auth_signing_alg_values). The
algorithm decides the key type, never the other way round: an assertion claiming RS384
is checked only against an RSA key, ES384 only against an EC P-384 key, and a symmetric
algorithm never gets a key at all (the HS384-with-the-public-key-as-secret confusion).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa

from domain.errors import Invalid
from service.net import is_loopback

ALGORITHMS = ("RS384", "ES384")
_KEY_TYPE = {"RS384": "RSA", "ES384": "EC"}
_CURVE = {"ES384": "P-384"}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MAX_KEYS = 10
MIN_RSA_BITS = 2048


def algorithm_for(key: dict[str, Any]) -> str | None:
    """The one algorithm a JWK may sign with here, or None when it can sign with neither."""
    kty = key.get("kty")
    if kty == "RSA":
        return "RS384"
    if kty == "EC" and key.get("crv") == "P-384":
        return "ES384"
    return None


def _public_key(key: dict[str, Any], algorithm: str) -> Any:
    """The cryptography public key of `key` for `algorithm`; ValueError when it is none."""
    if key.get("kty") != _KEY_TYPE[algorithm]:
        raise ValueError(f"{algorithm} needs an {_KEY_TYPE[algorithm]} key")
    if algorithm in _CURVE and key.get("crv") != _CURVE[algorithm]:
        raise ValueError(f"{algorithm} needs a key on the {_CURVE[algorithm]} curve")
    if key.get("alg") not in (None, algorithm):
        raise ValueError("the key is registered for another algorithm")
    if key.get("use") not in (None, "sig"):
        raise ValueError("the key is not a signing key")
    if any(member in key for member in _PRIVATE_MEMBERS):
        raise ValueError("a private or symmetric key")
    try:
        public = jwt.PyJWK(key, algorithm=algorithm).key
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise ValueError("not a valid public key") from exc
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < MIN_RSA_BITS:
        raise ValueError(f"an RSA key of {public.key_size} bits; at least {MIN_RSA_BITS}")
    return public


def check_jwks(jwks: Any) -> dict[str, Any]:
    """A JWKS given at registration: every key a public RSA or EC P-384 signing key with
    a distinct `kid`. Invalid names the key at fault."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise Invalid("jwks", 'a JSON Web Key Set: {"keys": [...]}')
    keys: list[Any] = jwks["keys"]
    if not 1 <= len(keys) <= MAX_KEYS:
        raise Invalid("jwks.keys", f"between 1 and {MAX_KEYS} keys")
    kids: set[str] = set()
    for index, key in enumerate(keys):
        where = f"jwks.keys[{index}]"
        if not isinstance(key, dict):
            raise Invalid(where, "a JSON Web Key object")
        if any(member in key for member in _PRIVATE_MEMBERS):
            raise Invalid(
                where, "this is a private (or symmetric) key; register the public key only"
            )
        kid = key.get("kid")
        if not isinstance(kid, str) or not 1 <= len(kid) <= 200:
            raise Invalid(f"{where}.kid", "required: assertions name their key by kid")
        if kid in kids:
            raise Invalid(f"{where}.kid", f"kid {kid!r} appears twice")
        kids.add(kid)
        algorithm = algorithm_for(key)
        if algorithm is None:
            raise Invalid(
                f"{where}.kty", "an RSA key (for RS384) or an EC key on P-384 (for ES384)"
            )
        try:
            _public_key(key, algorithm)
        except ValueError as exc:
            raise Invalid(where, str(exc)) from None
    return {"keys": keys}


def check_jwks_url(url: str) -> str:
    """A key set URL: https, or http to this machine only (a key server beside a test or a
    development EHR). The client's keys are fetched from here, and from nowhere else."""
    if len(url) > 500:
        raise Invalid("jwks_url", "at most 500 characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise Invalid("jwks_url", "not a URL") from None
    if not host or parts.username or parts.password:
        raise Invalid("jwks_url", "an https URL with a host and no credentials")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and is_loopback(host):
        return url
    raise Invalid("jwks_url", "must be https (http only to localhost)")



def find_key(jwks: dict[str, Any], kid: str, algorithm: str) -> Any | None:
    """The public key with `kid` that can verify `algorithm`, or None. A key set may hold
    keys for other uses; those are passed over, not refused."""
    keys = jwks.get("keys")
    if algorithm not in ALGORITHMS or not isinstance(keys, list):
        return None
    for key in keys:
        if isinstance(key, dict) and key.get("kid") == kid:
            try:
                return _public_key(key, algorithm)
            except ValueError:
                continue
    return None


class KeySetUnavailable(Exception):
    """The client's JWKS URL did not answer with a key set."""


class KeySetCache:
    """Key sets fetched from clients' URLs, kept for a few minutes so that a busy client
    does not cost a fetch per token. An unknown kid may refresh the set (the client has
    rotated its keys), at most once per `refresh_after` seconds. Per process: any other
    process fetches its own copy, which is what a cache may do."""

    def __init__(self, ttl: float = 300.0, refresh_after: float = 1.0) -> None:
        self.ttl = ttl
        self.refresh_after = refresh_after
        self._sets: dict[str, tuple[float, dict[str, Any]]] = {}

    def clear(self) -> None:
        self._sets.clear()

    async def get(self, url: str, *, refresh: bool = False) -> dict[str, Any]:
        now = time.monotonic()
        cached = self._sets.get(url)
        if cached is not None:
            age = now - cached[0]
            if age < self.ttl and not (refresh and age >= self.refresh_after):
                return cached[1]
        jwks = await fetch_key_set(url)
        if len(self._sets) > 1000:
            self._sets.clear()
        self._sets[url] = (now, jwks)
        return jwks


MAX_KEY_SET_BYTES = 256 * 1024


FETCH_TIMEOUT = httpx.Timeout(5.0)


async def fetch_key_set(url: str) -> dict[str, Any]:
    try:
        async with (
            httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise KeySetUnavailable(f"the JWKS URL answered {response.status_code}")
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_KEY_SET_BYTES:
                    raise KeySetUnavailable("the JWKS URL answered with too large a document")
    except httpx.HTTPError as exc:
        raise KeySetUnavailable(
            f"the JWKS URL could not be fetched ({type(exc).__name__})"
        ) from None
    try:
        jwks = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise KeySetUnavailable("the JWKS URL did not answer with JSON") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise KeySetUnavailable('the JWKS URL did not answer with {"keys": [...]}')
    return jwks


key_sets = KeySetCache()
