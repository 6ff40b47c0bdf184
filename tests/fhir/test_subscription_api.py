"""Subscriptions over HTTP: written through /fhir/Subscription as an EHR would, refused
with an OperationOutcome naming the element, and watched through /api/v1/subscriptions
(status, attempts in a row, last error, events) by the clinic's coordinators and
admins."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fhir.mapping import extensions as ext
from fhir.subscriptions import topics
from fhir.subscriptions.delivery import DeliveryConfig, deliver_due
from fhir.subscriptions.matching import match_changes
from service.db.uow import unit_of_work
from service.settings import Settings
from tests.factories import ClinicWorld

pytestmark = pytest.mark.asyncio
API = "/api/v1/subscriptions"
FHIR_JSON = "application/fhir+json"
SECRET = "a-secret-long-enough-to-sign-with"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def subscription(endpoint: str, criteria: str, **changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Subscription", "status": "requested",
        "reason": "Keep the EHR's copy of the care plan current", "criteria": criteria,
        "channel": {"type": "rest-hook", "endpoint": endpoint,
                    "payload": "application/fhir+json",
                    "header": ["Authorization: Bearer ehr-token"]},
        "extension": [{"url": ext.SUBSCRIPTION_SECRET, "valueString": SECRET}],
        **changes,
    }


async def create(client: Any, world: ClinicWorld, body: dict[str, Any]) -> Any:
    return await client.post("/fhir/Subscription", json=body,
                             headers={**world.auth("admin"), "Content-Type": FHIR_JSON})


async def change_a_plan(engine: AsyncEngine, world: ClinicWorld, patient: str) -> None:
    plan = {"resourceType": "CarePlan", "id": f"plan-{uuid.uuid4().hex[:8]}",
            "status": "active", "intent": "plan", "subject": {"reference": f"Patient/{patient}"}}
    async with unit_of_work(engine) as uow:
        await uow.store.put(world.id, plan, now=dt.datetime.now(dt.UTC), patient_id=None)


async def test_a_subscription_written_over_fhir_is_active_without_its_secret(
        client: Any, world: ClinicWorld) -> None:
    response = await create(client, world, subscription(
        "https://ehr.example/fhir", "CarePlan?patient=Patient/123"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "active"
    assert SECRET not in response.text
    read = await client.get(f"/fhir/Subscription/{body['id']}", headers=world.auth("admin"))
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "active" and SECRET not in read.text

    listed = await client.get(API, headers=world.auth("coordinator"))
    assert listed.status_code == 200, listed.text
    [item] = [i for i in listed.json()["items"] if i["id"] == body["id"]]
    assert item["status"] == "active" and item["signed"] is True
    assert item["criteria"] == "CarePlan?patient=Patient/123"
    assert SECRET not in listed.text


async def test_a_topic_subscription_gets_its_profile_and_chosen_content(
        client: Any, world: ClinicWorld, settings: Settings) -> None:
    topic = topics.topic_url(f"{settings.public_base_url}/fhir", "goal-changes")
    body = subscription("https://ehr.example/notify", topic)
    body["_criteria"] = {"extension": [{"url": topics.FILTER_CRITERIA,
                                        "valueString": "Goal?patient=Patient/123"}]}
    response = await create(client, world, body)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert topics.BACKPORT_SUBSCRIPTION in stored["meta"]["profile"]
    assert stored["channel"]["_payload"]["extension"] == [
        {"url": topics.PAYLOAD_CONTENT, "valueCode": "id-only"}]


@pytest.mark.parametrize(("change", "expression"), [
    ({"channel": {"type": "email", "endpoint": "mailto:a@example.org"}},
     "Subscription.channel.type"),
    ({"criteria": "Observation?code=1234-5"}, "Subscription.criteria"),
    ({"criteria": "CarePlan?date=ge2026-01-01"}, "Subscription.criteria"),
    ({"channel": {"type": "rest-hook", "endpoint": "file:///etc/passwd"}},
     "Subscription.channel.endpoint"),
])
async def test_a_subscription_it_cannot_honour_is_an_operation_outcome(
        client: Any, world: ClinicWorld, change: dict[str, Any], expression: str) -> None:
    body = {**subscription("https://ehr.example/fhir", "CarePlan"), **change}
    response = await create(client, world, body)
    assert 400 <= response.status_code < 500, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [expression]
    listed = await client.get(API, headers=world.auth("admin"))
    assert listed.json()["items"] == []


async def test_failing_delivery_shows_on_the_subscription_and_in_the_api(
        client: Any, engine: AsyncEngine, world: ClinicWorld, settings: Settings) -> None:
    patient = f"pat-{uuid.uuid4().hex[:8]}"
    response = await create(client, world, subscription(
        f"http://127.0.0.1:{closed_port()}/fhir", f"CarePlan?patient=Patient/{patient}"))
    assert response.status_code == 201, response.text
    sid = response.json()["id"]
    for _ in range(2):
        await change_a_plan(engine, world, patient)
    base = f"{settings.public_base_url}/fhir"
    config = DeliveryConfig(error_after=3, timeout=2.0)
    clock = dt.datetime.now(dt.UTC)
    for _ in range(3):
        await match_changes(engine, now=clock, clinic_id=world.id)
        await deliver_due(engine, base, now=clock, config=config, clinic_id=world.id)
        clock += config.backoff.cap

    read = await client.get(f"/fhir/Subscription/{sid}", headers=world.auth("admin"))
    resource = read.json()
    assert resource["status"] == "error"
    assert resource["error"] == "ConnectError: could not connect to the endpoint"
    [delivery] = [e for e in resource["extension"] if e["url"] == ext.SUBSCRIPTION_DELIVERY]
    assert delivery["extension"] == [{"url": "attempts", "valueUnsignedInt": 3}]

    detail = await client.get(f"{API}/{sid}", headers=world.auth("coordinator"))
    assert detail.status_code == 200, detail.text
    view = detail.json()
    assert (view["status"], view["attempts"], view["pending"]) == ("error", 3, 2)
    assert view["last_error"] == resource["error"]
    assert view["events_since_start"] == 2 and view["next_attempt_at"] is not None
    first, second = sorted(view["events"], key=lambda e: e["event_number"])
    assert (first["status"], first["attempts"], first["last_error"]) == (
        "pending", 3, resource["error"])
    assert (second["status"], second["attempts"]) == ("pending", 0)
    assert first["focus"].startswith("CarePlan/") and first["method"] == "create"


async def test_only_coordinators_and_admins_of_the_clinic_see_subscriptions(
        client: Any, world: ClinicWorld, other_world: ClinicWorld) -> None:
    response = await create(client, world, subscription("https://ehr.example/fhir",
                                                         "CarePlan"))
    sid = response.json()["id"]
    assert (await client.get(API, headers=world.auth("physician"))).status_code == 403
    assert (await client.get(f"{API}/{sid}", headers=world.auth("physician"))
            ).status_code == 403
    assert (await client.get(f"{API}/{sid}", headers=other_world.auth("admin"))
            ).status_code == 404
    theirs = await client.get(API, headers=other_world.auth("admin"))
    assert sid not in theirs.text
    assert (await client.get(f"{API}/{sid}?events=0", headers=world.auth("admin"))
            ).status_code == 422


async def test_the_capability_statement_lists_the_topics(client: Any, settings: Settings
                                                         ) -> None:
    response = await client.get("/fhir/metadata")
    assert response.status_code == 200, response.text
    [entry] = [r for r in response.json()["rest"][0]["resource"]
               if r["type"] == "Subscription"]
    base = f"{settings.public_base_url}/fhir"
    assert [e["valueCanonical"] for e in entry["extension"]
            if e["url"] == topics.TOPIC_CANONICAL] == [
        f"{base}/SubscriptionTopic/{name}" for name in topics.TOPICS]
    assert topics.BACKPORT_SUBSCRIPTION in entry["supportedProfile"]


async def test_a_clinician_does_not_read_subscriptions_and_their_headers(
    client: Any, world: ClinicWorld
) -> None:
    """A subscription's channel headers may hold the receiver's credentials."""
    for who in ("physician", "psychologist"):
        listed = await client.get("/fhir/Subscription", headers=world.auth(who))
        assert listed.status_code == 403, listed.text
        assert listed.json()["resourceType"] == "OperationOutcome"
    assert (await client.get("/fhir/Subscription",
                             headers=world.auth("coordinator"))).status_code == 200
