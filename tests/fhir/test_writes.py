"""FHIR create / update / delete, as an EHR does them, and what it reads back."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.factories import OXYCODONE_5_TABLET, ClinicWorld, create_plan

pytestmark = pytest.mark.asyncio

FHIR = {"Content-Type": "application/fhir+json"}
PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
    "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]}],
    "gender": "male",
    "birthDate": "1974-12-25",
    "telecom": [{"system": "email", "value": "peter@example.org"}],
    "address": [{"use": "home", "line": ["534 Erewhon St"], "city": "PleasantVille"}],
    "extension": [{"url": "https://ehr.example/fhir/StructureDefinition/favourite-colour",
                   "valueString": "green"}],
}


def headers(world: ClinicWorld, who: str = "coordinator", **extra: str) -> dict[str, str]:
    return {**world.auth(who), **FHIR, **extra}


async def create(client: Any, world: ClinicWorld, resource: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/fhir/{resource['resourceType']}", json=resource,
                                 headers=headers(world))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_patient_written_by_an_ehr_keeps_every_element_it_carried(
    client: Any, world: ClinicWorld
) -> None:
    response = await client.post("/fhir/Patient", json=PATIENT, headers=headers(world))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    for key, value in PATIENT.items():
        assert body[key] == value, key
    assert body["meta"]["versionId"] == "1"
    # and Concord knows the patient: the internal API sees the same person
    seen = await client.get(f"/api/v1/patients/{body['id']}", headers=world.auth("coordinator"))
    assert seen.status_code == 200
    assert seen.json()["family_name"] == "Chalmers"


async def test_update_needs_the_current_version_and_is_one_history_with_api_v1(
    client: Any, world: ClinicWorld
) -> None:
    body = await create(client, world, PATIENT)
    changed = copy.deepcopy(body)
    changed["name"][0]["family"] = "Chalmers-Smith"
    missing = await client.put(f"/fhir/Patient/{body['id']}", json=changed,
                               headers=headers(world))
    assert missing.status_code == 428
    ok = await client.put(f"/fhir/Patient/{body['id']}", json=changed,
                          headers=headers(world, **{"If-Match": 'W/"1"'}))
    assert ok.status_code == 200, ok.text
    assert ok.json()["meta"]["versionId"] == "2"
    assert ok.json()["address"] == PATIENT["address"]
    stale = await client.put(f"/fhir/Patient/{body['id']}", json=changed,
                             headers=headers(world, **{"If-Match": 'W/"1"'}))
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    # a change through /api/v1 is the next FHIR version, and the EHR's elements stay
    api = await client.get(f"/api/v1/patients/{body['id']}", headers=world.auth("coordinator"))
    patched = await client.patch(
        f"/api/v1/patients/{body['id']}", json={"given_name": "Pete"},
        headers={**world.auth("coordinator"), "If-Match": api.headers["etag"]})
    assert patched.status_code == 200, patched.text
    again = await client.put(f"/fhir/Patient/{body['id']}", json=changed,
                             headers=headers(world, **{"If-Match": 'W/"2"'}))
    assert again.status_code == 412


@pytest.mark.parametrize(
    ("content_type", "payload", "status"),
    [
        ("application/xml", b"<Patient/>", 415),
        ("application/fhir+json", b"{not json", 400),
        ("application/fhir+json", b'{"resourceType": "Goal"}', 400),
        ("application/fhir+json", b'{"resourceType": "Patient", "birthDate": "soon"}', 400),
    ],
)
async def test_bad_input_gets_an_operation_outcome_never_a_500(
    client: Any, world: ClinicWorld, content_type: str, payload: bytes, status: int
) -> None:
    response = await client.post("/fhir/Patient", content=payload,
                                 headers={**world.auth("coordinator"),
                                          "Content-Type": content_type})
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["diagnostics"]


async def test_an_invalid_element_is_named_by_its_path(client: Any, world: ClinicWorld) -> None:
    bad = {**PATIENT, "birthDate": "1974-13-45"}
    response = await client.post("/fhir/Patient", json=bad, headers=headers(world))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Patient.birthDate"]


async def test_a_reference_to_nothing_is_refused(client: Any, world: ClinicWorld) -> None:
    plan = {"resourceType": "CarePlan", "status": "draft", "intent": "plan",
            "subject": {"reference": "Patient/5f4a9d3e-0000-4000-8000-000000000000"}}
    response = await client.post("/fhir/CarePlan", json=plan, headers=headers(world))
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["expression"] == ["CarePlan.subject.reference"]


async def test_conditional_create_does_not_create_the_same_patient_twice(
    client: Any, world: ClinicWorld
) -> None:
    condition = {"If-None-Exist": "identifier=urn:oid:1.2.36.146.595.217.0.1|12345"}
    first = await client.post("/fhir/Patient", json=PATIENT, headers=headers(world, **condition))
    assert first.status_code == 201, first.text
    again = await client.post("/fhir/Patient", json=PATIENT, headers=headers(world, **condition))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # a second one with the same identifier makes the condition ambiguous
    await client.post("/fhir/Patient", json=PATIENT, headers=headers(world))
    ambiguous = await client.post("/fhir/Patient", json=PATIENT,
                                  headers=headers(world, **condition))
    assert ambiguous.status_code == 412


def oxycodone_statement(patient_id: str, plan_id: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement", "status": "active",
        "basedOn": [{"reference": f"CarePlan/{plan_id}"}],
        "medicationCodeableConcept": {"coding": [{
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "code": OXYCODONE_5_TABLET, "display": "oxycodone hydrochloride 5 MG Oral Tablet"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectivePeriod": {"start": "2026-11-01"},
        "dosage": [{"timing": {"repeat": {"frequency": 4, "period": 1, "periodUnit": "d"}},
                    "route": {"coding": [{"system": "http://snomed.info/sct",
                                          "code": "26643006"}]},
                    "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "TAB"}}]}],
        "extension": [{"url": "https://ehr.example/fhir/StructureDefinition/pharmacy",
                       "valueString": "Main St"}],
    }


async def test_a_medication_statement_from_fhir_counts_in_the_plans_mme(
    client: Any, world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    statement = oxycodone_statement(plan["patient_id"], plan["id"])
    created = await client.post("/fhir/MedicationStatement", json=statement,
                                headers=headers(world, "physician"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["extension"] == statement["extension"]
    assert "tag" not in body["meta"]
    # 4 x 5 mg oxycodone x 1.5 (CDC 2022) = 30 MME/day
    mme = await client.get(f"/fhir/Observation/mme-{plan['id']}",
                           headers=world.auth("psychologist"))
    assert mme.json()["valueQuantity"]["value"] == 30
    medications = await client.get(f"/api/v1/care-plans/{plan['id']}/medications",
                                   headers=world.auth("physician"))
    assert [m["id"] for m in medications.json()] == [body["id"]]


async def test_a_medication_concord_cannot_count_is_kept_and_says_so(
    client: Any, world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    statement = oxycodone_statement(plan["patient_id"], plan["id"])
    statement["medicationCodeableConcept"] = {"coding": [{
        "system": "http://snomed.info/sct", "code": "27658006", "display": "Amoxicillin"}]}
    created = await client.post("/fhir/MedicationStatement", json=statement,
                                headers=headers(world, "physician"))
    assert created.status_code == 201, created.text
    tag = created.json()["meta"]["tag"][0]
    assert tag["code"] == "not-in-mme" and "RxNorm" in tag["display"]
    assert created.json()["medicationCodeableConcept"] == statement["medicationCodeableConcept"]


async def test_a_clinician_writes_only_about_patients_whose_team_they_are_on(
    client: Any, world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    task = {"resourceType": "Task", "status": "requested", "intent": "order",
            "for": {"reference": f"Patient/{plan['patient_id']}"},
            "description": "Call about the pharmacy"}
    outsider = await client.post("/fhir/Task", json=task, headers=headers(world, "outsider"))
    assert outsider.status_code == 404, outsider.text
    member = await client.post("/fhir/Task", json=task, headers=headers(world, "physician"))
    assert member.status_code == 201, member.text


async def test_a_nul_character_is_refused_by_its_path(client: Any, world: ClinicWorld) -> None:
    """PostgreSQL's JSON cannot hold U+0000: refused up front, named, not a database error."""
    bad = {**PATIENT, "text": {"status": "generated\x00", "div": "<div>x</div>"}}
    response = await client.post("/fhir/Patient", json=bad, headers=headers(world))
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["expression"] == ["Patient.text.status"]
