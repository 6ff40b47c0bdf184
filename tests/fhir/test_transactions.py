"""A patient's plan created in one transaction Bundle, as an EHR sends it; a batch."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir.mapping import extensions as ext
from tests.factories import ClinicWorld

pytestmark = pytest.mark.asyncio

FHIR = {"Content-Type": "application/fhir+json"}


def plan_bundle(world: ClinicWorld) -> dict[str, Any]:
    physician = world.staff["physician"].id
    therapist = world.staff["physical_therapist"].id
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:8b0e6b5e-0000-4000-8000-000000000004",
                "resource": {
                    "resourceType": "CarePlan", "status": "active", "intent": "plan",
                    "title": "Back pain plan",
                    "subject": {"reference": "urn:uuid:8b0e6b5e-0000-4000-8000-000000000001"},
                    "careTeam": [{"reference":
                                  "urn:uuid:8b0e6b5e-0000-4000-8000-000000000002"}],
                    "goal": [{"reference": "urn:uuid:8b0e6b5e-0000-4000-8000-000000000003"}],
                    "addresses": [{"reference": "Condition/low-back-pain"}],
                    "activity": [{"detail": {
                        "status": "not-started",
                        "code": {"text": "exercise"},
                        "description": "Walk 10 minutes after breakfast",
                        "extension": [{"url": ext.OWNING_DISCIPLINE,
                                       "valueCode": "physical_therapist"}],
                        "scheduledTiming": {"repeat": {"frequency": 1, "period": 1,
                                                       "periodUnit": "d"}},
                    }}],
                },
                "request": {"method": "POST", "url": "CarePlan"},
            },
            {
                "fullUrl": "urn:uuid:8b0e6b5e-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:mrn", "value": "MRN-77"}],
                    "name": [{"family": "Rivera", "given": ["Ana"]}],
                    "birthDate": "1961-04-02",
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:8b0e6b5e-0000-4000-8000-000000000002",
                "resource": {
                    "resourceType": "CareTeam", "status": "active",
                    "subject": {"reference": "urn:uuid:8b0e6b5e-0000-4000-8000-000000000001"},
                    "participant": [
                        {"role": [{"text": "lead physician"}],
                         "member": {"reference": f"Practitioner/{physician}"}},
                        {"role": [{"text": "physical therapist"}],
                         "member": {"reference": f"Practitioner/{therapist}"}},
                    ],
                },
                "request": {"method": "POST", "url": "CareTeam"},
            },
            {
                "fullUrl": "urn:uuid:8b0e6b5e-0000-4000-8000-000000000003",
                "resource": {
                    "resourceType": "Goal", "lifecycleStatus": "active",
                    "description": {"text": "Walk my granddaughter to school"},
                    "subject": {"reference": "urn:uuid:8b0e6b5e-0000-4000-8000-000000000001"},
                    "expressedBy": {"reference":
                                    "urn:uuid:8b0e6b5e-0000-4000-8000-000000000001"},
                    "extension": [{"url": ext.OWNING_DISCIPLINE,
                                   "valueCode": "physical_therapist"}],
                },
                "request": {"method": "POST", "url": "Goal"},
            },
        ],
    }


async def test_a_transaction_creates_the_whole_plan_and_resolves_urn_references(
    client: Any, world: ClinicWorld
) -> None:
    response = await client.post("/fhir", json=plan_bundle(world),
                                 headers={**world.auth("coordinator"), **FHIR})
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in bundle["entry"]]
    assert statuses == ["201 Created"] * 4
    plan = bundle["entry"][0]["resource"]
    patient = bundle["entry"][1]["resource"]
    goal_id = bundle["entry"][3]["resource"]["id"]
    assert plan["subject"]["reference"] == f"Patient/{patient['id']}"
    assert plan["goal"] == [{"reference": f"Goal/{goal_id}"}]
    assert plan["addresses"] == [{"reference": "Condition/low-back-pain"}]
    # the same plan, seen by the team through /api/v1
    seen = await client.get(f"/api/v1/care-plans/{plan['id']}",
                            headers=world.auth("coordinator"))
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["status"] == "active"
    assert {m["discipline"]: m["lead"] for m in body["team"]} == {
        world.staff["physician"].discipline: True,
        world.staff["physical_therapist"].discipline: False,
    }
    assert [g["description"] for g in body["goals"]] == ["Walk my granddaughter to school"]
    assert body["goals"][0]["expressed_by"] == "patient"
    assert [a["description"] for a in body["activities"]] == ["Walk 10 minutes after breakfast"]


async def test_one_bad_entry_and_the_transaction_writes_nothing(
    client: Any, world: ClinicWorld
) -> None:
    bundle = plan_bundle(world)
    bad = copy.deepcopy(bundle)
    bad["entry"][3]["resource"]["lifecycleStatus"] = "dreaming"
    response = await client.post("/fhir", json=bad, headers={**world.auth("coordinator"), **FHIR})
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[3].resource.lifecycleStatus"]
    listed = await client.get("/api/v1/patients", headers=world.auth("coordinator"))
    assert all(p["family_name"] != "Rivera" for p in listed.json()["items"])


async def test_a_batch_keeps_the_good_entries_and_reports_the_bad(
    client: Any, world: ClinicWorld
) -> None:
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "Okafor",
                                                            "given": ["Ngozi"]}],
                      "birthDate": "1980-01-01"},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "name": [{"family": "Nobody"}]},
         "request": {"method": "POST", "url": "Patient"}},
    ]}
    response = await client.post("/fhir", json=batch, headers={**world.auth("coordinator"), **FHIR})
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"] == "201 Created"
    assert entries[1]["response"]["status"].startswith("422")
    assert entries[1]["response"]["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[1].resource.name[0].given"]
    listed = await client.get("/api/v1/patients", headers=world.auth("coordinator"))
    names = {p["family_name"] for p in listed.json()["items"]}
    assert "Okafor" in names and "Nobody" not in names
