"""create, update, delete and conditional create on /fhir/{type}."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, delete, post, put
from litestar.datastructures import State

from domain.actor import Actor
from fhir.api.http import FHIR_JSON, body_of, if_match, outcome, written
from fhir.writes import bundles, engine
from fhir.writes.conditional import matches
from fhir.writes.errors import PreconditionFailed
from service.db.uow import UnitOfWork


def base_of(state: State) -> str:
    return f"{state.settings.public_base_url}/fhir"


@post("/{resource_type:str}", media_type=FHIR_JSON, status_code=201)
async def create_resource(
    resource_type: str, request: Request[Any, Any, Any], state: State, uow: UnitOfWork,
    actor: Actor, now: dt.datetime,
) -> Response[Any]:
    body = await body_of(request)
    base = base_of(state)
    condition = request.headers.get("if-none-exist")
    if condition:
        found = await matches(uow, actor, resource_type, condition, base)
        if len(found) > 1:
            raise PreconditionFailed(
                f"If-None-Exist {condition!r} matches {len(found)} resources", "If-None-Exist")
        if found:
            return written(request, found[0], 200, base)
    result = await engine.create(uow, actor, body, now, base, resource_type=resource_type)
    return written(request, result.stored, 201, base)


@put("/{resource_type:str}/{resource_id:str}", media_type=FHIR_JSON)
async def update_resource(
    resource_type: str, resource_id: str, request: Request[Any, Any, Any], state: State,
    uow: UnitOfWork, actor: Actor, now: dt.datetime,
) -> Response[Any]:
    body = await body_of(request)
    expected = if_match(request)
    if expected is None:
        return outcome(428, "business-rule",
                       'updates are version-aware: send If-Match: W/"<versionId>" of your '
                       "last read", "If-Match")
    result = await engine.update(uow, actor, resource_type, resource_id, body, expected, now,
                                 base_of(state))
    return written(request, result.stored, 200, base_of(state))


@delete("/{resource_type:str}/{resource_id:str}", media_type=FHIR_JSON, status_code=200)
async def delete_resource(
    resource_type: str, resource_id: str, uow: UnitOfWork, actor: Actor, now: dt.datetime,
) -> Response[Any]:
    gone = await engine.delete(uow, actor, resource_type, resource_id, now)
    if gone is None:
        return Response(None, status_code=204)
    return outcome(200, "informational", f"{resource_type}/{resource_id} deleted",
                   severity="information")


@post("/", media_type=FHIR_JSON, status_code=200)
async def transaction_or_batch(
    request: Request[Any, Any, Any], state: State, uow: UnitOfWork, actor: Actor,
    now: dt.datetime,
) -> dict[str, Any]:
    """A transaction Bundle (all or nothing) or a batch Bundle (each entry alone)."""
    return await bundles.transaction(uow, actor, await body_of(request), now, base_of(state))


HANDLERS = [create_resource, update_resource, delete_resource, transaction_or_batch]
