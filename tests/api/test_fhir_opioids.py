"""Opioid safety over FHIR: the total MME/day is an Observation, and the taper guardrail
hits not yet acknowledged are DetectedIssues implicating the plan, read by the same staff
with the same rules as the plan itself."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.observation import Observation

from service.settings import Settings
from tests.factories import ClinicWorld, create_plan, record_three_opioids

pytestmark = pytest.mark.asyncio

FHIR_JSON = "application/fhir+json"

async def _fast_taper(client: Any, world: ClinicWorld, plan_id: str) -> Any:
    """120 MME/day to 0 in ten weekly steps after three years: too fast at every step,
    abrupt at the last, no shared decision."""
    ids = await record_three_opioids(client, world, plan_id)
    start = dt.date.today() + dt.timedelta(days=7)
    created = await client.post(
        f"/api/v1/care-plans/{plan_id}/tapers",
        headers=world.auth("physician"),
        json={
            "opioid_since": (start - dt.timedelta(days=3 * 365)).isoformat(),
            "starts_on": start.isoformat(),
            "medication_statement_ids": ids,
            "steps": [
                {
                    "date": (start + dt.timedelta(weeks=i)).isoformat(),
                    "daily_mme": 120 - 12 * (i + 1),
                }
                for i in range(10)
            ],
        },
    )
    assert created.status_code == 201, created.text
    return created


async def _search(client: Any, headers: dict[str, str], implicated: str) -> dict[str, Any]:
    response = await client.get(
        "/fhir/DetectedIssue", params={"implicated": implicated}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body: dict[str, Any] = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    return body


async def test_metadata_lists_observation_and_detected_issue(client: Any) -> None:
    body = (await client.get("/fhir/metadata")).json()
    resources = body["rest"][0]["resource"]
    served = {r["type"]: [i["code"] for i in r["interaction"]] for r in resources}
    assert served["Observation"] == ["read"]
    assert served["DetectedIssue"] == ["read", "search-type"]
    params = {r["type"]: [p["name"] for p in r.get("searchParam", [])] for r in resources}
    assert params["DetectedIssue"] == ["implicated"]


async def test_total_mme_is_an_observation_every_discipline_reads(
    client: Any, world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    await record_three_opioids(client, world, plan["id"])
    for who in ("physician", "psychologist", "acupuncturist", "coordinator"):
        response = await client.get(f"/fhir/Observation/mme-{plan['id']}", headers=world.auth(who))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(FHIR_JSON)
        body = response.json()
        resource = Observation.model_validate(body)
        assert resource.id == f"mme-{plan['id']}"
        assert resource.status == "final"
        assert body["valueQuantity"]["value"] == pytest.approx(120)
        assert resource.valueQuantity.comparator is None
        assert resource.valueQuantity.code == "{MME}/d"
        assert resource.subject.reference == f"Patient/{plan['patient_id']}"
        assert resource.basedOn[0].reference == f"CarePlan/{plan['id']}"
        assert [i.coding[0].code for i in resource.interpretation] == [
            "mme-threshold-50",
            "mme-threshold-90",
        ]
        assert len(body["component"]) == 3


async def test_unacknowledged_guardrail_hits_are_detected_issues_of_the_plan(
    client: Any, world: ClinicWorld, settings: Settings
) -> None:
    plan = await create_plan(client, world)
    created = await _fast_taper(client, world, plan["id"])
    hits = created.json()["guardrails"]
    assert {h["kind"] for h in hits} == {"too-fast", "abrupt-discontinuation", "no-shared-decision"}
    team = world.auth("acupuncturist")
    bundle = await _search(client, team, f"CarePlan/{plan['id']}")
    assert bundle["total"] == len(hits) == len(bundle["entry"])
    assert [e["resource"]["detail"] for e in bundle["entry"]] == [h["reason"] for h in hits]
    base = f"{settings.public_base_url}/fhir"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        DetectedIssue.model_validate(resource)
        assert entry["fullUrl"] == f"{base}/DetectedIssue/{resource['id']}"
        assert entry["search"] == {"mode": "match"}
        assert resource["implicated"] == [{"reference": f"CarePlan/{plan['id']}"}]
        assert resource["status"] == "preliminary"
        read = await client.get(f"/fhir/DetectedIssue/{resource['id']}", headers=team)
        assert read.status_code == 200, read.text
        assert read.json() == resource
    severities = {e["resource"]["detail"]: e["resource"]["severity"] for e in bundle["entry"]}
    assert [severities[h["reason"]] for h in hits if h["kind"] == "abrupt-discontinuation"] == [
        "high"
    ]
    absolute = await _search(client, team, f"{base}/CarePlan/{plan['id']}")
    assert absolute["total"] == len(hits)

    first = hits[0]
    acknowledged = await client.post(
        f"/api/v1/care-plans/{plan['id']}/tapers/{created.json()['taper']['id']}/acknowledgements",
        headers={**world.auth("physician"), "If-Match": created.headers["etag"]},
        json={
            "kind": first["kind"],
            "step_index": first["step_index"],
            "reason": "Patient asked for a faster start",
        },
    )
    assert acknowledged.status_code == 200, acknowledged.text
    after = await _search(client, team, f"CarePlan/{plan['id']}")
    assert after["total"] == len(hits) - 1
    assert first["reason"] not in [e["resource"]["detail"] for e in after["entry"]]
    gone = bundle["entry"][0]["resource"]["id"]
    assert (await client.get(f"/fhir/DetectedIssue/{gone}", headers=team)).status_code == 404


async def test_another_clinic_and_an_outsider_see_nothing(
    client: Any, world: ClinicWorld, other_world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    await _fast_taper(client, world, plan["id"])
    found = await _search(client, world.auth("physician"), f"CarePlan/{plan['id']}")
    issue_id = found["entry"][0]["resource"]["id"]
    for headers in (other_world.auth("admin"), world.auth("outsider")):
        observation = await client.get(f"/fhir/Observation/mme-{plan['id']}", headers=headers)
        assert observation.status_code == 404
        assert observation.json()["resourceType"] == "OperationOutcome"
        assert observation.json()["issue"][0]["code"] == "not-found"
        issue = await client.get(f"/fhir/DetectedIssue/{issue_id}", headers=headers)
        assert issue.status_code == 404
        assert issue.json()["resourceType"] == "OperationOutcome"
        empty = await _search(client, headers, f"CarePlan/{plan['id']}")
        assert empty["total"] == 0 and "entry" not in empty
    unauthenticated = await client.get(f"/fhir/Observation/mme-{plan['id']}")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["resourceType"] == "OperationOutcome"
    unauthenticated = await client.get(
        "/fhir/DetectedIssue", params={"implicated": f"CarePlan/{plan['id']}"}
    )
    assert unauthenticated.status_code == 401


async def test_ids_and_searches_that_name_nothing(client: Any, world: ClinicWorld) -> None:
    headers = world.auth("coordinator")
    for path in (
        "/fhir/Observation/pain-score-1",
        f"/fhir/Observation/mme-{uuid.uuid4()}",
        "/fhir/DetectedIssue/abc",
        f"/fhir/DetectedIssue/taper-{uuid.uuid4().hex}-0123456789abcdef",
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.json()["resourceType"] == "OperationOutcome"
    missing = await client.get("/fhir/DetectedIssue", headers=headers)
    assert missing.status_code == 400
    assert missing.json()["issue"][0]["code"] == "required"
    assert missing.json()["issue"][0]["expression"] == ["implicated"]
    for implicated in ("Patient/123", "CarePlan/not-a-uuid", f"CarePlan/{uuid.uuid4()}"):
        assert (await _search(client, headers, implicated))["total"] == 0
