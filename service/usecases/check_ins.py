"""Check-ins asked for by staff, and what the team can read of them."""

from __future__ import annotations

import datetime as dt
import uuid

from domain import check_in as rules
from domain.actor import Actor
from domain.check_in import CheckIn, CheckInStatus
from domain.errors import IllegalTransition, NotFound
from service.db.uow import UnitOfWork


async def request(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, due_at: dt.datetime,
                  send_now: bool, clinician_id: uuid.UUID | None,
                  now: dt.datetime) -> tuple[CheckIn, bool]:
    """Schedule a check-in; returns it and whether it is new. One a plan a local day: if
    one is already scheduled that day, a `send_now` request brings it forward."""
    plan = await uow.care_plans.get(actor.clinic_id, plan_id, for_update=True)
    patient = await uow.patients.get(actor.clinic_id, plan.patient_id)
    wanted = rules.request(plan, patient, actor, due_at=due_at, send_now=send_now,
                           clinician_id=clinician_id,
                           previous_check_ins=await uow.check_ins.count_for_plan(plan.id),
                           now=now)
    if await uow.check_ins.add(wanted):
        uow.audit(actor, "create", "CheckIn", wanted.id, plan.patient_id)
        return wanted, True
    existing = await uow.check_ins.by_occurrence(actor.clinic_id, wanted.occurrence_key,
                                                 for_update=True)
    if existing is None:  # pragma: no cover - the insert conflicted with this very row
        raise NotFound("check-in")
    if existing.status is not CheckInStatus.SCHEDULED:
        raise IllegalTransition(
            f"this plan's check-in for that day is already {existing.status.value}",
            field="due_at")
    if send_now and not existing.send_now:
        existing.send_now, existing.due_at, existing.deliver_at = True, wanted.due_at, wanted.due_at
        existing.version += 1
        await uow.check_ins.save(existing)
    uow.audit(actor, "update", "CheckIn", existing.id, plan.patient_id)
    return existing, False


async def get(uow: UnitOfWork, actor: Actor, check_in_id: uuid.UUID) -> CheckIn:
    check_in = await uow.check_ins.get(actor.clinic_id, check_in_id)
    plan = await uow.care_plans.get(actor.clinic_id, check_in.care_plan_id)
    plan.require_visible(actor)
    uow.audit(actor, "read", "CheckIn", check_in.id, check_in.patient_id)
    return check_in
