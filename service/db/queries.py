"""The read side: lists and filters straight from the tables into Structs, paged by an
opaque keyset cursor (created_at, id) so pages stay stable while rows are added."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any, Generic, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.actor import Actor
from domain.errors import Invalid
from domain.patient import Patient
from domain.staff import Staff
from domain.task import Task
from domain.vocab import GoalLifecycle, PlanStatus, TaskStatus
from service.db import tables as t
from service.db.repos.base import from_row

T = TypeVar("T")
OPEN_GOALS = [
    s.value
    for s in (
        GoalLifecycle.PROPOSED,
        GoalLifecycle.PLANNED,
        GoalLifecycle.ACCEPTED,
        GoalLifecycle.ACTIVE,
        GoalLifecycle.ON_HOLD,
    )
]


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PlanSummary(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    patient_id: uuid.UUID
    title: str
    status: PlanStatus
    period_start: dt.date | None
    period_end: dt.date | None
    next_review_date: dt.date | None
    version: int
    created_at: dt.datetime


class AuditEvent(msgspec.Struct, kw_only=True):
    id: int
    occurred_at: dt.datetime
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    client_address: str | None
    request_id: str | None


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return tuple(msgspec.json.decode(raw, type=tuple[*types]))  # type: ignore[valid-type]
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise Invalid("cursor", "not a cursor this server issued") from None


def _keyset(table: sa.Table, cursor: str | None) -> sa.ColumnElement[bool]:
    if cursor is None:
        return sa.true()
    created_at, row_id = decode_cursor(cursor, dt.datetime, uuid.UUID)
    return sa.tuple_(table.c.created_at, table.c.id) > sa.tuple_(
        sa.literal(created_at, sa.DateTime(timezone=True)), sa.literal(row_id, t.patients.c.id.type)
    )


async def _page(
    conn: AsyncConnection,
    query: sa.Select[Any],
    table: sa.Table,
    limit: int,
    cursor: str | None,
    kind: type[T],
) -> Page[T]:
    rows = (
        (
            await conn.execute(
                query.where(_keyset(table, cursor))
                .order_by(table.c.created_at, table.c.id)
                .limit(limit + 1)
            )
        )
        .mappings()
        .all()
    )
    items = [from_row(r, kind) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last["created_at"], last["id"])
    return Page(items=items, next_cursor=next_cursor)


def _member_of(staff_id: uuid.UUID, plan_id: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        t.care_team_members.c.care_plan_id == plan_id, t.care_team_members.c.staff_id == staff_id
    )


async def patients(
    conn: AsyncConnection,
    actor: Actor,
    *,
    limit: int,
    cursor: str | None,
    family_name: str | None = None,
) -> Page[Patient]:
    query = sa.select(t.patients).where(t.patients.c.clinic_id == actor.clinic_id)
    if family_name:
        query = query.where(t.patients.c.family_name.ilike(family_name.replace("%", r"\%") + "%"))
    if not actor.manages_plans:
        query = query.where(
            sa.exists().where(
                t.care_plans.c.patient_id == t.patients.c.id,
                _member_of(actor.staff_id, t.care_plans.c.id),
            )
        )
    return await _page(conn, query, t.patients, limit, cursor, Patient)


async def care_plans(
    conn: AsyncConnection,
    actor: Actor,
    *,
    limit: int,
    cursor: str | None,
    patient_id: uuid.UUID | None = None,
    status: PlanStatus | None = None,
    member_me: bool = False,
    review_due_before: dt.date | None = None,
) -> Page[PlanSummary]:
    next_review = (
        sa.select(sa.func.min(t.goals.c.next_review_date))
        .where(
            t.goals.c.care_plan_id == t.care_plans.c.id, t.goals.c.lifecycle_status.in_(OPEN_GOALS)
        )
        .scalar_subquery()
        .label("next_review_date")
    )
    query = sa.select(
        t.care_plans.c.id,
        t.care_plans.c.patient_id,
        t.care_plans.c.title,
        t.care_plans.c.status,
        t.care_plans.c.period_start,
        t.care_plans.c.period_end,
        t.care_plans.c.version,
        t.care_plans.c.created_at,
        next_review,
    ).where(t.care_plans.c.clinic_id == actor.clinic_id)
    if patient_id is not None:
        query = query.where(t.care_plans.c.patient_id == patient_id)
    if status is not None:
        query = query.where(t.care_plans.c.status == status.value)
    if member_me or not actor.manages_plans:
        query = query.where(_member_of(actor.staff_id, t.care_plans.c.id))
    if review_due_before is not None:
        query = query.where(
            sa.exists().where(
                t.goals.c.care_plan_id == t.care_plans.c.id,
                t.goals.c.clinic_id == actor.clinic_id,
                t.goals.c.lifecycle_status.in_(OPEN_GOALS),
                t.goals.c.next_review_date < review_due_before,
            )
        )
    return await _page(conn, query, t.care_plans, limit, cursor, PlanSummary)


async def staff(
    conn: AsyncConnection,
    clinic_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    discipline: str | None = None,
    active: bool | None = None,
) -> Page[Staff]:
    query = sa.select(t.staff).where(t.staff.c.clinic_id == clinic_id)
    if discipline:
        query = query.where(t.staff.c.discipline == discipline)
    if active is not None:
        query = query.where(t.staff.c.active == active)
    return await _page(conn, query, t.staff, limit, cursor, Staff)


async def tasks(
    conn: AsyncConnection,
    actor: Actor,
    *,
    limit: int,
    cursor: str | None,
    status: TaskStatus | None = None,
    owner_me: bool = False,
    patient_id: uuid.UUID | None = None,
    care_plan_id: uuid.UUID | None = None,
) -> Page[Task]:
    query = sa.select(t.tasks).where(t.tasks.c.clinic_id == actor.clinic_id)
    if status is not None:
        query = query.where(t.tasks.c.status == status.value)
    if owner_me:
        query = query.where(t.tasks.c.owner_id == actor.staff_id)
    if patient_id is not None:
        query = query.where(t.tasks.c.patient_id == patient_id)
    if care_plan_id is not None:
        query = query.where(t.tasks.c.care_plan_id == care_plan_id)
    if not actor.manages_plans:
        query = query.where(
            sa.or_(
                t.tasks.c.owner_id == actor.staff_id,
                t.tasks.c.requester_id == actor.staff_id,
                _member_of(actor.staff_id, t.tasks.c.care_plan_id),
            )
        )
    return await _page(conn, query, t.tasks, limit, cursor, Task)


async def audit_events(
    conn: AsyncConnection,
    clinic_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    patient_id: uuid.UUID | None = None,
) -> Page[AuditEvent]:
    query = sa.select(t.audit_events).where(t.audit_events.c.clinic_id == clinic_id)
    if patient_id is not None:
        query = query.where(t.audit_events.c.patient_id == patient_id)
    if cursor is not None:
        (after,) = decode_cursor(cursor, int)
        query = query.where(t.audit_events.c.id > after)
    rows = (
        (await conn.execute(query.order_by(t.audit_events.c.id).limit(limit + 1))).mappings().all()
    )
    items = [from_row(r, AuditEvent) for r in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)
