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
from domain.message import MessageStatus
from fhir.api.capability import capability_statement
from fhir.mapping import care_plan as mapping
from fhir.mapping import communication as communication_mapping
from fhir.mapping import medication as medication_mapping
from fhir.mapping import opioids as opioid_mapping
from fhir.mapping import people
from service.db.uow import UnitOfWork
from service.usecases import care_plans, medications, opioids, patients

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


@get("/Patient/{patient_id:uuid}", media_type=FHIR_JSON)
async def read_patient(
    patient_id: uuid.UUID, uow: UnitOfWork, actor: Actor
) -> Response[dict[str, Any]]:
    return _resource(people.patient(await patients.get(uow, actor, patient_id)))


@get("/Practitioner/{staff_id:uuid}", media_type=FHIR_JSON)
async def read_practitioner(
    staff_id: uuid.UUID, uow: UnitOfWork, actor: Actor
) -> Response[dict[str, Any]]:
    return _resource(people.practitioner(await uow.staff.get(actor.clinic_id, staff_id)))


@get("/CareTeam/{plan_id:uuid}", media_type=FHIR_JSON)
async def read_care_team(
    plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor
) -> Response[dict[str, Any]]:
    return _resource(people.care_team(await care_plans.get(uow, actor, plan_id)))


@get("/Goal/{goal_id:uuid}", media_type=FHIR_JSON)
async def read_goal(goal_id: uuid.UUID, uow: UnitOfWork, actor: Actor) -> Response[dict[str, Any]]:
    plan_id = await uow.care_plans.plan_of_goal(actor.clinic_id, goal_id)
    if plan_id is None:
        raise NotFound("Goal")
    plan, goal = await care_plans.get_goal(uow, actor, plan_id, goal_id)
    return _resource(mapping.goal(goal, plan))


@get("/MedicationStatement/{statement_id:uuid}", media_type=FHIR_JSON)
async def read_medication_statement(
    statement_id: uuid.UUID, uow: UnitOfWork, actor: Actor
) -> Response[dict[str, Any]]:
    plan_id = await uow.care_plans.plan_of_medication(actor.clinic_id, statement_id)
    if plan_id is None:
        raise NotFound("MedicationStatement")
    statement = await medications.get(uow, actor, plan_id, statement_id)
    return _resource(medication_mapping.medication_statement(statement))


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


@get("/Communication/{communication_id:uuid}", media_type=FHIR_JSON)
async def read_communication(
    communication_id: uuid.UUID, uow: UnitOfWork, actor: Actor
) -> Response[dict[str, Any]]:
    message = await uow.messages.get(actor.clinic_id, communication_id)
    await patients.get(uow, actor, message.patient_id)  # who may see the patient
    uow.audit(actor, "read", "Communication", message.id, message.patient_id)
    return _resource(communication_mapping.communication(message))


@get("/Communication", media_type=FHIR_JSON)
async def search_communications(
    state: State, uow: UnitOfWork, actor: Actor, now: dt.datetime,
    subject: str | None = None, patient: str | None = None,
) -> Response[dict[str, Any]]:
    """Search by `subject=Patient/{id}` (or `patient=`): the patient's sent messages."""
    value = (subject or patient or "").strip().removeprefix("Patient/")
    try:
        patient_id = uuid.UUID(value)
    except ValueError:
        return _outcome(400, "required", "search Communication by subject=Patient/{id}",
                        "subject")
    base = f"{state.settings.public_base_url}/fhir"
    found: list[dict[str, Any]] = []
    try:
        await patients.get(uow, actor, patient_id)
    except NotFound:
        pass
    else:
        page = await uow.messages.find(actor.clinic_id, limit=100, cursor=None,
                                       status=MessageStatus.SENT, patient_id=patient_id)
        for summary in page.items:
            message = await uow.messages.get(actor.clinic_id, summary.id)
            found.append(communication_mapping.communication(message))
            uow.audit(actor, "search", "Communication", message.id, patient_id)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "type": "searchset", "timestamp": now.isoformat(),
        "total": len(found),
        "link": [{"relation": "self", "url": f"{base}/Communication?"
                  + urlencode({"subject": f"Patient/{patient_id}"})}],
    }
    if found:
        bundle["entry"] = [{"fullUrl": f"{base}/Communication/{c['id']}", "resource": c,
                            "search": {"mode": "match"}} for c in found]
    return _computed(bundle)


HANDLERS = [
    metadata,
    read_observation,
    read_detected_issue,
    search_detected_issues,
]
