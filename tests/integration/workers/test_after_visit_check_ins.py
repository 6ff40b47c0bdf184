"""The clinic's settings drive the check-in scheduler: its cadence, and (when on) a
check-in the local day after a recorded visit, about the clinician the patient saw."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import schedule
from service.db import tables as t
from service.settings import Settings
from tests.factories import ClinicWorld, create_plan
from workers.check_ins import schedule_check_ins

pytestmark = pytest.mark.asyncio
TZ = "America/Chicago"  # the factories' patient


@pytest.fixture
def ctx(engine: AsyncEngine, settings: Settings) -> dict[str, Any]:
    return {"engine": engine, "settings": msgspec.structs.replace(settings)}


async def _settings(client: Any, world: ClinicWorld, **values: Any) -> None:
    response = await client.patch("/api/v1/clinic-settings", json=values,
                                  headers={**world.auth("admin"), "If-Match": 'W/"0"'})
    assert response.status_code == 200, response.text


async def _visit(client: Any, world: ClinicWorld, plan_id: str, who: str) -> dt.date:
    """Records a visit an hour ago with `who`; returns its local date."""
    visited_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    response = await client.post(f"/api/v1/care-plans/{plan_id}/visits",
                                 headers=world.auth("coordinator"), json={
                                     "clinician_id": str(world.staff[who].id),
                                     "visited_at": visited_at.isoformat()})
    assert response.status_code == 201, response.text
    return schedule.local_date(visited_at, TZ)


async def _check_ins(engine: AsyncEngine, plan_id: str, before: dt.datetime) -> list[Any]:
    """The plan's check-ins due before `before` (another test's scheduler, running weeks
    ahead, may add a later one)."""
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(t.check_ins).where(
            t.check_ins.c.care_plan_id == uuid.UUID(plan_id),
            t.check_ins.c.due_at < before))).mappings())


def _mid_morning(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(15), dt.UTC)  # 09:00/10:00 in Chicago


async def test_a_visit_brings_one_check_in_the_next_day_about_that_clinician(
        client: Any, world: ClinicWorld, ctx: dict[str, Any], engine: AsyncEngine) -> None:
    await _settings(client, world, check_in_after_visit=True)
    plan = await create_plan(client, world)
    visited_on = await _visit(client, world, plan["id"], "psychologist")
    now = _mid_morning(visited_on + dt.timedelta(days=1))
    await schedule_check_ins(ctx, now=now)
    await schedule_check_ins(ctx, now=now)  # a second tick, or a second worker
    [check_in] = await _check_ins(engine, plan["id"], now + dt.timedelta(days=2))
    assert check_in["occurrence_key"] == schedule.check_in_occurrence(
        uuid.UUID(plan["id"]), visited_on + dt.timedelta(days=1))
    assert check_in["clinician_id"] == world.staff["psychologist"].id
    assert schedule.local_date(check_in["due_at"], TZ) == visited_on + dt.timedelta(days=1)


async def test_with_after_visit_off_a_visit_brings_none(
        client: Any, world: ClinicWorld, ctx: dict[str, Any], engine: AsyncEngine) -> None:
    plan = await create_plan(client, world)
    visited_on = await _visit(client, world, plan["id"], "psychologist")
    now = _mid_morning(visited_on + dt.timedelta(days=1))
    await schedule_check_ins(ctx, now=now)
    assert await _check_ins(engine, plan["id"], now + dt.timedelta(days=2)) == []


async def test_the_clinics_cadence_sets_the_day(
        client: Any, world: ClinicWorld, ctx: dict[str, Any], engine: AsyncEngine) -> None:
    await _settings(client, world, check_in_every_days=7)
    plan = await create_plan(client, world)
    async with engine.connect() as conn:
        started = await conn.scalar(sa.select(sa.func.coalesce(
            t.care_plans.c.period_start, sa.cast(t.care_plans.c.created_at, sa.Date))).where(
            t.care_plans.c.id == uuid.UUID(plan["id"])))
    assert isinstance(started, dt.date)
    day6 = _mid_morning(started + dt.timedelta(days=6))
    await schedule_check_ins(ctx, now=day6)
    assert await _check_ins(engine, plan["id"], day6 + dt.timedelta(days=3)) == []
    day7 = _mid_morning(started + dt.timedelta(days=7))
    await schedule_check_ins(ctx, now=day7)
    [check_in] = await _check_ins(engine, plan["id"], day7 + dt.timedelta(days=3))
    assert check_in["occurrence_key"] == schedule.check_in_occurrence(
        uuid.UUID(plan["id"]), started + dt.timedelta(days=7))
