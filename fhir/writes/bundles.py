"""transaction and batch Bundles (POST /fhir).

A transaction is all or nothing: entries are processed in FHIR's order (DELETE, POST,
PUT, GET), creates in the order their references need (a Goal before the CarePlan that
lists it), `urn:uuid:` full URLs become the ids this server assigns, and conditional
references (`Patient?identifier=...`) are resolved first. The first entry that fails
fails the whole Bundle, and the OperationOutcome names it (`Bundle.entry[2].resource...`).
A batch runs each entry on its own: one failing leaves the others written."""

from __future__ import annotations

import datetime as dt
import email.utils
import uuid
from typing import Any

from domain.actor import Actor
from domain.errors import DomainError, Forbidden, NotFound, StaleVersion
from fhir.store.repository import Stored
from fhir.writes import engine
from fhir.writes.conditional import matches
from fhir.writes.errors import BadResource, FhirError, NotSupported, PreconditionFailed
from service.db.uow import UnitOfWork

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            410: "Gone", 412: "Precondition Failed", 422: "Unprocessable Entity"}


class EntryFailed(FhirError):
    """An entry's failure, named by its place in the Bundle."""

    def __init__(self, status: int, code: str, detail: str, expression: str) -> None:
        super().__init__(detail, expression)
        self.status, self.code = status, code


def _status_of(exc: Exception) -> tuple[int, str, str, str | None]:
    if isinstance(exc, FhirError):
        return exc.status, exc.code, exc.detail, exc.expression
    if isinstance(exc, NotFound):
        return 404, "not-found", exc.detail, None
    if isinstance(exc, Forbidden):
        return 403, "forbidden", exc.detail, None
    if isinstance(exc, StaleVersion):
        return 412, "conflict", exc.detail, "meta.versionId"
    assert isinstance(exc, DomainError)
    return 422, "processing", exc.detail, exc.field


def _prefixed(index: int, expression: str | None, resource_type: str | None) -> str:
    prefix = f"Bundle.entry[{index}]"
    if expression is None:
        return prefix
    if expression.startswith("request."):
        return f"{prefix}.{expression}"
    if resource_type and expression.startswith(resource_type):
        return f"{prefix}.resource{expression[len(resource_type):]}"
    return f"{prefix}.resource.{expression}"


def _failure(index: int, exc: Exception, resource_type: str | None) -> EntryFailed:
    status, code, detail, expression = _status_of(exc)
    return EntryFailed(status, code, detail, _prefixed(index, expression, resource_type))


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite(v, ids) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in ids:
            out["reference"] = ids[ref]
        return out
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    return value


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        for key, item in value.items():
            if key != "reference" or isinstance(item, dict):  # activity.reference is one
                found += _references(item)
        return found
    if isinstance(value, list):
        return [r for item in value for r in _references(item)]
    return []


class _Entry:
    def __init__(self, index: int, raw: Any) -> None:
        if not isinstance(raw, dict):
            raise BadResource("an entry must be an object", f"Bundle.entry[{index}]")
        request = raw.get("request")
        if not isinstance(request, dict) or request.get("method") not in _ORDER \
                or not isinstance(request.get("url"), str):
            raise BadResource("each entry needs request.method (GET, POST, PUT, DELETE) and "
                              "request.url", f"Bundle.entry[{index}].request")
        self.index = index
        self.method: str = request["method"]
        self.url: str = request["url"].strip().lstrip("/")
        self.if_match: str | None = request.get("ifMatch")
        self.if_none_exist: str | None = request.get("ifNoneExist")
        self.full_url: str | None = raw.get("fullUrl")
        self.resource: Any = raw.get("resource")
        self.resource_type: str | None = (
            self.resource.get("resourceType") if isinstance(self.resource, dict) else None)
        self.new_id: str | None = None
        self.response: dict[str, Any] | None = None


def _response(stored: Stored | None, status: int, base: str) -> dict[str, Any]:
    response: dict[str, Any] = {"status": f"{status} {_REASONS.get(status, '')}".strip()}
    if stored is not None:
        response["location"] = (f"{base}/{stored.resource_type}/{stored.id}/_history/"
                                f"{stored.version_id}")
        response["etag"] = f'W/"{stored.version_id}"'
        response["lastModified"] = email.utils.format_datetime(stored.last_updated,
                                                               usegmt=True)
    return response


def _etag_version(value: str | None) -> int | None:
    if value is None:
        return None
    digits = value.strip().removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise PreconditionFailed(f"ifMatch {value!r} is not a version", "request.ifMatch")
    return int(digits)


async def _run(
    uow: UnitOfWork, actor: Actor, entry: _Entry, now: dt.datetime, base: str
) -> dict[str, Any]:
    path = entry.url.split("?")[0].split("/")
    if entry.method == "POST":
        if entry.resource_type is None or path != [entry.resource_type]:
            raise BadResource(f"POST to {entry.url!r} must carry a {path[0]}", "request.url")
        if entry.if_none_exist:
            found = await matches(uow, actor, path[0], entry.if_none_exist, base)
            if len(found) > 1:
                raise PreconditionFailed(f"ifNoneExist matches {len(found)} resources",
                                         "request.ifNoneExist")
            if found:
                return {"response": _response(found[0], 200, base)}
        result = await engine.create(uow, actor, entry.resource, now, base,
                                     resource_type=path[0], new_id=entry.new_id)
        return {"resource": result.stored.resource,
                "response": _response(result.stored, 201, base)}
    if entry.method == "PUT":
        if len(path) != 2:
            raise NotSupported("PUT needs request.url Type/id", "request.url")
        result = await engine.update(uow, actor, path[0], path[1], entry.resource,
                                     _etag_version(entry.if_match), now, base)
        return {"resource": result.stored.resource,
                "response": _response(result.stored, 200, base)}
    if entry.method == "DELETE":
        if len(path) != 2:
            raise NotSupported("DELETE needs request.url Type/id", "request.url")
        gone = await engine.delete(uow, actor, path[0], path[1], now)
        return {"response": {"status": "204 No Content" if gone is None else "200 OK"}}
    if entry.method in ("GET", "HEAD") and len(path) == 2:
        stored = await uow.store.current(actor.clinic_id, path[0], path[1])
        if stored is None or stored.deleted:
            raise NotFound(f"{path[0]}/{path[1]}")
        from fhir.api.scopes import require

        require(actor, path[0], "r")
        return {"resource": stored.resource, "response": _response(stored, 200, base)}
    raise NotSupported(f"{entry.method} {entry.url} is not supported in a Bundle",
                       "request.url")


def _entries(bundle: Any) -> tuple[str, list[_Entry]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadResource("POST /fhir takes a Bundle", "resourceType")
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise BadResource("a Bundle posted here is a transaction or a batch", "Bundle.type")
    raw = bundle.get("entry") or []
    if not isinstance(raw, list):
        raise BadResource("entry must be a list", "Bundle.entry")
    return str(kind), [_Entry(index, item) for index, item in enumerate(raw)]


async def _resolve_conditional(
    uow: UnitOfWork, actor: Actor, entries: list[_Entry], base: str
) -> dict[str, str]:
    """Conditional references (`Patient?identifier=s|v`) -> the one resource they name."""
    resolved: dict[str, str] = {}
    for entry in entries:
        for ref in _references(entry.resource):
            if "?" not in ref or ref in resolved or ref.startswith(("urn:", "#")):
                continue
            kind, _, query = ref.partition("?")
            found = await matches(uow, actor, kind, query, base)
            if len(found) != 1:
                raise EntryFailed(
                    412 if found else 422, "processing",
                    f"the conditional reference {ref!r} matches {len(found)} resources; "
                    "it must match exactly one", f"Bundle.entry[{entry.index}].resource")
            resolved[ref] = f"{kind}/{found[0].id}"
    return resolved


def _creation_order(posts: list[_Entry]) -> list[_Entry]:
    """Creates whose resources others in the Bundle reference go first."""
    by_url = {f"{e.resource_type}/{e.new_id}": e for e in posts if e.new_id}
    ordered: list[_Entry] = []
    seen: set[int] = set()

    def visit(entry: _Entry, trail: set[int]) -> None:
        if entry.index in seen or entry.index in trail:
            return
        trail.add(entry.index)
        for ref in _references(entry.resource):
            if ref in by_url:
                visit(by_url[ref], trail)
        seen.add(entry.index)
        ordered.append(entry)

    for entry in posts:
        visit(entry, set())
    return ordered


async def transaction(
    uow: UnitOfWork, actor: Actor, bundle: Any, now: dt.datetime, base: str
) -> dict[str, Any]:
    kind, entries = _entries(bundle)
    if kind == "batch":
        return await _batch(uow, actor, entries, now, base)
    ids: dict[str, str] = {}
    for entry in entries:
        if entry.method == "POST" and entry.resource_type:
            entry.new_id = str(uuid.uuid4())
            if entry.full_url:
                ids[entry.full_url] = f"{entry.resource_type}/{entry.new_id}"
    ids.update(await _resolve_conditional(uow, actor, entries, base))
    for entry in entries:
        entry.resource = _rewrite(entry.resource, ids)
    by_method = sorted(entries, key=lambda e: (_ORDER[e.method], e.index))
    posts = [e for e in by_method if e.method == "POST"]
    ordered = [e for e in by_method if e.method == "DELETE"] + _creation_order(posts) + \
        [e for e in by_method if e.method not in ("DELETE", "POST")]
    for entry in ordered:
        try:
            entry.response = await _run(uow, actor, entry, now, base)
        except (FhirError, DomainError) as exc:
            raise _failure(entry.index, exc, entry.resource_type) from None
    for entry in entries:  # a later entry may have changed an earlier one (a plan's team)
        await _settle(uow, actor, entry, base)
    return _response_bundle("transaction-response", entries, ids, base)


async def _settle(uow: UnitOfWork, actor: Actor, entry: _Entry, base: str) -> None:
    """The entry's response as the transaction leaves the resource."""
    resource = (entry.response or {}).get("resource")
    if entry.method not in ("POST", "PUT") or not isinstance(resource, dict):
        return
    stored = await uow.store.current(actor.clinic_id, resource["resourceType"], resource["id"])
    if stored is not None and entry.response is not None:
        status = entry.response["response"]["status"]
        entry.response = {"resource": stored.resource,
                          "response": _response(stored, int(status.split()[0]), base)}


async def _batch(
    uow: UnitOfWork, actor: Actor, entries: list[_Entry], now: dt.datetime, base: str
) -> dict[str, Any]:
    for entry in entries:
        try:
            async with uow.savepoint():
                entry.response = await _run(uow, actor, entry, now, base)
        except (FhirError, DomainError) as exc:
            failed = _failure(entry.index, exc, entry.resource_type)
            entry.response = {"response": {
                "status": f"{failed.status} {_REASONS.get(failed.status, '')}".strip(),
                "outcome": {"resourceType": "OperationOutcome", "issue": [{
                    "severity": "error", "code": failed.code, "diagnostics": failed.detail,
                    "expression": [failed.expression]}]},
            }}
    return _response_bundle("batch-response", entries, {}, base)


def _response_bundle(
    kind: str, entries: list[_Entry], ids: dict[str, str], base: str
) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for entry in entries:
        response = dict(entry.response or {"response": {"status": "200 OK"}})
        resource = response.get("resource")
        if isinstance(resource, dict):
            response = {"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
                        **response}
        out.append(response)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": kind}
    if out:
        bundle["entry"] = out
    return bundle

