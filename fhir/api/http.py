"""What every FHIR handler shares: reading a client's body, the headers of a stored
resource, and OperationOutcome for every failure."""

from __future__ import annotations

import email.utils
import re
from typing import Any

import msgspec
from litestar import Request, Response

from fhir.store.repository import Stored
from fhir.writes.errors import BadResource, FhirError, PreconditionFailed, UnsupportedMediaType

FHIR_JSON = "application/fhir+json"
_ACCEPTED = ("application/fhir+json", "application/json", "application/json+fhir")
_ETAG = re.compile(r'^\s*(?:W/)?"(\d+)"\s*$')


def outcome(
    status: int, code: str, diagnostics: str, expression: str | None = None,
    severity: str = "error",
) -> Response[dict[str, Any]]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return Response({"resourceType": "OperationOutcome", "issue": [issue]},
                    status_code=status, media_type=FHIR_JSON)


def fhir_error(_: Request[Any, Any, Any], exc: FhirError) -> Response[dict[str, Any]]:
    return outcome(exc.status, exc.code, exc.detail, exc.expression)


async def body_of(request: Request[Any, Any, Any]) -> Any:
    """The request's JSON body: 415 for another media type, 400 for broken JSON."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _ACCEPTED:
        raise UnsupportedMediaType(
            f"send {FHIR_JSON} (got {media or 'no Content-Type'})")
    raw = await request.body()
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadResource(f"the body is not JSON: {exc}") from None


def if_match(request: Request[Any, Any, Any]) -> int | None:
    """The version in If-Match (W/"n"); a value that is not one of our ETags: 412."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    found = _ETAG.match(raw)
    if found is None:
        raise PreconditionFailed(f"If-Match {raw!r} is not a version of this resource",
                                 "meta.versionId")
    return int(found.group(1))


def headers_of(stored: Stored, base: str) -> dict[str, str]:
    return {
        "ETag": f'W/"{stored.version_id}"',
        "Last-Modified": email.utils.format_datetime(stored.last_updated, usegmt=True),
        "Location": f"{base}/{stored.resource_type}/{stored.id}/_history/{stored.version_id}",
    }


def written(
    request: Request[Any, Any, Any], stored: Stored, status: int, base: str
) -> Response[Any]:
    """A write's response, as the client's Prefer header asks (representation default)."""
    prefer = request.headers.get("prefer", "")
    headers = headers_of(stored, base)
    if "return=minimal" in prefer:
        return Response(b"", status_code=status, headers=headers, media_type=FHIR_JSON)
    if "return=OperationOutcome" in prefer:
        body: dict[str, Any] = {"resourceType": "OperationOutcome", "issue": [{
            "severity": "information", "code": "informational",
            "diagnostics": f"{stored.resource_type}/{stored.id} is at version "
                           f"{stored.version_id}"}]}
        return Response(body, status_code=status, headers=headers, media_type=FHIR_JSON)
    return Response(stored.resource, status_code=status, headers=headers,
                    media_type=FHIR_JSON)
