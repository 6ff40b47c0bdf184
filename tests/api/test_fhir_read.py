"""The plan as FHIR, read by the same staff with the same rules."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import ClinicWorld, add_goal, create_plan

pytestmark = pytest.mark.asyncio


async def test_metadata_lists_only_what_is_served(client: Any) -> None:
    response = await client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["fhirVersion"] == "4.0.1"
    served = {r["type"]: [i["code"] for i in r["interaction"]] for r in body["rest"][0]["resource"]}
    reads = ["read", "vread", "history-instance", "history-type", "search-type"]
    assert served == {
        "CarePlan": [*reads, "create", "update"],
        "CareTeam": [*reads, "create", "update", "delete"],
        "Patient": [*reads, "create", "update"],
        "Practitioner": reads,
        "Goal": [*reads, "create", "update", "delete"],
        "MedicationStatement": [*reads, "create", "update"],
        "Observation": ["read"],
        "DetectedIssue": ["read", "search-type"],
        "Communication": reads,
        "Questionnaire": [*reads, "create", "update", "delete"],
        "QuestionnaireResponse": [*reads, "create", "update"],
        "ServiceRequest": [*reads, "create", "update", "delete"],
        "Subscription": [*reads, "create", "update", "delete"],
        "Task": [*reads, "create", "update", "delete"],
        "AuditEvent": ["read", "search-type"],
    }
    assert [i["code"] for i in body["rest"][0]["interaction"]] == ["transaction", "batch"]


async def test_care_plan_and_goal_read_as_fhir(client: Any, world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world, plan["id"], "physical_therapist")
    response = await client.get(f"/fhir/CarePlan/{plan['id']}", headers=world.auth("psychologist"))
    assert response.status_code == 200, response.text
    resource = response.json()
    assert resource["goal"] == [{"reference": f"Goal/{goal['id']}"}]
    assert response.headers["etag"] == f'W/"{resource["meta"]["versionId"]}"'
    fhir_goal = (
        await client.get(f"/fhir/Goal/{goal['id']}", headers=world.auth("physician"))
    ).json()
    assert fhir_goal["description"]["text"] == "Walk to the corner shop and back"


async def test_fhir_errors_are_operation_outcomes(
    client: Any, world: ClinicWorld, other_world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    unauthenticated = await client.get(f"/fhir/CarePlan/{plan['id']}")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["resourceType"] == "OperationOutcome"
    other = await client.get(f"/fhir/CarePlan/{plan['id']}", headers=other_world.auth("admin"))
    assert other.status_code == 404
    assert other.json()["issue"][0]["code"] == "not-found"
    outsider = await client.get(f"/fhir/CarePlan/{plan['id']}", headers=world.auth("outsider"))
    assert outsider.status_code == 404


async def test_medication_statement_reads_as_rxnorm_coded_fhir(client: Any,
                                                               world: ClinicWorld) -> None:
    from fhir.resources.R4B.medicationstatement import MedicationStatement

    plan = await create_plan(client, world)
    recorded = await client.post(
        f"/api/v1/care-plans/{plan['id']}/medications", headers=world.auth("physician"),
        json={"rxnorm_code": "857002",
              "display": "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet",
              "dose_quantity": 1, "dose_unit": "tablet", "period_start": "2026-01-05",
              "schedule": {"count": 1, "period": 6, "unit": "h", "as_needed": True,
                           "max_per_day": 4}})
    assert recorded.status_code == 201
    response = await client.get(f"/fhir/MedicationStatement/{recorded.json()['id']}",
                                headers=world.auth("acupuncturist"))
    assert response.status_code == 200, response.text
    resource = MedicationStatement.model_validate(response.json())
    coding = resource.medicationCodeableConcept.coding[0]
    assert (coding.system, coding.code) == ("http://www.nlm.nih.gov/research/umls/rxnorm", "857002")
    dosage = resource.dosage[0]
    assert dosage.asNeededBoolean is True
    assert dosage.maxDosePerPeriod.numerator.value == 4
    assert str(resource.effectivePeriod.start) == "2026-01-05"
    outsider = await client.get(f"/fhir/MedicationStatement/{recorded.json()['id']}",
                                headers=world.auth("outsider"))
    assert outsider.status_code == 404


async def test_the_plans_references_resolve_to_patient_care_team_and_practitioners(
        client: Any, world: ClinicWorld) -> None:
    from fhir.resources.R4B.careteam import CareTeam
    from fhir.resources.R4B.patient import Patient
    from fhir.resources.R4B.practitioner import Practitioner

    plan = await create_plan(client, world)
    headers = world.auth("psychologist")
    care_plan = (await client.get(f"/fhir/CarePlan/{plan['id']}", headers=headers)).json()
    patient = await client.get(f"/fhir/{care_plan['subject']['reference']}", headers=headers)
    assert patient.status_code == 200
    assert Patient.model_validate(patient.json()).name[0].family == "Delgado"
    team = await client.get(f"/fhir/{care_plan['careTeam'][0]['reference']}", headers=headers)
    resource = CareTeam.model_validate(team.json())
    members = [p.member.reference for p in resource.participant]
    assert members[0] == care_plan["subject"]["reference"]  # the patient is on the team
    assert len(members) == 5
    practitioner = await client.get(f"/fhir/{members[1]}", headers=headers)
    assert Practitioner.model_validate(practitioner.json()).active is True
    other = await client.get(f"/fhir/{care_plan['subject']['reference']}",
                             headers=world.auth("outsider"))
    assert other.status_code == 404
