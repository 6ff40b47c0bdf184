"""Goal-review reminders: a configurable number of days before a goal's next review, the
patient gets one message (merging every goal due, one message a day at most, at a decent
hour, only with consent) and each owning clinician gets a task. Each reminder occurrence
(goal, review date, audience) is recorded once it has gone out, so none is sent twice and
none is dropped when the daily cap holds it to the next day."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

import msgspec
import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert

from domain import clinic_settings, schedule
from domain.patient import Patient
from domain.task import Task
from domain.vocab import PATIENT_PARTICIPANT, ContactSystem, TaskKind, TaskPriority
from service import links, outreach
from service.db import tables as t
from service.db.queries import OPEN_GOALS
from service.db.repos.base import from_row
from service.db.uow import UnitOfWork, unit_of_work

log = structlog.get_logger("concord.worker.reminders")
DAYS_BEFORE = schedule.DEFAULT_REMINDER_DAYS_BEFORE
"""The default; each clinic's `reminder_days_before` setting overrides it."""
MAX_DAYS_BEFORE = clinic_settings.MAX_REMINDER_DAYS_BEFORE


class DueGoal(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    care_plan_id: uuid.UUID
    patient_id: uuid.UUID
    description: str
    owners: list[str]
    next_review_date: dt.date


def _due_goals(today_utc: dt.date, days_before: int) -> sa.Select[Any]:
    # A day of slack each side: the patient's local date may differ from UTC's.
    return (sa.select(t.goals.c.id, t.goals.c.clinic_id, t.goals.c.care_plan_id,
                      t.care_plans.c.patient_id, t.goals.c.description, t.goals.c.owners,
                      t.goals.c.next_review_date)
            .join(t.care_plans, t.care_plans.c.id == t.goals.c.care_plan_id)
            .where(t.care_plans.c.status == "active",
                   t.goals.c.lifecycle_status.in_(OPEN_GOALS),
                   t.goals.c.next_review_date.between(
                       today_utc - dt.timedelta(days=1),
                       today_utc + dt.timedelta(days=days_before + 1))))


async def send_goal_review_reminders(ctx: dict[str, Any], now: dt.datetime | None = None,
                                     days_before: int | None = None) -> int:
    """Returns how many reminder occurrences went out (messages' goals plus tasks).
    `days_before` is each clinic's `reminder_days_before` setting unless given."""
    now = now or dt.datetime.now(dt.UTC)
    delivered = 0
    async with unit_of_work(ctx["engine"]) as uow:
        # Fetch as far ahead as any clinic may look; each clinic's own setting filters.
        horizon = days_before if days_before is not None else MAX_DAYS_BEFORE
        rows = (await uow.conn.execute(_due_goals(now.date(), horizon))).mappings().all()
        by_patient: dict[uuid.UUID, list[DueGoal]] = defaultdict(list)
        for row in rows:
            by_patient[row["patient_id"]].append(from_row(row, DueGoal))
        per_clinic: dict[uuid.UUID, int] = {}
        for goals in by_patient.values():
            clinic_id = goals[0].clinic_id
            if days_before is not None:
                per_clinic[clinic_id] = days_before
            elif clinic_id not in per_clinic:
                per_clinic[clinic_id] = (
                    await uow.clinic_settings.get(clinic_id)).reminder_days_before
            delivered += await _remind(ctx, uow, goals, now, per_clinic[clinic_id])
    log.info("goal_review_reminders", goals=len(rows), delivered=delivered)
    return delivered


async def _remind(ctx: dict[str, Any], uow: UnitOfWork, goals: list[DueGoal],
                  now: dt.datetime, days_before: int) -> int:
    patient = await uow.patients.get(goals[0].clinic_id, goals[0].patient_id)
    today = schedule.local_date(now, patient.time_zone)
    due = [g for g in goals
           if (day := schedule.review_reminder_due(g.next_review_date, days_before, today))
           is not None and day <= today]
    done = await _delivered(uow, patient.clinic_id, due)
    delivered = 0
    for goal in due:
        for audience in schedule.reminder_audiences(goal.owners):
            key = schedule.review_reminder_occurrence(goal.id, goal.next_review_date, audience)
            if audience != PATIENT_PARTICIPANT and key not in done:
                delivered += await _task(uow, goal, audience, key)
    waiting = [g for g in due if schedule.review_reminder_occurrence(
        g.id, g.next_review_date, PATIENT_PARTICIPANT) not in done]
    if waiting:
        delivered += await _message(ctx, uow, patient, waiting, now, today)
    return delivered


async def _delivered(uow: UnitOfWork, clinic_id: uuid.UUID, goals: list[DueGoal]) -> set[str]:
    if not goals:
        return set()
    keys = [schedule.review_reminder_occurrence(g.id, g.next_review_date, a)
            for g in goals for a in schedule.reminder_audiences(g.owners)]
    rows = await uow.conn.execute(sa.select(t.reminder_deliveries.c.occurrence_key).where(
        t.reminder_deliveries.c.clinic_id == clinic_id,
        t.reminder_deliveries.c.occurrence_key.in_(keys)))
    return {row[0] for row in rows}


async def _record(uow: UnitOfWork, clinic_id: uuid.UUID, key: str, *,
                  message_id: uuid.UUID | None = None, task_id: uuid.UUID | None = None) -> bool:
    result = await uow.conn.execute(insert(t.reminder_deliveries).values(
        clinic_id=clinic_id, occurrence_key=key, message_id=message_id, task_id=task_id)
        .on_conflict_do_nothing())
    return result.rowcount == 1


async def _task(uow: UnitOfWork, goal: DueGoal, discipline: str, key: str) -> int:
    plan = await uow.care_plans.get(goal.clinic_id, goal.care_plan_id)
    owner = next((m.staff_id for m in plan.team if m.discipline == discipline), None)
    task = Task(id=uuid.uuid4(), clinic_id=goal.clinic_id, kind=TaskKind.REVIEW_DUE,
                title=f"Goal review on {goal.next_review_date.isoformat()}",
                description="Prepare to review this goal with the patient.",
                priority=TaskPriority.ROUTINE, patient_id=goal.patient_id,
                care_plan_id=goal.care_plan_id, goal_id=goal.id, owner_id=owner,
                due_on=goal.next_review_date)
    if not await uow.tasks.add(task, dedupe_key=key):
        return 0
    await _record(uow, goal.clinic_id, key, task_id=task.id)
    uow.audit(None, "create", "Task", task.id, goal.patient_id, clinic_id=goal.clinic_id)
    return 1


async def _message(ctx: dict[str, Any], uow: UnitOfWork, patient: Patient,
                   goals: list[DueGoal], now: dt.datetime, today: dt.date) -> int:
    allowed, _ = schedule.may_message(patient.consent, now)
    address = next((c.value for c in patient.contact_points
                    if c.system is ContactSystem.EMAIL), None)
    if not allowed or address is None or await _messaged_today(uow, patient, now, today):
        return 0  # consent, a way to reach them, and one message a day: tomorrow, perhaps
    token = await links.issue(uow, clinic_id=patient.clinic_id, patient_id=patient.id,
                              purpose="plan", care_plan_id=goals[0].care_plan_id, now=now,
                              secret=ctx["settings"].secret_key)
    message = outreach.review_reminder_email(
        patient, address, [(g.description, g.next_review_date.isoformat()) for g in goals],
        f"{ctx['settings'].public_base_url}/p/{token}",
        f"goal-review-reminders:{patient.id}:{today.isoformat()}")
    message.care_plan_id = goals[0].care_plan_id
    message.next_attempt_at = schedule.deliver_at(now, patient.time_zone, patient.quiet_hours)
    if not await uow.messages.enqueue(message):
        return 0
    for goal in goals:
        await _record(uow, patient.clinic_id, schedule.review_reminder_occurrence(
            goal.id, goal.next_review_date, PATIENT_PARTICIPANT), message_id=message.id)
    uow.audit(None, "create", "Message", message.id, patient.id, clinic_id=patient.clinic_id)
    return len(goals)


async def _messaged_today(uow: UnitOfWork, patient: Patient, now: dt.datetime,
                          today: dt.date) -> bool:
    start = schedule.due_instant(today, patient.time_zone, dt.time(0, 0))
    return await uow.messages.any_for_patient_since(patient.id, start)
