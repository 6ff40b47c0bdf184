"""A FHIR Goal in a care plan, written through the plan's goal use cases; a Goal a client
created on its own joins the plan that first references it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from domain.actor import Actor
from domain.care_plan import CarePlan
from domain.errors import Invalid
from domain.goal import Goal, GoalPatch
from domain.vocab import PATIENT_PARTICIPANT
from fhir.inbound.common import fhir_path
from fhir.inbound.goal import PATHS, expressed_by_reference, goal_fields
from fhir.store.repository import Stored
from service.db.uow import UnitOfWork
from service.usecases import care_plans


def _in_fhir_terms(exc: Invalid) -> Invalid:
    return Invalid(fhir_path("Goal", exc.field, PATHS) or "Goal", exc.detail)


async def _expressed_by(uow: UnitOfWork, actor: Actor, resource: dict[str, Any]) -> str | None:
    """The patient, or the discipline of the practitioner who expressed the goal."""
    ref = expressed_by_reference(resource)
    if ref is None:
        return None
    if ref.startswith("Patient/"):
        return PATIENT_PARTICIPANT
    if ref.startswith("Practitioner/"):
        try:
            staff = await uow.staff.get(actor.clinic_id, uuid.UUID(ref.split("/")[1]))
        except ValueError:
            return None
        return staff.discipline
    return None


def _default_owners(plan: CarePlan, path: str) -> list[str]:
    if plan.lead is not None:
        return [plan.lead.discipline]
    if plan.team:
        return [plan.team[0].discipline]
    raise Invalid(path, "a goal needs an owning discipline: give the owning-discipline "
                  "extension, or put the plan's care team in place first")


async def attach(
    uow: UnitOfWork, actor: Actor, plan: CarePlan, stored: Stored, now: dt.datetime,
    path: str,
) -> None:
    """Bring a Goal kept in the store into `plan`, under the same id."""
    try:
        goal_id = uuid.UUID(stored.id)
    except ValueError:
        raise Invalid(path, f"Goal/{stored.id} was not created on this server") from None
    fields = {k: v for k, v in goal_fields(stored.resource).items() if v is not None}
    if not fields.get("owners"):
        fields["owners"] = _default_owners(plan, path)
    expressed = await _expressed_by(uow, actor, stored.resource)
    if expressed is not None:
        fields["expressed_by"] = expressed
    goal = Goal(id=goal_id, care_plan_id=plan.id, **fields)
    try:
        await care_plans.add_goal(uow, actor, plan.id, goal, now)
    except Invalid as exc:
        raise Invalid(path, f"Goal/{stored.id}: {exc.detail}") from None
    uow.touched.originals[("Goal", stored.id)] = stored.resource


async def update(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, resource: dict[str, Any],
    now: dt.datetime,
) -> None:
    goal_id = uuid.UUID(resource["id"])
    plan = await uow.care_plans.get(actor.clinic_id, plan_id)
    goal = plan.find_goal(goal_id)
    fields = goal_fields(resource)
    if not fields["owners"]:
        del fields["owners"]  # the client does not speak of owners: they stay
    expressed = await _expressed_by(uow, actor, resource)
    if expressed is not None:
        fields["expressed_by"] = expressed
    changed = {k: v for k, v in fields.items() if getattr(goal, k) != v}
    if changed:
        try:
            await care_plans.update_goal(uow, actor, plan_id, goal_id, GoalPatch(**changed),
                                         goal.version, now)
        except Invalid as exc:
            raise _in_fhir_terms(exc) from None
    else:
        await care_plans.get_goal(uow, actor, plan_id, goal_id)  # who may see it
    uow.touched.plans.add(plan_id)
    uow.touched.originals[("Goal", resource["id"])] = resource
