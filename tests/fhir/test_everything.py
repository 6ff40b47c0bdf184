"""Patient/$everything: the patient's record from the store, paged."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ClinicWorld
from tests.fhir.store_fixtures import delete, ids, link, path_of, put

pytestmark = pytest.mark.asyncio

T0 = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)


async def record(engine: AsyncEngine, world: ClinicWorld) -> tuple[uuid.UUID, uuid.UUID]:
    """A patient with a plan, a goal, a team naming two practitioners, a medication and a
    deleted goal; another patient with a plan; a practitioner nobody names."""
    rosa, other = uuid.uuid4(), uuid.uuid4()
    clinic = world.id

    async def at(minutes: int, resource: dict[str, Any], patient: uuid.UUID | None) -> None:
        await put(engine, clinic, resource, patient_id=patient,
                  at=T0 + dt.timedelta(minutes=minutes))

    await at(0, {"resourceType": "Patient", "id": str(rosa), "gender": "female"}, rosa)
    await at(1, {"resourceType": "Practitioner", "id": "dr-a", "name": [{"text": "A"}]}, None)
    await at(2, {"resourceType": "Practitioner", "id": "pt-b", "name": [{"text": "B"}]}, None)
    await at(3, {"resourceType": "Practitioner", "id": "nobody", "name": [{"text": "C"}]}, None)
    subject = {"reference": f"Patient/{rosa}"}
    await at(4, {"resourceType": "CarePlan", "id": "plan", "status": "active",
                 "intent": "plan", "subject": subject,
                 "author": {"reference": "http://127.0.0.1:8000/fhir/Practitioner/pt-b"}}, rosa)
    await at(5, {"resourceType": "CareTeam", "id": "team", "subject": subject,
                 "participant": [{"member": {"reference": "Practitioner/dr-a"}}]}, rosa)
    await at(6, {"resourceType": "Goal", "id": "walk", "lifecycleStatus": "active",
                 "description": {"text": "walk"}, "subject": subject}, rosa)
    await at(7, {"resourceType": "Goal", "id": "gone", "lifecycleStatus": "active",
                 "description": {"text": "gone"}, "subject": subject}, rosa)
    await delete(engine, clinic, "Goal", "gone", at=T0 + dt.timedelta(minutes=8))
    await at(9, {"resourceType": "MedicationStatement", "id": "oxy", "status": "active",
                 "medicationCodeableConcept": {"text": "oxycodone"}, "subject": subject}, rosa)
    await at(10, {"resourceType": "CarePlan", "id": "not-hers", "status": "active",
                  "intent": "plan", "subject": {"reference": f"Patient/{other}"}}, other)
    return rosa, other


async def everything(client: Any, world: ClinicWorld, patient: uuid.UUID | str,
                     query: str = "", who: str = "coordinator") -> Any:
    return await client.get(f"/fhir/Patient/{patient}/$everything{query}",
                            headers=world.auth(who))


async def test_the_patient_what_is_theirs_and_the_practitioners_named(
    client: Any, engine: AsyncEngine, world: ClinicWorld
) -> None:
    rosa, _ = await record(engine, world)
    response = await everything(client, world, rosa)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "searchset" and bundle["total"] == 7
    assert ids(bundle) == [str(rosa), "plan", "team", "walk", "oxy", "dr-a", "pt-b"]


async def test_pages_by_count_and_since(
    client: Any, engine: AsyncEngine, world: ClinicWorld
) -> None:
    rosa, _ = await record(engine, world)
    page = (await everything(client, world, rosa, "?_count=3")).json()
    seen = ids(page)
    while (following := link(page, "next")) is not None:
        page = (await client.get(path_of(following), headers=world.auth("coordinator"))).json()
        seen += ids(page)
    assert seen == [str(rosa), "plan", "team", "walk", "oxy", "dr-a", "pt-b"]
    since = (T0 + dt.timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    recent = (await everything(client, world, rosa, f"?_since={since}")).json()
    assert ids(recent) == ["team", "walk", "oxy"]


async def test_unknown_deleted_other_clinic_and_off_team(
    client: Any, engine: AsyncEngine, world: ClinicWorld, other_world: ClinicWorld
) -> None:
    rosa, _ = await record(engine, world)
    assert (await everything(client, world, uuid.uuid4())).status_code == 404
    assert (await everything(client, other_world, rosa)).status_code == 404
    assert (await everything(client, world, rosa, who="physician")).status_code == 404
    await delete(engine, world.id, "Patient", str(rosa))
    assert (await everything(client, world, rosa)).status_code == 410
    wrong = await client.get("/fhir/Goal/walk/$everything", headers=world.auth("coordinator"))
    assert wrong.status_code == 404
    assert wrong.json()["issue"][0]["code"] == "not-supported"
