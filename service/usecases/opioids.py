"""Opioid stewardship on a plan: tapers with guardrails, the prescriber's reviews, and
the safety summary the whole team reads."""

from __future__ import annotations

import datetime as dt
import uuid

from domain.actor import Actor
from domain.care_plan import CarePlan
from domain.errors import Invalid, StaleVersion
from domain.opioids import stewardship
from domain.opioids import taper as tapers
from domain.opioids.safety import OpioidSafety, summarize
from domain.opioids.terminology import load_terminology
from domain.task import Task
from domain.vocab import PlanStatus, TaskKind, TaskPriority
from service.db.uow import UnitOfWork


def safety_of(plan: CarePlan, today: dt.date) -> OpioidSafety:
    return summarize(plan, load_terminology().lookup, today)


async def safety(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID,
                 today: dt.date) -> tuple[CarePlan, OpioidSafety]:
    plan = await uow.care_plans.get(actor.clinic_id, plan_id)
    plan.require_visible(actor)
    uow.audit(actor, "read", "OpioidSafety", plan.id, plan.patient_id)
    return plan, safety_of(plan, today)


async def _load(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID) -> CarePlan:
    plan = await uow.care_plans.get(actor.clinic_id, plan_id, for_update=True)
    stewardship.require_prescriber(plan, actor)
    plan.require_open("change an opioid taper")
    return plan


async def create_taper(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID,
                       taper: tapers.TaperPlan, now: dt.datetime) -> list[tapers.GuardrailHit]:
    """Record the taper as a draft and answer with every guardrail it hits: each is
    recorded, shown on the plan, and opens a task for the prescriber."""
    plan = await _load(uow, actor, plan_id)
    taper.care_plan_id = plan.id
    stewardship.validate_new(plan, taper)
    plan.tapers.append(taper)
    await uow.care_plans.add_taper(plan, taper)
    hits = taper.unacknowledged(tapers.evaluate(taper))
    await _open_tasks(uow, plan, taper, hits, actor.staff_id, now)
    uow.audit(actor, "create", "TaperPlan", taper.id, plan.patient_id)
    return hits


async def revise_steps(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID,
                       taper_id: uuid.UUID, steps: list[tapers.TaperStep], expected: int,
                       now: dt.datetime) -> tuple[tapers.TaperPlan, list[tapers.GuardrailHit]]:
    plan = await _load(uow, actor, plan_id)
    taper = stewardship.find(plan, taper_id)
    taper.revise_steps(steps, expected)
    await uow.care_plans.save_taper(taper)
    hits = taper.unacknowledged(tapers.evaluate(taper))
    await _open_tasks(uow, plan, taper, hits, actor.staff_id, now)
    uow.audit(actor, "update", "TaperPlan", taper.id, plan.patient_id)
    return taper, hits


async def record_shared_decision(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID,
                                 taper_id: uuid.UUID, decision: tapers.SharedDecision,
                                 expected: int, now: dt.datetime) -> tapers.TaperPlan:
    plan = await _load(uow, actor, plan_id)
    taper = stewardship.find(plan, taper_id)
    if taper.version != expected:
        raise StaleVersion("taper plan", expected, taper.version)
    decision.validate({g.id for g in plan.goals})
    taper.shared_decision = decision
    taper.version += 1
    await uow.care_plans.save_taper(taper)
    if decision.is_complete:
        await uow.tasks.complete_by_key(_task_key(taper, tapers.Guardrail.NO_SHARED_DECISION,
                                                  None), "shared decision recorded", now)
    uow.audit(actor, "update", "TaperPlan", taper.id, plan.patient_id)
    return taper


async def acknowledge(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, taper_id: uuid.UUID,
                      kind: tapers.Guardrail, step_index: int | None, reason: str,
                      expected: int, now: dt.datetime) -> tapers.TaperPlan:
    """An explicit acknowledgement with a reason lets the plan proceed past a hit; the
    hit's task is completed with that reason."""
    plan = await _load(uow, actor, plan_id)
    taper = stewardship.find(plan, taper_id)
    taper.acknowledge(tapers.GuardrailAcknowledgement(
        kind=kind, step_index=step_index, reason=reason, by=actor.staff_id, at=now), expected)
    await uow.care_plans.save_taper(taper)
    await uow.tasks.complete_by_key(_task_key(taper, kind, step_index),
                                    f"acknowledged: {reason}", now)
    uow.audit(actor, "update", "TaperPlan", taper.id, plan.patient_id)
    return taper


async def transition(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, taper_id: uuid.UUID,
                     status: PlanStatus, expected: int) -> tapers.TaperPlan:
    plan = await _load(uow, actor, plan_id)
    taper = stewardship.find(plan, taper_id)
    stewardship.transition(taper, status, expected)
    await uow.care_plans.save_taper(taper)
    uow.audit(actor, "transition", "TaperPlan", taper.id, plan.patient_id)
    return taper


async def record_review(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID,
                        reviewed_on: dt.date, note: str | None, now: dt.datetime) -> CarePlan:
    """The prescriber reviewed benefits and harms with the patient: the 90-day clock
    restarts and any open review task is done."""
    plan = await _load(uow, actor, plan_id)
    if reviewed_on > now.date():
        raise Invalid("reviewed_on", "a review cannot be in the future")
    await uow.care_plans.add_opioid_review(plan, reviewed_on, actor.staff_id, note)
    plan.opioid_reviewed_on = max(filter(None, (plan.opioid_reviewed_on, reviewed_on)))
    await uow.tasks.complete_prefix(f"opioid-review:{plan.id}:", "prescriber review recorded",
                                    now)
    uow.audit(actor, "create", "OpioidReview", plan.id, plan.patient_id)
    return plan


def _task_key(taper: tapers.TaperPlan, kind: tapers.Guardrail, step_index: int | None) -> str:
    return f"taper:{taper.id}:{kind.value}:{'plan' if step_index is None else step_index}"


async def _open_tasks(uow: UnitOfWork, plan: CarePlan, taper: tapers.TaperPlan,
                      hits: list[tapers.GuardrailHit], prescriber: uuid.UUID,
                      now: dt.datetime) -> None:
    for hit in hits:
        task = Task(id=uuid.uuid4(), clinic_id=plan.clinic_id, kind=TaskKind.TAPER_GUARDRAIL,
                    title=f"Taper guardrail: {hit.kind.value}", priority=TaskPriority.URGENT,
                    description=hit.reason, patient_id=plan.patient_id, care_plan_id=plan.id,
                    owner_id=prescriber, requester_id=prescriber, due_on=hit.step_date,
                    created_at=now, updated_at=now)
        if await uow.tasks.add(task, dedupe_key=_task_key(taper, hit.kind, hit.step_index)):
            uow.audit(None, "create", "Task", task.id, plan.patient_id, clinic_id=plan.clinic_id)
