"""An async FHIR R4 client for a clinic's EHR, authenticating as a SMART Backend Services
client (https://hl7.org/fhir/smart-app-launch/backend-services.html).

Concord signs a short-lived client assertion with the connection's private key
(RS384 or ES384, `kid` in the header, a fresh `jti`), trades it at the EHR's token
endpoint for an access token with `client_credentials`, keeps the token until shortly
before it expires, and asks once more when the EHR answers 401 (the EHR may have revoked
or rotated it). Reads, paged searches (following `next` links on the same server only, so
the token never leaves it), creates and version-aware updates (`If-Match: W/"n"`)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import msgspec

FHIR_JSON = "application/fhir+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = {"RSA": "RS384", "EC": "ES384"}
"""The signing algorithms SMART Backend Services asks servers to support, by key type."""
ASSERTION_LIFETIME = dt.timedelta(minutes=5)
TOKEN_MARGIN = 30.0
"""Seconds before its expiry at which a cached token is no longer used."""
MAX_PAGES = 1000


class FhirError(Exception):
    """The EHR refused a request; `status` is its HTTP status, `diagnostics` what its
    OperationOutcome said (never the request's content)."""

    def __init__(self, message: str, *, status: int | None = None,
                 diagnostics: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.diagnostics = diagnostics


class FhirUnavailable(FhirError):
    """The EHR could not be reached, timed out or answered 5xx: try again later."""


class AuthenticationFailed(FhirError):
    """The token endpoint refused the client, or the EHR refused a fresh token."""


class PreconditionFailed(FhirError):
    """412: the resource changed on the EHR since the version named in If-Match."""


class NotFoundOnServer(FhirError):
    """404 or 410: no such resource on the EHR (any more)."""


class Credentials(msgspec.Struct, kw_only=True, frozen=True):
    token_url: str
    client_id: str
    private_key: dict[str, Any]
    """The private JWK (RSA of at least 2048 bits, or EC P-384), with its `kid`."""
    scopes: str


class _Token(msgspec.Struct, kw_only=True):
    value: str
    expires_at: float
    """time.monotonic() after which the token is not to be used."""


class TokenCache:
    """Access tokens by (token endpoint, client, scopes), for as long as they last: one
    per worker process, so that a job running every few minutes does not sign a new
    assertion each time."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], _Token] = {}

    def get(self, credentials: Credentials) -> str | None:
        token = self._tokens.get(_key(credentials))
        if token is None or token.expires_at <= time.monotonic():
            return None
        return token.value

    def put(self, credentials: Credentials, value: str, expires_in: float) -> None:
        expires_at = time.monotonic() + max(expires_in - TOKEN_MARGIN, 0.0)
        self._tokens[_key(credentials)] = _Token(value=value, expires_at=expires_at)

    def forget(self, credentials: Credentials) -> None:
        self._tokens.pop(_key(credentials), None)


def _key(credentials: Credentials) -> tuple[str, str, str]:
    return (credentials.token_url, credentials.client_id, credentials.scopes)


def signing_key(jwk: Mapping[str, Any]) -> tuple[jwt.PyJWK, str]:
    """The private key of a JWK and the algorithm it signs with; ValueError says why a
    JWK cannot be used."""
    kty = jwk.get("kty")
    algorithm = ALGORITHMS.get(str(kty))
    if algorithm is None:
        raise ValueError("the key must be an RSA or EC key (kty RSA or EC)")
    if jwk.get("alg") not in (None, algorithm):
        raise ValueError(f"an {kty} key signs with {algorithm} here, not {jwk.get('alg')}")
    if kty == "EC" and jwk.get("crv") != "P-384":
        raise ValueError("an EC key must be on the P-384 curve (ES384)")
    if not jwk.get("d"):
        raise ValueError("the key has no private part (`d`)")
    if not isinstance(jwk.get("kid"), str) or not jwk["kid"].strip():
        raise ValueError("the key needs a `kid`, which the EHR finds the public key by")
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=algorithm)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise ValueError("the key is not a valid JWK") from exc
    if kty == "RSA" and getattr(key.key, "key_size", 0) < 2048:
        raise ValueError("an RSA key must have at least 2048 bits")
    return key, algorithm


def public_jwk(jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The JWK without its private members: what the EHR registers for this client."""
    private = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
    return {k: v for k, v in jwk.items() if k not in private}


def client_assertion(credentials: Credentials, now: dt.datetime | None = None) -> str:
    key, algorithm = signing_key(credentials.private_key)
    issued = now or dt.datetime.now(dt.UTC)
    claims = {
        "iss": credentials.client_id,
        "sub": credentials.client_id,
        "aud": credentials.token_url,
        "exp": int((issued + ASSERTION_LIFETIME).timestamp()),
        "iat": int(issued.timestamp()),
        "jti": str(uuid.uuid4()),
    }
    headers = {"kid": credentials.private_key["kid"], "typ": "JWT"}
    return jwt.encode(claims, key.key, algorithm=algorithm, headers=headers)


def escape_search_value(value: str) -> str:
    """A token's parts as FHIR search escapes them (`\\`, `|`, `,` and `$`)."""
    for char in ("\\", "|", ",", "$"):
        value = value.replace(char, "\\" + char)
    return value


def _diagnostics(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    issues = body.get("issue") if body.get("resourceType") == "OperationOutcome" else None
    if isinstance(issues, list):
        texts = [str(i.get("diagnostics") or i.get("code") or "") for i in issues
                 if isinstance(i, dict)]
        return "; ".join(t for t in texts if t) or None
    error = body.get("error")
    return str(error) if error else None


class FhirClient:
    """One EHR's FHIR endpoint. Pass `http` to share a connection pool (and in tests);
    otherwise the client owns one, closed by `aclose` or `async with`."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        tokens: TokenCache | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None
        self._tokens = tokens or TokenCache()

    async def __aenter__(self) -> FhirClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # -- authentication -------------------------------------------------------------

    async def _token(self, *, fresh: bool = False) -> str | None:
        credentials = self.credentials
        if credentials is None:
            return None
        if not fresh:
            cached = self._tokens.get(credentials)
            if cached is not None:
                return cached
        form = {
            "grant_type": "client_credentials",
            "scope": credentials.scopes,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(credentials),
        }
        try:
            response = await self._http.post(
                credentials.token_url, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise FhirUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise FhirUnavailable(f"token endpoint answered {response.status_code}",
                                  status=response.status_code)
        if response.status_code != 200:
            raise AuthenticationFailed(
                f"token endpoint refused the client ({response.status_code})",
                status=response.status_code, diagnostics=_diagnostics(response))
        try:
            body = response.json()
            value = str(body["access_token"])
            expires_in = float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthenticationFailed("token endpoint answered without an access token",
                                       status=200) from exc
        self._tokens.put(credentials, value, expires_in)
        return value

    async def _send(self, method: str, url: str, *, params: Any = None,
                    json: Any = None, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """Send with the current token; on 401 fetch a new one and send once more."""
        for attempt in (1, 2):
            token = await self._token(fresh=attempt == 2)
            sent = {"Accept": FHIR_JSON, **(headers or {})}
            if token is not None:
                sent["Authorization"] = f"Bearer {token}"
            if json is not None:
                sent["Content-Type"] = FHIR_JSON
            try:
                response = await self._http.request(
                    method, url, params=params, json=json, headers=sent)
            except httpx.HTTPError as exc:
                raise FhirUnavailable(f"{method} failed: {type(exc).__name__}") from exc
            if response.status_code == 401 and attempt == 1 and self.credentials is not None:
                self._tokens.forget(self.credentials)
                continue
            return self._checked(method, response)
        raise AssertionError("unreachable")

    def _checked(self, method: str, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status < 400:
            return response
        diagnostics = _diagnostics(response)
        message = f"{method} answered {status}"
        if status >= 500 or status == 429:
            raise FhirUnavailable(message, status=status, diagnostics=diagnostics)
        if status in (401, 403):
            raise AuthenticationFailed(message, status=status, diagnostics=diagnostics)
        if status == 412:
            raise PreconditionFailed(message, status=status, diagnostics=diagnostics)
        if status in (404, 410):
            raise NotFoundOnServer(message, status=status, diagnostics=diagnostics)
        raise FhirError(message, status=status, diagnostics=diagnostics)

    # -- the FHIR interactions ------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def searchable(self, resource_types: tuple[str, ...]) -> tuple[str, ...]:
        """Those of `resource_types` the server's CapabilityStatement says it searches
        (all of them if it does not say)."""
        try:
            statement = _resource(await self._send("GET", self.url("metadata")))
        except (FhirUnavailable, AuthenticationFailed):
            raise
        except FhirError:
            return resource_types
        servers = [r for r in statement.get("rest") or []
                   if isinstance(r, dict) and r.get("mode", "server") == "server"]
        if not servers:
            return resource_types
        searched = {
            str(r.get("type")) for s in servers for r in s.get("resource") or []
            if isinstance(r, dict) and any(
                isinstance(i, dict) and i.get("code") == "search-type"
                for i in r.get("interaction") or [])
        }
        return tuple(t for t in resource_types if t in searched)

    async def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        response = await self._send("GET", self.url(f"{resource_type}/{resource_id}"))
        return _with_version(_resource(response), response)

    async def search(
        self, resource_type: str, params: Mapping[str, str] | list[tuple[str, str]],
    ) -> AsyncIterator[dict[str, Any]]:
        """Every matching resource (search mode `match`; included ones are left out),
        page after page. A `next` link to another server is refused: the token is only
        ever sent to this EHR."""
        url: str | None = self.url(resource_type)
        query: Any = params
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = await self._send("GET", url, params=query)
            bundle = _resource(response)
            if bundle.get("resourceType") != "Bundle":
                raise FhirError(f"search answered a {bundle.get('resourceType')}, not a Bundle")
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                mode = (entry.get("search") or {}).get("mode", "match")
                if isinstance(resource, dict) and mode == "match" \
                        and resource.get("resourceType") == resource_type:
                    yield resource
            url, query = self._next(bundle), None
        raise FhirError(f"search of {resource_type} went on for more than {MAX_PAGES} pages")

    def _next(self, bundle: dict[str, Any]) -> str | None:
        for link in bundle.get("link") or []:
            if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
                url = str(link["url"])
                if not _same_origin(url, self.base_url):
                    raise FhirError("a search page links to another server")
                return url
        return None

    async def create(self, resource: dict[str, Any], *,
                     if_none_exist: str | None = None) -> dict[str, Any]:
        """POST; `if_none_exist` makes it a conditional create (a query such as
        `identifier=system|value`): the EHR then answers with the match it already has."""
        headers = {"Prefer": "return=representation"}
        if if_none_exist is not None:
            headers["If-None-Exist"] = if_none_exist
        response = await self._send("POST", self.url(resource["resourceType"]), json=resource,
                                    headers=headers)
        return await self._written(resource["resourceType"], response)

    async def update(self, resource: dict[str, Any], *,
                     version: str | None) -> dict[str, Any]:
        """PUT the resource; with `version`, only if the EHR's current version is still it
        (If-Match), else PreconditionFailed."""
        headers = {"Prefer": "return=representation"}
        if version is not None:
            headers["If-Match"] = f'W/"{version}"'
        response = await self._send(
            "PUT", self.url(f"{resource['resourceType']}/{resource['id']}"), json=resource,
            headers=headers)
        return await self._written(resource["resourceType"], response)

    async def _written(self, resource_type: str, response: httpx.Response) -> dict[str, Any]:
        """What the EHR now holds: the body it returned, else a read of its Location."""
        if response.content:
            body = _resource(response)
            if body.get("resourceType") == resource_type:
                return _with_version(body, response)
        location = response.headers.get("location") or response.headers.get("content-location")
        if not location:
            raise FhirError(f"a write of {resource_type} answered with neither the resource "
                            "nor its Location")
        parts = urlsplit(location).path.rstrip("/").split("/")
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        return await self.read(resource_type, parts[-1])


def _resource(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise FhirError(f"the EHR answered {response.status_code} without JSON") from exc
    if not isinstance(body, dict):
        raise FhirError("the EHR answered JSON that is not a resource")
    return body


def _with_version(resource: dict[str, Any], response: httpx.Response) -> dict[str, Any]:
    """Make sure meta.versionId is there: some servers only say it in the ETag."""
    found = resource.get("meta")
    meta: dict[str, Any] = found if isinstance(found, dict) else {}
    if meta.get("versionId"):
        return resource
    etag = response.headers.get("etag", "")
    version = etag.removeprefix("W/").strip('"')
    if version:
        resource["meta"] = {**meta, "versionId": version}
    return resource


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)
