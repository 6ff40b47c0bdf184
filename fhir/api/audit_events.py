"""AuditEvent read and search over the audit trail, for coordinators and admins.

Reading the trail is not itself written to the trail: each such read would add to what
the next one reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State

from domain.actor import Actor
from fhir.api.http import FHIR_JSON
from fhir.api.http import outcome as _outcome
from fhir.api.scopes import require
from fhir.api.searchset import ERRORS, links, strict
from fhir.mapping.audit import audit_event
from fhir.search.query import encode_cursor
from fhir.store.audit_events import AuditEventReader, parse
from service.db.uow import UnitOfWork


async def _search(
    pairs: list[tuple[str, str]], request: Request[Any, Any, Any], state: State,
    uow: UnitOfWork, actor: Actor, now: dt.datetime,
) -> Response[Any]:
    require(actor, "AuditEvent", "s")
    actor.require_plan_manager()
    wanted = parse(pairs, strict=strict(request), now=now)
    page = await AuditEventReader(uow.conn).search(actor.clinic_id, wanted)
    base = f"{state.settings.public_base_url}/fhir"
    following = encode_cursor([page.items[-1].id]) if page.more else None
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "type": "searchset", "timestamp": now.isoformat(),
        "total": page.total,
        "link": links(base, "AuditEvent", wanted.applied, wanted.cursor, following),
    }
    if page.items:
        bundle["entry"] = [
            {"fullUrl": f"{base}/AuditEvent/{row.id}", "resource": audit_event(row),
             "search": {"mode": "match"}}
            for row in page.items
        ]
    return Response(bundle, media_type=FHIR_JSON)


@get("/AuditEvent", media_type=FHIR_JSON, exception_handlers=ERRORS)
async def search_audit_events(
    request: Request[Any, Any, Any], state: State, uow: UnitOfWork, actor: Actor,
    now: dt.datetime,
) -> Response[Any]:
    return await _search(list(request.query_params.multi_items()), request, state, uow, actor,
                         now)


@post("/AuditEvent/_search", media_type=FHIR_JSON, status_code=200, exception_handlers=ERRORS)
async def search_audit_events_post(
    request: Request[Any, Any, Any], state: State, uow: UnitOfWork, actor: Actor,
    now: dt.datetime,
) -> Response[Any]:
    form = await request.form()
    pairs = list(request.query_params.multi_items())
    pairs += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return await _search(pairs, request, state, uow, actor, now)


@get("/AuditEvent/{event_id:str}", media_type=FHIR_JSON)
async def read_audit_event(event_id: str, uow: UnitOfWork, actor: Actor) -> Response[Any]:
    require(actor, "AuditEvent", "r")
    actor.require_plan_manager()
    row = None
    if event_id.isdigit() and len(event_id) < 19:
        row = await AuditEventReader(uow.conn).get(actor.clinic_id, int(event_id))
    if row is None:
        return _outcome(404, "not-found", f"AuditEvent/{event_id} is not known")
    return Response(audit_event(row), media_type=FHIR_JSON)


HANDLERS = [search_audit_events, search_audit_events_post, read_audit_event]
