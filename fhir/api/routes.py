"""FHIR R4 endpoints: application/fhir+json, OperationOutcome errors, the same unit of
work, actor and audit trail as the internal API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException

from domain.actor import Actor
from domain.errors import DomainError, Forbidden, NotFound, StaleVersion
from fhir.api.capability import capability_statement
from fhir.api.http import FHIR_JSON
from fhir.api.http import outcome as _outcome
from fhir.mapping import opioids as opioid_mapping
from service.db.uow import UnitOfWork
from service.usecases import opioids


def _domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    if isinstance(exc, NotFound):
        return _outcome(404, "not-found", exc.detail)
    if isinstance(exc, Forbidden):
        return _outcome(403, "forbidden", exc.detail)
    if isinstance(exc, StaleVersion):
        return _outcome(412, "conflict", exc.detail, "meta.versionId")
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


def _computed(body: dict[str, Any]) -> Response[dict[str, Any]]:
    """A resource computed from the plan on this read: no version, so no ETag."""
    return Response(body, media_type=FHIR_JSON)


@get("/Observation/{observation_id:str}", media_type=FHIR_JSON)
async def read_observation(
    observation_id: str, uow: UnitOfWork, actor: Actor, now: dt.datetime
) -> Response[dict[str, Any]]:
    """Only the plan's total MME/day, `mme-{plan_id}`, is an Observation here."""
    plan_id = opioid_mapping.plan_of_observation(observation_id)
    if plan_id is None:
        raise NotFound("Observation")
    plan, safety = await opioids.safety(uow, actor, plan_id, now.date())
    return _computed(opioid_mapping.mme_observation(plan, safety, now))


@get("/DetectedIssue/{issue_id:str}", media_type=FHIR_JSON)
async def read_detected_issue(
    issue_id: str, uow: UnitOfWork, actor: Actor, now: dt.datetime
) -> Response[dict[str, Any]]:
    plan_id = opioid_mapping.plan_of_detected_issue(issue_id)
    if plan_id is None:
        raise NotFound("DetectedIssue")
    plan, safety = await opioids.safety(uow, actor, plan_id, now.date())
    for issue in opioid_mapping.detected_issues(plan, safety, now.date()):
        if issue["id"] == issue_id:
            return _computed(issue)
    raise NotFound("DetectedIssue")


def _implicated_plan(value: str, base: str) -> uuid.UUID | None:
    """`CarePlan/{id}`, or the same as an absolute URL on this server; None when the
    value names anything else, which no DetectedIssue here implicates."""
    reference = value.strip().removeprefix(f"{base}/")
    kind, _, ident = reference.partition("/")
    if kind != "CarePlan":
        return None
    try:
        return uuid.UUID(ident)
    except ValueError:
        return None


@get("/DetectedIssue", media_type=FHIR_JSON)
async def search_detected_issues(
    state: State, uow: UnitOfWork, actor: Actor, now: dt.datetime, implicated: str | None = None
) -> Response[dict[str, Any]]:
    """Search by `implicated=CarePlan/{id}` only. A plan the actor may not see (another
    clinic's, or a team they are not on) matches nothing, as an unknown one does."""
    if implicated is None or not implicated.strip():
        return _outcome(
            400, "required", "search DetectedIssue by implicated=CarePlan/{id}", "implicated"
        )
    base = f"{state.settings.public_base_url}/fhir"
    issues: list[dict[str, Any]] = []
    plan_id = _implicated_plan(implicated, base)
    if plan_id is not None:
        try:
            plan, safety = await opioids.safety(uow, actor, plan_id, now.date())
        except NotFound:
            pass
        else:
            issues = opioid_mapping.detected_issues(plan, safety, now.date())
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": now.isoformat(),
        "total": len(issues),
        "link": [
            {
                "relation": "self",
                "url": f"{base}/DetectedIssue?{urlencode({'implicated': implicated.strip()})}",
            }
        ],
    }
    if issues:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {
                "fullUrl": f"{base}/DetectedIssue/{issue['id']}",
                "resource": issue,
                "search": {"mode": "match"},
            }
            for issue in issues
        ]
    return _computed(bundle)


HANDLERS = [
    metadata,
    read_observation,
    read_detected_issue,
    search_detected_issues,
]
