"""Goal-review reminders: the patient gets one message for every goal due soon, each
clinician who owns a goal gets a task, and nothing is sent twice or dropped."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import tables as t
from service.settings import Settings
from tests.factories import ClinicWorld, add_goal, create_plan
from workers.reminders import send_goal_review_reminders

pytestmark = pytest.mark.asyncio


@pytest.fixture
def ctx(engine: AsyncEngine, settings: Settings) -> dict[str, Any]:
    return {"engine": engine, "settings": msgspec.structs.replace(settings)}


async def _set_review(client: Any, world: ClinicWorld, plan_id: str, goal: dict[str, Any],
                      day: dt.date) -> None:
    response = await client.patch(f"/api/v1/care-plans/{plan_id}/goals/{goal['id']}",
                                  json={"next_review_date": day.isoformat()},
                                  headers={**world.auth("coordinator"), "If-Match": goal["etag"]})
    assert response.status_code == 200, response.text


async def _messages(engine: AsyncEngine, patient_id: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(t.messages).where(
            t.messages.c.patient_id == uuid.UUID(patient_id)))).mappings())


async def test_one_merged_message_and_a_task_per_owner_once(
        client: Any, world: ClinicWorld, ctx: dict[str, Any], engine: AsyncEngine) -> None:
    plan = await create_plan(client, world)
    walk = await add_goal(client, world, plan["id"], "physical_therapist")
    sleep = await add_goal(client, world, plan["id"], "psychologist", "Sleep six hours")
    far = await add_goal(client, world, plan["id"], "physician", "Lift my granddaughter")
    # "now" is 15:00 UTC: mid-morning in Chicago, the patient's time zone.
    now = dt.datetime.combine(dt.date.today() + dt.timedelta(days=1), dt.time(15), dt.UTC)
    soon = now.date() + dt.timedelta(days=2)
    await _set_review(client, world, plan["id"], walk, soon)
    await _set_review(client, world, plan["id"], sleep, soon)
    await _set_review(client, world, plan["id"], far, now.date() + dt.timedelta(days=20))
    await send_goal_review_reminders(ctx, now=now)
    await send_goal_review_reminders(ctx, now=now)  # a second tick, or a second worker
    [message] = await _messages(engine, plan["patient_id"])
    assert message["kind"] == "goal-review-reminder"
    assert "Walk to the corner shop and back" in message["body_text"]
    assert "Sleep six hours" in message["body_text"]
    assert "Lift my granddaughter" not in message["body_text"]
    assert "/p/" in message["body_text"]
    tasks = (await client.get("/api/v1/tasks", params={"care_plan_id": plan["id"]},
                              headers=world.auth("coordinator"))).json()["items"]
    owners = sorted(str(task["owner_id"]) for task in tasks)
    assert owners == sorted([str(world.staff["physical_therapist"].id),
                             str(world.staff["psychologist"].id)])


async def test_the_daily_cap_holds_a_reminder_to_the_next_day_without_losing_it(
        client: Any, world: ClinicWorld, ctx: dict[str, Any], engine: AsyncEngine) -> None:
    plan = await create_plan(client, world)
    walk = await add_goal(client, world, plan["id"], "physical_therapist")
    now = dt.datetime.combine(dt.date.today() + dt.timedelta(days=1), dt.time(15), dt.UTC)
    await _set_review(client, world, plan["id"], walk, now.date() + dt.timedelta(days=3))
    check_in = await client.post("/api/v1/check-ins", headers=world.auth("coordinator"), json={
        "care_plan_id": plan["id"], "due_at": dt.datetime.now(dt.UTC).isoformat(),
        "send_now": True})
    assert check_in.status_code == 201
    from workers.check_ins import dispatch_check_ins

    await dispatch_check_ins(ctx)  # today's one message: the check-in
    await send_goal_review_reminders(ctx, now=dt.datetime.now(dt.UTC))
    kinds = sorted(m["kind"] for m in await _messages(engine, plan["patient_id"]))
    assert kinds == ["check-in"]
    await send_goal_review_reminders(ctx, now=now)  # the next day
    kinds = sorted(m["kind"] for m in await _messages(engine, plan["patient_id"]))
    assert kinds == ["check-in", "goal-review-reminder"]


async def test_no_consent_no_message(client: Any, world: ClinicWorld, ctx: dict[str, Any],
                                     engine: AsyncEngine) -> None:
    plan = await create_plan(client, world)
    walk = await add_goal(client, world, plan["id"], "physical_therapist")
    coordinator = world.auth("coordinator")
    patient = await client.get(f"/api/v1/patients/{plan['patient_id']}", headers=coordinator)
    await client.patch(f"/api/v1/patients/{plan['patient_id']}",
                       json={"consent_to_messages": False},
                       headers={**coordinator, "If-Match": patient.headers["etag"]})
    now = dt.datetime.combine(dt.date.today() + dt.timedelta(days=1), dt.time(15), dt.UTC)
    await _set_review(client, world, plan["id"], walk, now.date() + dt.timedelta(days=1))
    await send_goal_review_reminders(ctx, now=now)
    assert await _messages(engine, plan["patient_id"]) == []
