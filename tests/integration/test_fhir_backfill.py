"""A clinic whose data predates the FHIR store is projected into it once."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fhir.store.backfill import backfill, clinics_missing
from service.db import tables as t
from tests.factories import ClinicWorld, add_goal, create_plan

pytestmark = pytest.mark.asyncio


async def test_data_from_before_the_store_is_served_after_a_backfill(
    client: Any, world: ClinicWorld, engine: AsyncEngine
) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world, plan["id"], "physical_therapist")
    async with engine.begin() as conn:  # as a database migrated from before the store
        for table in (t.fhir_search, t.fhir_resources, t.fhir_versions):
            await conn.execute(sa.delete(table).where(table.c.clinic_id == world.id))
    assert (await client.get(f"/fhir/CarePlan/{plan['id']}",
                             headers=world.auth("coordinator"))).status_code == 404
    assert world.id in await clinics_missing(engine)

    assert await backfill(engine) >= 1
    read = await client.get(f"/fhir/CarePlan/{plan['id']}", headers=world.auth("coordinator"))
    assert read.status_code == 200, read.text
    assert read.json()["goal"] == [{"reference": f"Goal/{goal['id']}"}]
    patient = await client.get(f"/fhir/Patient/{plan['patient_id']}",
                               headers=world.auth("coordinator"))
    assert patient.status_code == 200
    assert world.id not in await clinics_missing(engine)
    versions = await client.get(f"/fhir/CarePlan/{plan['id']}/_history",
                                headers=world.auth("coordinator"))
    assert versions.json()["total"] == 1
    await backfill(engine)  # nothing more to do: no new version
    again = await client.get(f"/fhir/CarePlan/{plan['id']}/_history",
                             headers=world.auth("coordinator"))
    assert again.json()["total"] == 1
