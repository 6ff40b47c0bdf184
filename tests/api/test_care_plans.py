"""The shared plan over the internal API."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ClinicWorld, add_goal, create_plan

pytestmark = pytest.mark.asyncio


async def test_coordinator_builds_a_plan_with_a_four_discipline_team(
    client: Any, world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    assert plan["status"] == "active"
    assert sorted(m["discipline"] for m in plan["team"]) == [
        "acupuncturist",
        "physical_therapist",
        "physician",
        "psychologist",
    ]
    assert [m["discipline"] for m in plan["team"] if m["lead"]] == ["physician"]


async def test_whole_plan_read_costs_the_same_queries_whatever_its_size(
    client: Any, world: ClinicWorld, engine: AsyncEngine, app: Any
) -> None:
    plan = await create_plan(client, world)
    app_engine = app.state.engine
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(app_engine.sync_engine, "before_cursor_execute", count)
    try:
        await client.get(f"/api/v1/care-plans/{plan['id']}", headers=world.auth("physician"))
        small = len(statements)
        for n in range(12):
            await add_goal(client, world, plan["id"], "physical_therapist", f"goal {n}")
            await client.post(
                f"/api/v1/care-plans/{plan['id']}/activities",
                headers=world.auth("psychologist"),
                json={"kind": "therapy-session", "description": f"session {n}"},
            )
        statements.clear()
        response = await client.get(
            f"/api/v1/care-plans/{plan['id']}", headers=world.auth("physician")
        )
        large = len(statements)
    finally:
        event.remove(app_engine.sync_engine, "before_cursor_execute", count)
    assert len(response.json()["goals"]) == 12
    assert len(response.json()["activities"]) == 12
    assert large == small
    # token lookup, the plan as one document, the audit row
    assert large == 3, statements
