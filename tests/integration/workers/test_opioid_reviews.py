"""The prescriber's 90-day opioid review opens one task before it falls due."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ClinicWorld, add_goal, create_plan
from workers.opioid_reviews import open_opioid_review_tasks

pytestmark = pytest.mark.asyncio


async def _tasks(client: Any, world: ClinicWorld, plan_id: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/tasks", params={"care_plan_id": plan_id},
                                headers=world.auth("physician"))
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_review_task_opens_two_weeks_before_and_a_review_closes_it(
        client: Any, world: ClinicWorld, engine: AsyncEngine) -> None:
    plan = await create_plan(client, world)
    sleep_goal = await add_goal(client, world, plan["id"], "physician", "Sleep six hours")
    walk_goal = await add_goal(client, world, plan["id"], "physical_therapist")
    today = dt.date.today()
    started = today - dt.timedelta(days=80)  # due in 10 days
    recorded = await client.post(
        f"/api/v1/care-plans/{plan['id']}/medications", headers=world.auth("physician"),
        json={"rxnorm_code": "1049621", "display": "oxycodone hydrochloride 5 MG Oral Tablet",
              "dose_quantity": 1, "dose_unit": "tablet", "period_start": started.isoformat()})
    assert recorded.status_code == 201
    await client.post(  # not an opioid: no clock of its own
        f"/api/v1/care-plans/{plan['id']}/medications", headers=world.auth("physician"),
        json={"rxnorm_code": "310431", "display": "gabapentin 300 MG Oral Capsule",
              "dose_quantity": 1, "dose_unit": "capsule"})
    ctx = {"engine": engine}
    await open_opioid_review_tasks(ctx, today=today)
    await open_opioid_review_tasks(ctx, today=today)
    tasks = await _tasks(client, world, plan["id"])
    assert len(tasks) == 1
    due = (started + dt.timedelta(days=90)).isoformat()
    assert tasks[0]["due_on"] == due and tasks[0]["owner_id"] == str(world.staff["physician"].id)
    goals = {g["id"]: g for g in (await client.get(
        f"/api/v1/care-plans/{plan['id']}/goals", headers=world.auth("physician"))).json()}
    # the physician's goal is reviewed with the opioid review; the therapist's keeps its date
    assert goals[sleep_goal["id"]]["next_review_date"] == due
    assert goals[walk_goal["id"]]["next_review_date"] == walk_goal["next_review_date"]
    reviewed = await client.post(f"/api/v1/care-plans/{plan['id']}/opioid-reviews",
                                 headers=world.auth("physician"),
                                 json={"reviewed_on": today.isoformat(), "note": "benefits hold"})
    assert reviewed.status_code == 201, reviewed.text
    assert reviewed.json()["review_clock"]["due_on"] == (today + dt.timedelta(days=90)).isoformat()
    await open_opioid_review_tasks(ctx, today=today)
    tasks = await _tasks(client, world, plan["id"])
    assert [t["status"] for t in tasks] == ["completed"]
