"""The done story, as one EHR integrator lives it, knowing only the FHIR base URL (and the
client id the clinic gave it for its public key):

1. read the CapabilityStatement, find the token endpoint there, authenticate as a backend
   service (client_credentials, an RS384 client assertion);
2. create a patient's plan in one transaction Bundle;
3. search it (with _include) and page through the patient's goals;
4. update the plan with version checks;
5. subscribe to changes of the patient's plans (rest-hook, signed), and receive the
   notification when the clinic changes the plan, then read what changed.

Delivery runs in the arq worker; here the test runs the worker's two subscription jobs
(match, deliver) itself, against a real HTTP receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import MultipleResourcesFound

from fhir.mapping import extensions as ext
from tests.acceptance import samples
from tests.acceptance.integrator import (
    LiveServer,
    backend_token,
    plain,
    register,
    token_endpoint_of,
)
from tests.factories import ClinicWorld
from tests.integration.workers.local_http import Answer, serve
from tests.smart.support import KeyPair
from workers.subscriptions import deliver_subscriptions, match_subscriptions

pytestmark = pytest.mark.asyncio
SECRET = "shared-with-the-ehr-hook-receiver"


@dataclass
class Hook:
    """The EHR's receiving end: what arrived, in order."""

    received: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        with self.lock:
            self.received.append((method, path, dict(headers.items()), body))
        return 200, b"", {}


def signature_holds(headers: dict[str, str], body: bytes) -> bool:
    """The check the EHR's receiver makes, as Concord documents its signature:
    HMAC-SHA256 over `{timestamp}.{event id}.{event}.{focus}.` and the body."""
    signed = (f"{headers['X-Concord-Timestamp']}.{headers['X-Concord-Event-Id']}."
              f"{headers['X-Concord-Event']}.{headers['X-Concord-Focus']}.").encode() + body
    expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("X-Concord-Signature", ""))


async def authenticate(server: LiveServer, world: ClinicWorld, keys: KeyPair) -> str:
    async with httpx.AsyncClient(timeout=30) as bare:
        # Out of band: the clinic's admin registers the EHR and its public key.
        client_id = (await register(bare, server, world, keys))["client_id"]
        statement = await AsyncFHIRClient(server.fhir_base).execute("metadata", method="get")
        security = statement["rest"][0]["security"]
        assert "SMART-on-FHIR" in [c["code"] for s in security["service"]
                                   for c in s["coding"]]
        token = await backend_token(bare, token_endpoint_of(plain(statement)), keys, client_id)
    assert token["scope"] == "system/*.cruds"
    return str(token["access_token"])


async def test_the_done_story(live_server: LiveServer, world: ClinicWorld, ehr_keys: KeyPair,
                              worker_ctx: dict[str, Any]) -> None:
    # 1. discover and authenticate
    token = await authenticate(live_server, world, ehr_keys)
    fhir = AsyncFHIRClient(live_server.fhir_base, authorization=f"Bearer {token}")

    def versioned(version: str) -> AsyncFHIRClient:
        return AsyncFHIRClient(live_server.fhir_base, authorization=f"Bearer {token}",
                               extra_headers={"If-Match": f'W/"{version}"'})

    # 2. the patient's plan in one transaction
    number = samples.mrn()
    response = await fhir.execute("", method="post",
                                  data=samples.plan_transaction(world, number))
    assert response["type"] == "transaction-response"
    created = {e["resource"]["resourceType"]: e["resource"]["id"] for e in response["entry"]}
    patient_id, plan_id = created["Patient"], created["CarePlan"]

    # 3. search and page
    [patient] = await fhir.resources("Patient").search(
        identifier=f"{samples.MRN}|{number}").fetch_all()
    assert patient.id == patient_id
    plans = fhir.resources("CarePlan").search(patient=patient, status="active")
    bundle = plain(await plans.include("CarePlan", "goal").include("CarePlan", "care-team")
                   .include("CarePlan", "subject").fetch_raw())
    assert {(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]} \
        == {("CarePlan", "match"), ("Goal", "include"), ("CareTeam", "include"),
            ("Patient", "include")}
    new_goals = []
    for text in ("Sleep through the night", "Back to the allotment on Saturdays"):
        goal = await fhir.resource("Goal", **samples.goal(patient_id, text, "physician")).save()
        new_goals.append({"reference": f"Goal/{goal.id}"})
    goals = await fhir.resources("Goal").search(patient=patient).limit(1).fetch_all()
    assert len(goals) == len({g.id for g in goals}) == 3

    # 4. update with version checks: the plan takes the two new goals in
    plan = await fhir.reference("CarePlan", plan_id).to_resource()
    assert plan["meta"]["versionId"] == "1"
    await versioned("1").resource("CarePlan", **{
        **plain(plan), "title": "Back pain: walking, sleep, the allotment",
        "goal": [*plain(plan["goal"]), *new_goals]}).save()
    with pytest.raises(MultipleResourcesFound):  # fhirpy's name for the 412
        await versioned("1").resource("CarePlan", **plain(plan)).save()
    plan = await fhir.reference("CarePlan", plan_id).to_resource()
    assert plan["title"] == "Back pain: walking, sleep, the allotment"
    assert len(plan["goal"]) == 3

    # 5. subscribe, the clinic changes the plan, the hook hears of it
    hook = Hook()
    with serve(hook) as port:
        subscription = await fhir.resource("Subscription", **{
            **samples.subscription(f"http://127.0.0.1:{port}/concord-hook",
                                   f"CarePlan?patient=Patient/{patient_id}"),
            "extension": [{"url": ext.SUBSCRIPTION_SECRET, "valueString": SECRET}],
        }).save()
        assert subscription["status"] == "active"
        assert SECRET not in str(plain(subscription))
        async with httpx.AsyncClient(base_url=live_server.url, timeout=30,
                                     headers=world.auth("coordinator")) as clinic:
            current = await clinic.get(f"/api/v1/care-plans/{plan_id}")
            paused = await clinic.post(f"/api/v1/care-plans/{plan_id}/status",
                                       json={"status": "on-hold"},
                                       headers={"If-Match": current.headers["etag"]})
            assert paused.status_code == 200, paused.text
        assert await match_subscriptions(worker_ctx) >= 1
        assert await deliver_subscriptions(worker_ctx) >= 1
    [(method, path, headers, body)] = hook.received
    assert (method, path) == ("POST", "/concord-hook")
    assert headers["X-Concord-Event"] == "update"
    assert headers["X-Concord-Event-Id"] == f"{subscription.id}:1"
    assert signature_holds(headers, body)
    focus = headers["X-Concord-Focus"]
    assert focus.startswith(f"CarePlan/{plan_id}/_history/")
    changed = await fhir.execute(focus, method="get")
    assert changed["status"] == "on-hold"
    assert (await fhir.reference("CarePlan", plan_id).to_resource())["status"] == "on-hold"
