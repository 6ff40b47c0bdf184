"""The review-due scheduler opens one task per goal and due date, however often it runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ClinicWorld, add_goal, create_plan
from workers.reviews import open_review_due_tasks

pytestmark = pytest.mark.asyncio


async def test_due_goal_opens_one_task_for_its_owner(
    client: Any, world: ClinicWorld, engine: AsyncEngine
) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world, plan["id"], "physical_therapist")
    due = dt.date.fromisoformat(goal["next_review_date"])
    ctx = {"engine": engine}
    await open_review_due_tasks(ctx, today=due - dt.timedelta(days=1))
    none_yet = await client.get(
        "/api/v1/tasks", params={"care_plan_id": plan["id"]}, headers=world.auth("coordinator")
    )
    assert none_yet.json()["items"] == []
    await open_review_due_tasks(ctx, today=due)
    await open_review_due_tasks(ctx, today=due)  # a second cron tick, or a second worker
    tasks = (
        await client.get(
            "/api/v1/tasks", params={"owner": "me"}, headers=world.auth("physical_therapist")
        )
    ).json()["items"]
    assert len(tasks) == 1
    assert tasks[0]["kind"] == "review-due" and tasks[0]["goal_id"] == goal["id"]
    assert tasks[0]["due_on"] == goal["next_review_date"]
