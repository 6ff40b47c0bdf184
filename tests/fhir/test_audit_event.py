"""The audit trail as FHIR AuditEvents: who touched whose data, searchable by patient,
date, action, interaction, resource type and agent."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import tables as t
from tests.factories import ClinicWorld
from tests.fhir.store_fixtures import ids, link, path_of, put

pytestmark = pytest.mark.asyncio


async def trail(client: Any, engine: AsyncEngine, world: ClinicWorld) -> tuple[uuid.UUID, str]:
    """A coordinator reads a patient's plan, then searches for the patient: two events."""
    patient, plan = uuid.uuid4(), str(uuid.uuid4())
    await put(engine, world.id, {"resourceType": "Patient", "id": str(patient)},
              patient_id=patient)
    await put(engine, world.id, {"resourceType": "CarePlan", "id": plan, "status": "active",
                                 "intent": "plan",
                                 "subject": {"reference": f"Patient/{patient}"}},
              patient_id=patient)
    coordinator = world.auth("coordinator")
    assert (await client.get(f"/fhir/CarePlan/{plan}", headers=coordinator)).status_code == 200
    assert (await client.get(f"/fhir/Patient?_id={patient}", headers=coordinator)
            ).status_code == 200
    return patient, plan


async def search(client: Any, world: ClinicWorld, query: str, who: str = "admin") -> Any:
    response = await client.get(f"/fhir/AuditEvent{query}", headers=world.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_read_as_an_audit_event(
    client: Any, engine: AsyncEngine, world: ClinicWorld
) -> None:
    from fhir.resources.R4B.auditevent import AuditEvent

    patient, plan = await trail(client, engine, world)
    bundle = await search(client, world, f"?patient=Patient/{patient}")
    assert bundle["total"] == 2
    read, searched = (entry["resource"] for entry in bundle["entry"])
    AuditEvent.model_validate(read)
    assert read["type"]["code"] == "rest"
    assert read["subtype"] == [{"system": "http://hl7.org/fhir/restful-interaction",
                                "code": "read"}]
    assert read["action"] == "R"
    agent = read["agent"][0]
    assert agent["who"] == {"reference": f"Practitioner/{world.staff['coordinator'].id}"}
    assert agent["requestor"] is True
    assert agent["network"]["address"]
    assert [e["what"]["reference"] for e in read["entity"]] == [
        f"CarePlan/{plan}", f"Patient/{patient}"]
    assert read["entity"][1]["role"]["code"] == "1"
    assert dt.datetime.fromisoformat(read["recorded"]).tzinfo is not None
    assert (searched["subtype"][0]["code"], searched["action"]) == ("search-type", "E")
    one = await client.get(f"/fhir/AuditEvent/{read['id']}", headers=world.auth("coordinator"))
    assert one.status_code == 200 and one.json() == read


@pytest.mark.parametrize(("query", "expected"), [
    ("action=R", ["read"]),
    ("action=E,C", ["search-type"]),
    ("subtype=http://hl7.org/fhir/restful-interaction|search-type", ["search-type"]),
    ("entity-type=CarePlan", ["read"]),
    ("entity-type=http://hl7.org/fhir/resource-types|Patient", ["search-type"]),
    ("type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest",
     ["read", "search-type"]),
    ("date=ge2020-01-01&date=lt2999", ["read", "search-type"]),
    ("date=lt2020-01-01", []),
    ("_sort=-date", ["search-type", "read"]),
])
async def test_search_parameters(
    client: Any, engine: AsyncEngine, world: ClinicWorld, query: str, expected: list[str]
) -> None:
    patient, _ = await trail(client, engine, world)
    bundle = await search(client, world, f"?patient={patient}&{query}")
    assert [e["resource"]["subtype"][0]["code"] for e in bundle.get("entry", [])] == expected


async def test_agent_entity_and_paging(
    client: Any, engine: AsyncEngine, world: ClinicWorld
) -> None:
    patient, plan = await trail(client, engine, world)
    coordinator = world.staff["coordinator"].id
    assert (await search(client, world, f"?agent=Practitioner/{coordinator}"))["total"] == 2
    assert (await search(client, world, f"?agent={world.staff['admin'].id}"))["total"] == 0
    assert (await search(client, world, f"?entity=CarePlan/{plan}"))["total"] == 1
    page = await search(client, world, f"?patient={patient}&_count=1")
    seen = ids(page)
    while (following := link(page, "next")) is not None:
        page = (await client.get(path_of(following), headers=world.auth("admin"))).json()
        seen += ids(page)
    assert len(seen) == 2 and len(set(seen)) == 2


async def test_reading_the_trail_is_not_itself_recorded_and_stays_in_the_clinic(
    client: Any, engine: AsyncEngine, world: ClinicWorld, other_world: ClinicWorld
) -> None:
    patient, _ = await trail(client, engine, world)

    async def recorded() -> int:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(
                t.audit_events).where(t.audit_events.c.clinic_id == world.id)) or 0)

    before = await recorded()
    event_id = ids(await search(client, world, f"?patient={patient}"))[0]
    await client.get(f"/fhir/AuditEvent/{event_id}", headers=world.auth("admin"))
    assert await recorded() == before
    assert (await search(client, other_world, f"?patient={patient}"))["total"] == 0
    elsewhere = await client.get(f"/fhir/AuditEvent/{event_id}", headers=other_world.auth("admin"))
    assert elsewhere.status_code == 404


async def test_only_coordinators_and_admins_and_bad_input_is_400(
    client: Any, world: ClinicWorld
) -> None:
    denied = await client.get("/fhir/AuditEvent", headers=world.auth("physician"))
    assert denied.status_code == 403
    assert denied.json()["resourceType"] == "OperationOutcome"
    bad = await client.get("/fhir/AuditEvent?date=soon", headers=world.auth("admin"))
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["date"]
    strict = await client.get("/fhir/AuditEvent?colour=red",
                              headers={**world.auth("admin"), "Prefer": "handling=strict"})
    assert strict.status_code == 400 and strict.json()["issue"][0]["expression"] == ["colour"]
