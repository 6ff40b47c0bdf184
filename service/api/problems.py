"""RFC 9457 problem details: one table from typed errors to statuses, the offending field
named, nothing from the request echoed back, nothing that leaks another clinic's data."""

from __future__ import annotations

import traceback
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from domain.errors import DomainError, Forbidden, IllegalTransition, Invalid, NotFound, StaleVersion
from domain.template import StigmatizingLanguage

log = structlog.get_logger("concord.api")
PROBLEM = "application/problem+json"


class FieldError(msgspec.Struct):
    field: str
    reason: str


class Problem(msgspec.Struct, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = None


class PreconditionRequired(Exception):
    """An update came without If-Match."""


class PreconditionFailed(Exception):
    """If-Match named no version of ours."""


class IdempotencyMismatch(Exception):
    """An Idempotency-Key was reused with a different request."""


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(
    request: Request[Any, Any, Any],
    status: int,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    slug = _TITLES.get(status, "Error").lower().replace(" ", "-")
    body = Problem(
        type=f"https://concord.invalid/problems/{slug}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        errors=errors,
        request_id=request.scope.get("state", {}).get("request_id"),
    )
    return Response(body, status_code=status, media_type=PROBLEM, headers=headers)


def _domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    errors = [FieldError(exc.field, exc.detail)] if exc.field else None
    if isinstance(exc, NotFound):
        return problem(request, 404, exc.detail)
    if isinstance(exc, Forbidden):
        return problem(request, 403, exc.detail)
    if isinstance(exc, StaleVersion):
        return problem(
            request,
            412,
            exc.detail,
            [FieldError("If-Match", "stale version; read the resource again")],
        )
    if isinstance(exc, IllegalTransition):
        return problem(request, 409, exc.detail, errors)
    if isinstance(exc, StigmatizingLanguage):
        field = exc.field or "body"
        return problem(request, 422, f"{field}: {exc.detail}", [
            FieldError(field, f'"{f.matched}" (at {f.position}) is stigmatizing language; '
                              f'say "{f.suggestion}" instead') for f in exc.findings])
    if isinstance(exc, Invalid):
        return problem(request, 422, f"{exc.field}: {exc.detail}", errors)
    return problem(request, 422, exc.detail, errors)


def _field_of(item: dict[str, Any]) -> str:
    """Litestar names the field in `key` (dotted for nested ones); for a missing or unknown
    field msgspec names it in backticks and `key` is just `data`."""
    key = str(item.get("key") or "")
    message = str(item.get("message", ""))
    if key in ("", "data") and message.count("`") >= 2:
        return message.split("`")[1]
    return key or "body"


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    errors = [
        FieldError(_field_of(item), str(item.get("message", "invalid")))
        for item in exc.extra or []
        if isinstance(item, dict)
    ]
    if not errors:
        errors.append(FieldError("body", "the request body is not valid JSON for this resource"))
    detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
    in_body = any(
        isinstance(i, dict) and str(i.get("source", "body")).endswith("body")
        for i in exc.extra or []
    )
    return problem(request, 422 if in_body else 400, detail, errors)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="concord"')
        return problem(request, 401, "a valid bearer token is required", headers=headers)
    if isinstance(exc, NotFoundException):
        return problem(request, 404, "not found")
    if isinstance(exc, MethodNotAllowedException):
        return problem(request, 405, "method not allowed here", headers=headers)
    if isinstance(exc, ValidationException):
        return _validation(request, exc)
    status = exc.status_code if 400 <= exc.status_code < 600 else 500
    if status == 400 and "JSON" in str(exc.detail).upper():
        return problem(
            request,
            400,
            "the request body is not valid JSON",
            [FieldError("body", "malformed JSON")],
        )
    detail = exc.detail if status < 500 else None
    return problem(request, status, detail, headers=headers)


def _precondition(request: Request[Any, Any, Any], exc: PreconditionRequired) -> Response[Problem]:
    return problem(request, 428, str(exc), [FieldError("If-Match", str(exc))])


def _precondition_failed(
    request: Request[Any, Any, Any], exc: PreconditionFailed
) -> Response[Problem]:
    return problem(request, 412, str(exc), [FieldError("If-Match", str(exc))])


def _idempotency(request: Request[Any, Any, Any], exc: IdempotencyMismatch) -> Response[Problem]:
    return problem(request, 422, str(exc), [FieldError("Idempotency-Key", str(exc))])


def _integrity(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[Problem]:
    # The constraint's message may quote values (PHI): log its name only, answer generically.
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
    log.warning("integrity_error", constraint=constraint)
    return problem(request, 409, "the change conflicts with the current state; read and retry")


def _data(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[Problem]:
    # The database refused a value the validation let through (a NUL byte, an overlong
    # string): the client's input, so a 422, and the value itself is never echoed or logged.
    log.warning("data_error", error=type(exc.orig).__name__ if exc.orig else "DataError")
    return problem(request, 422, "a value in the request cannot be stored",
                   [FieldError("body", "a value contains a character or length not accepted")])


def _database(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[Problem]:
    # SQLSTATE class 22 is "data exception": the value, not the database, is at fault.
    if str(getattr(exc.orig, "sqlstate", "") or "").startswith("22"):
        return _data(request, exc)
    log.error("database_error", error=type(exc.orig).__name__ if exc.orig else type(exc).__name__)
    return problem(
        request, 503, "the database is unavailable; retry shortly", headers={"Retry-After": "5"}
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    # Exception messages can quote data; the type and the frames are enough to find it.
    frames = [
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}"
        for f in traceback.extract_tb(exc.__traceback__)[-8:]
    ]
    log.error("unhandled_error", error=type(exc).__name__, frames=frames)
    return problem(request, 500, "an unexpected error occurred; it has been logged")


exception_handlers: dict[type[Exception] | int, Any] = {
    DomainError: _domain,
    ValidationException: _validation,
    HTTPException: _http,
    PreconditionRequired: _precondition,
    PreconditionFailed: _precondition_failed,
    IdempotencyMismatch: _idempotency,
    IntegrityError: _integrity,
    DataError: _data,
    DBAPIError: _database,
    Exception: _unexpected,
}
