"""A FHIR CarePlan written through the plan's use cases: its subject, title, period and
Concord's extensions; the team from the CareTeam it references; the Goals it references;
activities sent inline (`activity.detail`, as many EHRs do) or as ServiceRequests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from domain.activity import Activity, Frequency
from domain.actor import Actor
from domain.care_plan import CarePlan, PlanPatch
from domain.errors import IllegalTransition, Invalid
from domain.vocab import ActivityKind, ActivityStatus, PlanStatus
from fhir.inbound.common import date_of, extension_values, fhir_path, reference_id, text_of
from fhir.mapping import extensions as ext
from fhir.mapping.service_request import STATUS as SR_STATUS
from fhir.writes import domain_goal
from fhir.writes.validation import local_reference
from service.db.uow import UnitOfWork
from service.usecases import care_plans

PATHS = {
    "title": "CarePlan.title",
    "status": "CarePlan.status",
    "period_start": "CarePlan.period.start",
    "period_end": "CarePlan.period.end",
    "what_matters": "CarePlan.extension",
    "health_concerns": "CarePlan.extension",
    "staff_id": "CarePlan.careTeam",
    "lead": "CarePlan.careTeam",
}
_SR_TO_ACTIVITY = {
    "draft": ActivityStatus.NOT_STARTED, "active": ActivityStatus.IN_PROGRESS,
    "on-hold": ActivityStatus.ON_HOLD, "completed": ActivityStatus.COMPLETED,
    "revoked": ActivityStatus.CANCELLED, "entered-in-error": ActivityStatus.ENTERED_IN_ERROR,
    "unknown": ActivityStatus.UNKNOWN,
}
assert set(SR_STATUS.values()) <= set(_SR_TO_ACTIVITY)


def _in_fhir_terms(exc: Invalid | IllegalTransition) -> Invalid:
    return Invalid(fhir_path("CarePlan", exc.field, PATHS) or "CarePlan", exc.detail)


def _fields(resource: dict[str, Any]) -> dict[str, Any]:
    period = resource.get("period") or {}
    matters = extension_values(resource, ext.WHAT_MATTERS)
    title = resource.get("title") or text_of({"text": resource.get("description")}) \
        or "Care plan"
    return {
        "title": str(title)[:300],
        "period_start": date_of(period.get("start"), "CarePlan.period.start"),
        "period_end": date_of(period.get("end"), "CarePlan.period.end"),
        "what_matters": str(matters[0].get("valueString")) if matters else None,
        "health_concerns": [str(e.get("valueString"))
                            for e in extension_values(resource, ext.HEALTH_CONCERN)],
    }


def _status(resource: dict[str, Any]) -> PlanStatus:
    try:
        return PlanStatus(str(resource.get("status")))
    except ValueError:
        raise Invalid("CarePlan.status",
                      f"Concord does not keep plans in status {resource.get('status')!r}") \
            from None


async def create(
    uow: UnitOfWork, actor: Actor, resource: dict[str, Any], now: dt.datetime, base: str
) -> None:
    patient_id = reference_id(resource.get("subject"), "Patient", "CarePlan.subject")
    plan = CarePlan(id=uuid.UUID(resource["id"]), clinic_id=actor.clinic_id,
                    patient_id=patient_id, **_fields(resource))
    target = _status(resource)
    try:
        await care_plans.create(uow, actor, plan, now)
        await _team(uow, actor, plan.id, resource, now, base)
        await _attach_goals(uow, actor, plan.id, resource, now, base)
        await _attach_activities(uow, actor, plan.id, resource, now, base, inline=True)
        if target is not PlanStatus.DRAFT:
            current = await uow.care_plans.get(actor.clinic_id, plan.id)
            await care_plans.transition(uow, actor, plan.id, target, current.version, now)
    except (Invalid, IllegalTransition) as exc:
        raise _in_fhir_terms(exc) from None
    uow.touched.originals[("CarePlan", resource["id"])] = resource


async def update(
    uow: UnitOfWork, actor: Actor, resource: dict[str, Any], now: dt.datetime, base: str
) -> None:
    plan_id = uuid.UUID(resource["id"])
    plan = await uow.care_plans.get(actor.clinic_id, plan_id)
    plan.require_visible(actor)
    subject = reference_id(resource.get("subject"), "Patient", "CarePlan.subject")
    if subject != plan.patient_id:
        raise Invalid("CarePlan.subject", "a plan's patient does not change")
    changed = {k: v for k, v in _fields(resource).items() if getattr(plan, k) != v}
    target = _status(resource)
    try:
        if changed:
            await care_plans.update(uow, actor, plan_id, PlanPatch(**changed), plan.version,
                                    now)
        await _attach_goals(uow, actor, plan_id, resource, now, base)
        await _attach_activities(uow, actor, plan_id, resource, now, base, inline=False)
        current = await uow.care_plans.get(actor.clinic_id, plan_id)
        if target is not current.status:
            await care_plans.transition(uow, actor, plan_id, target, current.version, now)
    except (Invalid, IllegalTransition) as exc:
        raise _in_fhir_terms(exc) from None
    uow.touched.plans.add(plan_id)
    uow.touched.originals[("CarePlan", resource["id"])] = resource


def _is_lead(participant: dict[str, Any]) -> bool:
    roles = participant.get("role") or []
    return any("lead" in (text_of(r) or "").lower() for r in roles)


async def _team(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, resource: dict[str, Any],
    now: dt.datetime, base: str,
) -> None:
    """The practitioners of the CareTeams the plan references join its team; the one
    whose role says lead (else the plan's author, else the first) leads it."""
    staff_ids: list[tuple[uuid.UUID, bool, str]] = []
    for index, ref in enumerate(resource.get("careTeam", [])):
        local = local_reference(str(ref.get("reference", "")), base)
        if local is None or local[0] != "CareTeam":
            continue
        team = await uow.store.current(actor.clinic_id, "CareTeam", local[1])
        if team is None:
            continue
        for p_index, participant in enumerate(team.resource.get("participant", [])):
            member = local_reference(str((participant.get("member") or {}).get("reference", "")),
                                     base)
            if member is None or member[0] != "Practitioner":
                continue
            path = f"CarePlan.careTeam[{index}]"
            try:
                staff_id = uuid.UUID(member[1])
            except ValueError:
                raise Invalid(path, f"Practitioner/{member[1]} is not on this clinic's staff") \
                    from None
            if staff_id not in {s for s, _, _ in staff_ids}:
                staff_ids.append((staff_id, _is_lead(participant),
                                  f"{path} -> CareTeam.participant[{p_index}]"))
    if not staff_ids:
        return
    lead = next((s for s, is_lead, _ in staff_ids if is_lead), None)
    author = local_reference(str((resource.get("author") or {}).get("reference", "")), base)
    if lead is None and author is not None and author[0] == "Practitioner":
        lead = next((s for s, _, _ in staff_ids if str(s) == author[1]), None)
    lead = lead or staff_ids[0][0]
    for staff_id, _, path in staff_ids:
        try:
            await care_plans.add_member(uow, actor, plan_id, staff_id, staff_id == lead, now)
        except Invalid as exc:
            raise Invalid(path, exc.detail) from None


async def _attach_goals(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, resource: dict[str, Any],
    now: dt.datetime, base: str,
) -> None:
    for index, ref in enumerate(resource.get("goal", [])):
        path = f"CarePlan.goal[{index}]"
        local = local_reference(str(ref.get("reference", "")), base)
        if local is None or local[0] != "Goal":
            continue
        stored = await uow.store.current(actor.clinic_id, "Goal", local[1])
        if stored is None or stored.deleted:
            raise Invalid(path, f"Goal/{local[1]} does not exist here")
        if stored.projection is not None:
            owner = await uow.care_plans.plan_of_goal(actor.clinic_id, uuid.UUID(stored.id))
            if owner != plan_id:
                raise Invalid(path, f"Goal/{stored.id} belongs to another care plan")
            continue
        plan = await uow.care_plans.get(actor.clinic_id, plan_id)
        await domain_goal.attach(uow, actor, plan, stored, now, path)


def _kind(concept: Any) -> ActivityKind:
    candidates = [text_of(concept) or ""]
    if isinstance(concept, dict):
        candidates += [str(c.get("code", "")) for c in concept.get("coding", [])]
    for candidate in candidates:
        try:
            return ActivityKind(candidate.strip().lower())
        except ValueError:
            continue
    return ActivityKind.OTHER


def _frequency(timing: Any) -> Frequency | None:
    repeat = (timing or {}).get("repeat") or {}
    if "frequency" not in repeat or repeat.get("periodUnit") not in ("h", "d", "wk", "mo"):
        return None
    return Frequency(count=int(repeat["frequency"]), period=int(repeat.get("period", 1)),
                     unit=str(repeat["periodUnit"]))


async def _discipline(
    uow: UnitOfWork, actor: Actor, plan: CarePlan, element: dict[str, Any], path: str
) -> str:
    owned = extension_values(element, ext.OWNING_DISCIPLINE)
    if owned:
        return str(owned[0].get("valueCode"))
    for performer in element.get("performer", []):
        ref = str(performer.get("reference", ""))
        if ref.startswith("Practitioner/"):
            member = next((m for m in plan.team if str(m.staff_id) == ref.split("/")[1]), None)
            if member is not None:
                return member.discipline
    performer_type = text_of(element.get("performerType"))
    if performer_type and performer_type in plan.disciplines:
        return performer_type
    if plan.lead is not None:
        return plan.lead.discipline
    raise Invalid(path, "an activity needs its owning discipline (extension "
                  f"{ext.OWNING_DISCIPLINE}, a performer on the team, or a team lead)")


def _goal_ids(plan: CarePlan, refs: list[Any], path: str) -> list[uuid.UUID]:
    ids = []
    for ref in refs:
        value = str((ref or {}).get("reference", "")).removeprefix("Goal/")
        goal = next((g for g in plan.goals if str(g.id) == value), None)
        if goal is None:
            raise Invalid(path, f"Goal/{value} is not a goal of this plan")
        ids.append(goal.id)
    return ids


async def _attach_activities(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, resource: dict[str, Any],
    now: dt.datetime, base: str, *, inline: bool,
) -> None:
    """Inline details become activities when the plan is created (on an update they
    cannot be told apart from the ones already there, and stay as written); a
    ServiceRequest kept in the store joins the plan the first time it is referenced."""
    for index, item in enumerate(resource.get("activity", [])):
        path = f"CarePlan.activity[{index}]"
        plan = await uow.care_plans.get(actor.clinic_id, plan_id)
        if "detail" in item and inline:
            detail = item["detail"]
            try:
                status = ActivityStatus(detail.get("status", "not-started"))
            except ValueError:
                raise Invalid(f"{path}.detail.status", "not an activity status") from None
            activity = Activity(
                id=uuid.uuid4(), care_plan_id=plan_id,
                discipline=await _discipline(uow, actor, plan, detail, f"{path}.detail"),
                kind=_kind(detail.get("code")),
                description=str(detail.get("description") or text_of(detail.get("code"))
                                or "activity"),
                status=status, frequency=_frequency(detail.get("scheduledTiming")),
                goal_ids=_goal_ids(plan, detail.get("goal", []), f"{path}.detail.goal"),
            )
            await care_plans.add_activity(uow, actor, plan_id, activity, now)
            continue
        local = local_reference(str((item.get("reference") or {}).get("reference", "")), base)
        if local is None or local[0] != "ServiceRequest":
            continue
        stored = await uow.store.current(actor.clinic_id, "ServiceRequest", local[1])
        if stored is None or stored.deleted:
            raise Invalid(f"{path}.reference", f"ServiceRequest/{local[1]} does not exist")
        if stored.projection is not None:
            continue
        request = stored.resource
        marked = extension_values(request, ext.ACTIVITY_STATUS)
        try:
            status = ActivityStatus(str(marked[0].get("valueCode"))) if marked else \
                _SR_TO_ACTIVITY[str(request.get("status"))]
            activity_id = uuid.UUID(stored.id)
        except (ValueError, KeyError):
            raise Invalid(f"{path}.reference", "not an activity Concord can keep") from None
        activity = Activity(
            id=activity_id, care_plan_id=plan_id,
            discipline=await _discipline(uow, actor, plan, request, f"{path}.reference"),
            kind=_kind(request.get("code")),
            description=str(request.get("patientInstruction") or text_of(request.get("code"))
                            or "activity"),
            status=status, frequency=_frequency(request.get("occurrenceTiming")),
            goal_ids=_goal_ids(plan, [
                e.get("valueReference") for e in extension_values(
                    request, "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal")
            ], f"{path}.reference"),
        )
        await care_plans.add_activity(uow, actor, plan_id, activity, now)
        uow.touched.originals[("ServiceRequest", stored.id)] = request
