"""The audit trail: every access to patient data, append-only in the database itself."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ClinicWorld, add_goal, create_plan

pytestmark = pytest.mark.asyncio


async def _trail(client: Any, world: ClinicWorld, patient_id: str) -> list[dict[str, Any]]:
    """The patient's audit trail as the clinic's admin reads it."""
    response = await client.get("/api/v1/audit-events", headers=world.auth("admin"),
                                params={"patient_id": patient_id, "limit": 500})
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_reads_and_writes_are_recorded_with_actor_and_request(
    client: Any, world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    await add_goal(client, world, plan["id"], "physical_therapist")
    await client.get(
        f"/api/v1/care-plans/{plan['id']}",
        headers={**world.auth("physician"), "X-Request-ID": "req-physician-read-1"},
    )
    events = await _trail(client, world, plan["patient_id"])
    steps = [(e["actor_id"], e["action"], e["resource_type"]) for e in events]
    coordinator = str(world.staff["coordinator"].id)
    assert (coordinator, "create", "Patient") in steps
    assert (coordinator, "create", "CarePlan") in steps
    assert steps.count((coordinator, "create", "CareTeamMember")) == 4
    assert (coordinator, "transition", "CarePlan") in steps
    assert (str(world.staff["physical_therapist"].id), "create", "Goal") in steps
    read = next(e for e in events if e["request_id"] == "req-physician-read-1")
    assert (read["actor_id"], read["action"]) == (str(world.staff["physician"].id), "read")
    assert read["client_address"]


async def test_a_failed_write_leaves_no_audit_row(client: Any, world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    denied = await client.post(
        f"/api/v1/care-plans/{plan['id']}/goals",
        headers={**world.auth("acupuncturist"), "X-Request-ID": "denied-1"},
        json={"description": "x", "owners": ["physical_therapist"]},
    )
    assert denied.status_code == 403
    events = await _trail(client, world, plan["patient_id"])
    assert not [e for e in events if e["request_id"] == "denied-1"]


async def test_only_admins_read_the_trail(client: Any, world: ClinicWorld) -> None:
    response = await client.get("/api/v1/audit-events", headers=world.auth("coordinator"))
    assert response.status_code == 403


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'tampered' WHERE clinic_id = :clinic",
        "DELETE FROM audit_events WHERE clinic_id = :clinic",
        "TRUNCATE audit_events",
    ],
)
async def test_the_database_refuses_to_change_or_remove_audit_rows(
    client: Any, world: ClinicWorld, engine: AsyncEngine, statement: str
) -> None:
    await create_plan(client, world)
    async with engine.connect() as conn:
        before = await conn.scalar(
            sa.text("SELECT count(*) FROM audit_events WHERE clinic_id = :clinic"),
            {"clinic": world.id},
        )
    assert before > 0
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement), {"clinic": world.id})
    async with engine.connect() as conn:
        after = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM audit_events"
                " WHERE clinic_id = :clinic AND action <> 'tampered'"
            ),
            {"clinic": world.id},
        )
    assert after == before
