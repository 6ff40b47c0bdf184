"""Plans with an active opioid open a review task for the team's physician before the
prescriber's 90-day review falls due (domain.opioids.review_clock), once per due date."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
import structlog

from domain.opioids.classify import Kind, kind_of
from domain.opioids.review_clock import review_clock
from domain.opioids.terminology import load_terminology
from domain.task import Task
from domain.vocab import TaskKind, TaskPriority
from service.db import tables as t
from service.db.queries import OPEN_GOALS
from service.db.uow import unit_of_work

log = structlog.get_logger("concord.worker.opioid_reviews")

_active = (
    sa.select(t.medication_statements.c.care_plan_id, t.care_plans.c.clinic_id,
              t.care_plans.c.patient_id, t.medication_statements.c.rxnorm_code,
              t.medication_statements.c.display,
              sa.func.coalesce(t.medication_statements.c.period_start,
                               sa.cast(t.medication_statements.c.created_at, sa.Date))
              .label("started_on"))
    .join(t.care_plans, t.care_plans.c.id == t.medication_statements.c.care_plan_id)
    .where(t.medication_statements.c.status == "active", t.care_plans.c.status == "active"))


def _physician(plan_id: sa.ColumnElement[Any]) -> sa.ScalarSelect[Any]:
    return (sa.select(t.care_team_members.c.staff_id)
            .where(t.care_team_members.c.care_plan_id == plan_id,
                   t.care_team_members.c.discipline == "physician")
            .order_by(t.care_team_members.c.lead.desc(), t.care_team_members.c.added_at)
            .limit(1).scalar_subquery())


async def _pull_in_goal_reviews(conn: Any, plan_id: uuid.UUID,
                                 due_on: dt.date) -> list[uuid.UUID]:
    """The physician's goals on a plan with an active opioid are reviewed with the patient
    no later than the opioid review: their next review date moves in to it, so the
    goal-review reminders follow the 90-day clock. Returns the goals moved."""
    result = await conn.execute(
        t.goals.update()
        .where(t.goals.c.care_plan_id == plan_id,
               t.goals.c.lifecycle_status.in_(OPEN_GOALS),
               t.goals.c.owners.contains(["physician"]),
               sa.or_(t.goals.c.next_review_date.is_(None),
                      t.goals.c.next_review_date > due_on))
        .values(next_review_date=due_on, version=t.goals.c.version + 1)
        .returning(t.goals.c.id))
    return [row[0] for row in result]


async def open_opioid_review_tasks(ctx: dict[str, Any], today: dt.date | None = None) -> int:
    today = today or dt.datetime.now(dt.UTC).date()
    terminology = load_terminology()
    opened = 0
    async with unit_of_work(ctx["engine"]) as uow:
        started: dict[uuid.UUID, dt.date] = {}
        plans: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = {}
        for row in (await uow.conn.execute(_active)).mappings():
            if kind_of(row["display"], row["rxnorm_code"] in terminology) is not Kind.OPIOID:
                continue
            plan_id = row["care_plan_id"]
            started[plan_id] = min(started.get(plan_id, row["started_on"]), row["started_on"])
            plans[plan_id] = (row["clinic_id"], row["patient_id"])
        if not plans:
            return 0
        reviewed: dict[uuid.UUID, dt.date] = defaultdict(lambda: dt.date.min)
        owners: dict[uuid.UUID, uuid.UUID | None] = {}
        query = (sa.select(t.care_plans.c.id, _physician(t.care_plans.c.id).label("owner"),
                           sa.select(sa.func.max(t.opioid_reviews.c.reviewed_on))
                           .where(t.opioid_reviews.c.care_plan_id == t.care_plans.c.id)
                           .scalar_subquery().label("reviewed_on"))
                 .where(t.care_plans.c.id.in_(list(plans))))
        for row in (await uow.conn.execute(query)).mappings():
            owners[row["id"]] = row["owner"]
            if row["reviewed_on"] is not None:
                reviewed[row["id"]] = row["reviewed_on"]
        for plan_id, (clinic_id, patient_id) in plans.items():
            last = reviewed[plan_id] if reviewed[plan_id] != dt.date.min else None
            clock = review_clock(started[plan_id], last, today)
            for goal_id in await _pull_in_goal_reviews(uow.conn, plan_id, clock.due_on):
                uow.audit(None, "update", "Goal", goal_id, patient_id, clinic_id=clinic_id)
            if not clock.task_due:
                continue
            task = Task(
                id=uuid.uuid4(), clinic_id=clinic_id, kind=TaskKind.REVIEW_DUE,
                title=f"Opioid benefits and harms review due by {clock.due_on.isoformat()}",
                description="Review the benefits and harms of opioid therapy with the patient "
                            "and update the pain treatment plan (CDC 2022, recommendation 7).",
                priority=TaskPriority.URGENT if clock.overdue else TaskPriority.ROUTINE,
                patient_id=patient_id, care_plan_id=plan_id, owner_id=owners.get(plan_id),
                due_on=clock.due_on)
            if await uow.tasks.add(task, dedupe_key=f"opioid-review:{plan_id}:{clock.due_on}"):
                opened += 1
                uow.audit(None, "create", "Task", task.id, patient_id, clinic_id=clinic_id)
    log.info("opioid_review_tasks", plans=len(plans), opened=opened)
    return opened
