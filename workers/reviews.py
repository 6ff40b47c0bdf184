"""Goals due for review open a task for the clinician who owns them, once per due date."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
import structlog

from domain.task import Task
from domain.vocab import TaskKind, TaskPriority
from service.db import tables as t
from service.db.queries import OPEN_GOALS
from service.db.uow import unit_of_work

log = structlog.get_logger("concord.worker.reviews")
BATCH = 500


def _due_goals(today: dt.date) -> sa.Select[Any]:
    owner = (
        sa.select(t.care_team_members.c.staff_id)
        .where(
            t.care_team_members.c.care_plan_id == t.goals.c.care_plan_id,
            t.care_team_members.c.discipline == t.goals.c.owners[0].astext,
        )
        .order_by(t.care_team_members.c.lead.desc(), t.care_team_members.c.added_at)
        .limit(1)
        .scalar_subquery()
    )
    return (
        sa.select(
            t.goals.c.id,
            t.goals.c.clinic_id,
            t.goals.c.care_plan_id,
            t.goals.c.next_review_date,
            t.care_plans.c.patient_id,
            owner.label("owner_id"),
        )
        .join(t.care_plans, t.care_plans.c.id == t.goals.c.care_plan_id)
        .where(
            t.goals.c.next_review_date <= today,
            t.goals.c.lifecycle_status.in_(OPEN_GOALS),
            t.care_plans.c.status == "active",
        )
    )


async def open_review_due_tasks(ctx: dict[str, Any], today: dt.date | None = None) -> int:
    """Idempotent: the task's dedupe key is the goal and its due date, so a second run (or
    a second worker running the same cron tick) opens nothing new."""
    today = today or dt.datetime.now(dt.UTC).date()
    opened = 0
    async with unit_of_work(ctx["engine"]) as uow:
        rows = (await uow.conn.execute(_due_goals(today))).mappings().all()
        for row in rows:
            task = Task(
                id=uuid.uuid4(),
                clinic_id=row["clinic_id"],
                title="Goal review due",
                kind=TaskKind.REVIEW_DUE,
                priority=TaskPriority.ROUTINE,
                patient_id=row["patient_id"],
                care_plan_id=row["care_plan_id"],
                goal_id=row["id"],
                owner_id=row["owner_id"],
                due_on=row["next_review_date"],
                description="Review this goal with the patient and score it.",
            )
            key = f"review-due:{row['id']}:{row['next_review_date'].isoformat()}"
            if await uow.tasks.add(task, dedupe_key=key):
                opened += 1
                uow.audit(
                    None, "create", "Task", task.id, task.patient_id, clinic_id=row["clinic_id"]
                )
    log.info("review_due_tasks", due=len(rows), opened=opened)
    return opened
