"""A FHIR CarePlan written through the plan's use cases: its subject, title, period and
Concord's extensions; the team from the CareTeams it references and its author; the
Goals it references; activities sent inline (`activity.detail`, as many EHRs do) or as
ServiceRequests. A plan sent closed is recorded as history (fhir.inbound.care_plan says
how, and what is refused)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from domain.activity import Activity
from domain.actor import Actor
from domain.care_plan import CarePlan, PlanPatch
from domain.errors import IllegalTransition, Invalid, NotFound
from domain.vocab import ActivityStatus, PlanStatus
from fhir.inbound.care_plan import (
    PATHS,
    Named,
    activity_kind,
    author,
    care_teams,
    frequency,
    goal_references,
    participants,
    plan_fields,
    plan_status,
    recorded_through,
    without_lead,
)
from fhir.inbound.common import extension_values, fhir_path, reference_id, text_of
from fhir.mapping import extensions as ext
from fhir.mapping.service_request import STATUS as SR_STATUS
from fhir.writes import domain_goal
from fhir.writes.validation import local_reference
from service.db.uow import UnitOfWork
from service.usecases import care_plans

_SR_TO_ACTIVITY = {
    "draft": ActivityStatus.NOT_STARTED, "active": ActivityStatus.IN_PROGRESS,
    "on-hold": ActivityStatus.ON_HOLD, "completed": ActivityStatus.COMPLETED,
    "revoked": ActivityStatus.CANCELLED, "entered-in-error": ActivityStatus.ENTERED_IN_ERROR,
    "unknown": ActivityStatus.UNKNOWN,
}
assert set(SR_STATUS.values()) <= set(_SR_TO_ACTIVITY)


def _in_fhir_terms(exc: Invalid | IllegalTransition) -> Invalid:
    return Invalid(fhir_path("CarePlan", exc.field, PATHS) or "CarePlan", exc.detail)


async def create(
    uow: UnitOfWork, actor: Actor, resource: dict[str, Any], now: dt.datetime, base: str
) -> None:
    patient_id = reference_id(resource.get("subject"), "Patient", "CarePlan.subject")
    plan = CarePlan(id=uuid.UUID(resource["id"]), clinic_id=actor.clinic_id,
                    patient_id=patient_id, **plan_fields(resource))
    target = plan_status(resource)
    path = recorded_through(target)
    try:
        await care_plans.create(uow, actor, plan, now)
        await _team(uow, actor, plan.id, resource, now, base)
        if PlanStatus.ACTIVE in path and \
                (await uow.care_plans.get(actor.clinic_id, plan.id)).lead is None:
            raise Invalid("CarePlan.status", without_lead(target))
        await _attach_goals(uow, actor, plan.id, resource, now, base)
        await _attach_activities(uow, actor, plan.id, resource, now, base, inline=True)
        if target is PlanStatus.COMPLETED:
            await _require_goals_closed(uow, actor, plan.id, resource, base)
        for status in path:
            current = await uow.care_plans.get(actor.clinic_id, plan.id)
            await care_plans.transition(uow, actor, plan.id, status, current.version, now)
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
    changed = {k: v for k, v in plan_fields(resource).items() if getattr(plan, k) != v}
    target = plan_status(resource)
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


async def _named(
    uow: UnitOfWork, actor: Actor, resource: dict[str, Any], base: str
) -> list[Named]:
    """Every practitioner the plan names for its team: CareTeam participants first (on
    this server or contained), then the author."""
    named: list[Named] = []
    for path, team in care_teams(resource, base):
        if isinstance(team, str):
            stored = await uow.store.current(actor.clinic_id, "CareTeam", team)
            if stored is None or stored.deleted:
                continue
            team = stored.resource
        named += participants(team, path, base)
    written_by = author(resource, base)
    return [*named, written_by] if written_by is not None else named


async def _staff_id(uow: UnitOfWork, actor: Actor, practitioner_id: str) -> uuid.UUID | None:
    """The active staff member of this clinic a Practitioner id names, if any."""
    try:
        staff = await uow.staff.get(actor.clinic_id, uuid.UUID(practitioner_id))
    except (ValueError, NotFound):
        return None
    return staff.id if staff.active else None


async def _team(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, resource: dict[str, Any],
    now: dt.datetime, base: str,
) -> None:
    """The clinic's staff among the practitioners the plan names join its team; others
    stay in the resource as written (see fhir.inbound.care_plan)."""
    joining: dict[uuid.UUID, Named] = {}
    for named in await _named(uow, actor, resource, base):
        staff_id = await _staff_id(uow, actor, named.practitioner_id)
        if staff_id is None:
            continue
        if staff_id not in joining or (named.lead and not joining[staff_id].lead):
            joining[staff_id] = named
    if not joining:
        return
    lead = next((s for s, n in joining.items() if n.lead), None) \
        or next((s for s, n in joining.items() if n.path == "CarePlan.author"), None) \
        or next(iter(joining))
    for staff_id, named in joining.items():
        try:
            await care_plans.add_member(uow, actor, plan_id, staff_id, staff_id == lead, now)
        except Invalid as exc:
            raise Invalid(named.path, exc.detail) from None


async def _require_goals_closed(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, resource: dict[str, Any], base: str
) -> None:
    """A completed plan holds no open goals: name the first one that is, rather than
    close it on the EHR's behalf."""
    plan = await uow.care_plans.get(actor.clinic_id, plan_id)
    for index, ref in enumerate(resource.get("goal", [])):
        local = local_reference(str(ref.get("reference", "")), base)
        goal = next((g for g in plan.goals if local is not None and str(g.id) == local[1]),
                    None)
        if goal is not None and goal.is_open:
            raise Invalid(
                f"CarePlan.goal[{index}]",
                f"Goal/{goal.id} is {goal.lifecycle_status.value}: a completed plan holds no "
                "open goals; send the goal with its final lifecycleStatus (completed, "
                "cancelled...) first")


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


async def _discipline(
    uow: UnitOfWork, actor: Actor, plan: CarePlan, element: dict[str, Any], path: str,
    base: str,
) -> str:
    """Whose activity it is: Concord's extension, else a performer on the team, else the
    performer type, else the team's lead, who answers for what nobody else was given."""
    owned = extension_values(element, ext.OWNING_DISCIPLINE)
    if owned:
        return str(owned[0].get("valueCode"))
    for performer in element.get("performer", []):
        local = local_reference(str(performer.get("reference", "")), base)
        if local is not None and local[0] == "Practitioner":
            member = next((m for m in plan.team if str(m.staff_id) == local[1]), None)
            if member is not None:
                return member.discipline
    performer_type = text_of(element.get("performerType"))
    if performer_type and performer_type in plan.disciplines:
        return performer_type
    if plan.lead is not None:
        return plan.lead.discipline
    raise Invalid(path, "an activity needs its owning discipline (extension "
                  f"{ext.OWNING_DISCIPLINE}, a performer on the team, or a team lead): "
                  "name the plan's care team or its author first")


def _goal_ids(plan: CarePlan, refs: list[Any], path: str) -> list[uuid.UUID]:
    ids = []
    for value in goal_references(refs):
        goal = next((g for g in plan.goals if str(g.id) == value), None)
        if goal is None:
            raise Invalid(path, f"Goal/{value} is not a goal of this plan")
        ids.append(goal.id)
    return ids


async def _inline_activity(
    uow: UnitOfWork, actor: Actor, plan: CarePlan, detail: dict[str, Any], path: str,
    base: str,
) -> Activity:
    try:
        status = ActivityStatus(detail.get("status", "not-started"))
    except ValueError:
        raise Invalid(f"{path}.status", "not an activity status") from None
    return Activity(
        id=uuid.uuid4(), care_plan_id=plan.id,
        discipline=await _discipline(uow, actor, plan, detail, path, base),
        kind=activity_kind(detail.get("code")),
        description=str(detail.get("description") or text_of(detail.get("code"))
                        or "activity"),
        status=status, frequency=frequency(detail.get("scheduledTiming")),
        goal_ids=_goal_ids(plan, detail.get("goal", []), f"{path}.goal"),
    )


async def _requested_activity(
    uow: UnitOfWork, actor: Actor, plan: CarePlan, request: dict[str, Any], path: str,
    base: str,
) -> Activity:
    marked = extension_values(request, ext.ACTIVITY_STATUS)
    try:
        status = ActivityStatus(str(marked[0].get("valueCode"))) if marked else \
            _SR_TO_ACTIVITY[str(request.get("status"))]
        activity_id = uuid.UUID(str(request.get("id")))
    except (ValueError, KeyError):
        raise Invalid(path, "not an activity Concord can keep") from None
    return Activity(
        id=activity_id, care_plan_id=plan.id,
        discipline=await _discipline(uow, actor, plan, request, path, base),
        kind=activity_kind(request.get("code")),
        description=str(request.get("patientInstruction") or text_of(request.get("code"))
                        or "activity"),
        status=status, frequency=frequency(request.get("occurrenceTiming")),
        goal_ids=_goal_ids(plan, [
            e.get("valueReference") for e in extension_values(
                request, "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal")
        ], path),
    )


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
            activity = await _inline_activity(uow, actor, plan, item["detail"],
                                              f"{path}.detail", base)
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
        activity = await _requested_activity(uow, actor, plan, stored.resource,
                                             f"{path}.reference", base)
        await care_plans.add_activity(uow, actor, plan_id, activity, now)
        uow.touched.originals[("ServiceRequest", stored.id)] = stored.resource
