"""FHIR R4 endpoints: application/fhir+json, OperationOutcome errors, the same unit of
work, actor and audit trail as the internal API."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, Router, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException

from domain.actor import Actor
from domain.errors import DomainError, Forbidden, NotFound
from fhir.api.capability import capability_statement
from fhir.mapping import care_plan as mapping
from service.db.uow import UnitOfWork
from service.usecases import care_plans

FHIR_JSON = "application/fhir+json"


def _outcome(
    status: int, code: str, diagnostics: str, expression: str | None = None
) -> Response[dict[str, Any]]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return Response(
        {"resourceType": "OperationOutcome", "issue": [issue]},
        status_code=status,
        media_type=FHIR_JSON,
    )


def _domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    if isinstance(exc, NotFound):
        return _outcome(404, "not-found", exc.detail)
    if isinstance(exc, Forbidden):
        return _outcome(403, "forbidden", exc.detail)
    return _outcome(422, "processing", exc.detail, exc.field)


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(exc, NotAuthorizedException):
        response = _outcome(401, "login", "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="concord"'
        return response
    code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "invalid")
    return _outcome(exc.status_code, code, str(exc.detail))


@get("/metadata", media_type=FHIR_JSON, sync_to_thread=False)
def metadata(state: State) -> dict[str, Any]:
    cached: dict[str, Any] | None = state.get("capability_statement")
    if cached is None:
        cached = validated(capability_statement(f"{state.settings.public_base_url}/fhir"))
        state.capability_statement = cached
    return cached


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """Check a resource we wrote ourselves against fhir.resources' R4B models (once, at
    first use: validation costs a millisecond we do not pay on every read)."""
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def _resource(body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(
        body, media_type=FHIR_JSON, headers={"ETag": f'W/"{body["meta"]["versionId"]}"'}
    )


@get("/CarePlan/{plan_id:uuid}", media_type=FHIR_JSON)
async def read_care_plan(
    plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor
) -> Response[dict[str, Any]]:
    plan = await care_plans.get(uow, actor, plan_id)
    return _resource(mapping.care_plan(plan))


@get("/Goal/{goal_id:uuid}", media_type=FHIR_JSON)
async def read_goal(goal_id: uuid.UUID, uow: UnitOfWork, actor: Actor) -> Response[dict[str, Any]]:
    plan_id = await uow.care_plans.plan_of_goal(actor.clinic_id, goal_id)
    if plan_id is None:
        raise NotFound("Goal")
    plan, goal = await care_plans.get_goal(uow, actor, plan_id, goal_id)
    return _resource(mapping.goal(goal, plan))


fhir_router = Router(
    path="/fhir",
    route_handlers=[metadata, read_care_plan, read_goal],
    exception_handlers={DomainError: _domain_error, HTTPException: _http_error},
    tags=["fhir"],
)
