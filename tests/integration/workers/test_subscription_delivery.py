"""FHIR subscriptions end to end against real PostgreSQL and a real HTTP receiver on
loopback: a Subscription is written the way the FHIR write path writes it (on_write, then
the store), changes are written to the store, and the worker's passes (match, deliver)
send what a receiver should get. Each test works in its own clinic and drives only that
clinic's subscriptions."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fhir.mapping import extensions as ext
from fhir.subscriptions import topics
from fhir.subscriptions.delivery import DeliveryConfig, deliver_due
from fhir.subscriptions.matching import match_changes
from fhir.subscriptions.notify import verify_signature
from fhir.subscriptions.registry import on_delete, on_write
from service.db import tables as t
from service.db.repos.subscriptions import SubscriptionRepository
from service.db.uow import unit_of_work
from service.settings import Settings
from tests.factories import ClinicWorld, create_plan

pytestmark = pytest.mark.asyncio
SECRET = "s3cret-shared-with-the-receiver"
CONFIG = DeliveryConfig(timeout=3.0)


# -- a receiver: a real HTTP server that records what it is sent --------------------------

@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> str:
        return self.headers.get("X-Concord-Event-Id", "")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers 200 unless `answers` scripts the next statuses; `stop()` closes the port
    (connections are refused) and `start()` opens it again on the same port."""

    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                with receiver._lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.hits.append(Hit(self.command, self.path, dict(self.headers.items()),
                                             raw, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def of(self, subscription_id: str, accepted_only: bool = True) -> list[Hit]:
        """The requests for one subscription, in arrival order."""
        with self._lock:
            return [h for h in self.hits if h.event.startswith(f"{subscription_id}:")
                    and (h.status < 300 or not accepted_only)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    fake = Receiver()
    fake.start()
    yield fake
    fake.stop()


# -- writing as the FHIR write path does -----------------------------------------------------

async def subscribe(engine: AsyncEngine, clinic_id: uuid.UUID, resource: dict[str, Any],
                    now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    async with unit_of_work(engine) as uow:
        current = await uow.store.current(clinic_id, "Subscription", resource["id"],
                                          for_update=True)
        body = await on_write(uow, clinic_id, resource, now)
        stored = await uow.store.put(clinic_id, body, now=now, patient_id=None,
                                     previous=current)
    return stored.resource


async def unsubscribe(engine: AsyncEngine, clinic_id: uuid.UUID, subscription_id: str) -> None:
    now = dt.datetime.now(dt.UTC)
    async with unit_of_work(engine) as uow:
        current = await uow.store.current(clinic_id, "Subscription", subscription_id,
                                          for_update=True)
        assert current is not None
        await on_delete(uow, clinic_id, subscription_id)
        await uow.store.delete(clinic_id, current, now)


async def write(engine: AsyncEngine, clinic_id: uuid.UUID, resource: dict[str, Any]) -> int:
    """Create or update `resource` in the store; returns its new version."""
    async with unit_of_work(engine) as uow:
        current = await uow.store.current(clinic_id, resource["resourceType"], resource["id"],
                                          for_update=True)
        stored = await uow.store.put(clinic_id, resource, now=dt.datetime.now(dt.UTC),
                                     patient_id=None, previous=current)
    return stored.version_id


async def remove(engine: AsyncEngine, clinic_id: uuid.UUID, resource_type: str,
                 resource_id: str) -> None:
    async with unit_of_work(engine) as uow:
        current = await uow.store.current(clinic_id, resource_type, resource_id,
                                          for_update=True)
        assert current is not None
        await uow.store.delete(clinic_id, current, dt.datetime.now(dt.UTC))


async def stored_subscription(engine: AsyncEngine, clinic_id: uuid.UUID,
                              subscription_id: str) -> dict[str, Any]:
    async with unit_of_work(engine) as uow:
        current = await uow.store.current(clinic_id, "Subscription", subscription_id)
    assert current is not None
    return current.resource


async def run(engine: AsyncEngine, settings: Settings, clinic_id: uuid.UUID,
              now: dt.datetime | None = None, config: DeliveryConfig = CONFIG) -> int:
    """One worker pass for this clinic: match, then deliver."""
    await match_changes(engine, now=now, clinic_id=clinic_id)
    return await deliver_due(engine, fhir_base(settings), now=now, config=config,
                             clinic_id=clinic_id)


def fhir_base(settings: Settings) -> str:
    return f"{settings.public_base_url}/fhir"


# -- resources -----------------------------------------------------------------------------

def care_plan(plan_id: str, patient: str, status: str = "active", **extra: Any
              ) -> dict[str, Any]:
    return {"resourceType": "CarePlan", "id": plan_id, "status": status, "intent": "plan",
            "title": "Back pain plan", "subject": {"reference": f"Patient/{patient}"},
            **extra}


def goal(goal_id: str, patient: str, lifecycle: str = "active", **extra: Any
         ) -> dict[str, Any]:
    return {"resourceType": "Goal", "id": goal_id, "lifecycleStatus": lifecycle,
            "description": {"text": "Walk to the park without stopping"},
            "subject": {"reference": f"Patient/{patient}"}, **extra}


def medication(statement_id: str, patient: str, status: str = "active") -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "id": statement_id, "status": status,
            "medicationCodeableConcept": {"coding": [{
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1049621"}]},
            "subject": {"reference": f"Patient/{patient}"}}


def classic(receiver: Receiver, criteria: str, *, payload: bool = True,
            secret: str | None = SECRET, elements: tuple[str, ...] = (),
            headers: tuple[str, ...] = ()) -> dict[str, Any]:
    extension = [{"url": ext.SUBSCRIPTION_ELEMENTS, "valueString": e} for e in elements]
    if secret:
        extension.append({"url": ext.SUBSCRIPTION_SECRET, "valueString": secret})
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": receiver.url("/fhir")}
    if payload:
        channel["payload"] = "application/fhir+json"
    if headers:
        channel["header"] = list(headers)
    resource: dict[str, Any] = {
        "resourceType": "Subscription", "id": str(uuid.uuid4()),
        "status": "requested", "reason": "Keep the EHR's copy of the plan current",
        "criteria": criteria, "channel": channel}
    if extension:
        resource["extension"] = extension
    return resource


def backport(receiver: Receiver, settings: Settings, topic: str, filters: tuple[str, ...],
             content: str = "full-resource", *, elements: tuple[str, ...] = (),
             secret: str | None = SECRET) -> dict[str, Any]:
    extension = [{"url": ext.SUBSCRIPTION_ELEMENTS, "valueString": e} for e in elements]
    if secret:
        extension.append({"url": ext.SUBSCRIPTION_SECRET, "valueString": secret})
    resource: dict[str, Any] = {
        "resourceType": "Subscription", "id": str(uuid.uuid4()),
        "meta": {"profile": [topics.BACKPORT_SUBSCRIPTION]},
        "status": "requested", "reason": "Tell the EHR when the plan changes",
        "criteria": topics.topic_url(fhir_base(settings), topic),
        "_criteria": {"extension": [{"url": topics.FILTER_CRITERIA, "valueString": f}
                                    for f in filters]},
        "channel": {
            "type": "rest-hook", "endpoint": receiver.url("/notify"),
            "payload": "application/fhir+json",
            "_payload": {"extension": [{"url": topics.PAYLOAD_CONTENT,
                                        "valueCode": content}]},
        },
    }
    if extension:
        resource["extension"] = extension
    return resource


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_signed(hit: Hit, secret: str = SECRET) -> None:
    assert hit.headers["X-Concord-Signature"].startswith("sha256=")
    assert verify_signature(secret, hit.headers, hit.body), hit.headers


# -- classic R4 rest-hook ------------------------------------------------------------------------

async def test_a_changed_care_plan_is_put_to_the_endpoint_once_and_signed(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    patient, plan_id = new_id("pat"), new_id("plan")
    await write(engine, world.id, care_plan(plan_id, patient))
    subscription = await subscribe(engine, world.id, classic(
        receiver, f"CarePlan?patient=Patient/{patient}&status=active",
        headers=("Authorization: Bearer ehr-token-1",)))
    assert subscription["status"] == "active"
    assert ext.SUBSCRIPTION_SECRET not in json.dumps(subscription)

    version = await write(engine, world.id, care_plan(plan_id, patient, title="Walk daily"))
    await write(engine, world.id, care_plan(new_id("plan"), new_id("pat")))  # another patient
    await write(engine, world.id, goal(new_id("goal"), patient))  # another type
    assert await run(engine, settings, world.id) == 1
    assert await run(engine, settings, world.id) == 0

    [hit] = receiver.of(subscription["id"])
    assert (hit.method, hit.path) == ("PUT", f"/fhir/CarePlan/{plan_id}")
    assert hit.headers["Content-Type"] == "application/fhir+json"
    assert hit.headers["Authorization"] == "Bearer ehr-token-1"
    assert hit.headers["X-Concord-Event-Id"] == f"{subscription['id']}:1"
    assert hit.headers["X-Concord-Event"] == "update"
    assert hit.headers["X-Concord-Focus"] == f"CarePlan/{plan_id}/_history/{version}"
    body = hit.json()
    assert (body["id"], body["title"], body["meta"]["versionId"]) == (
        plan_id, "Walk daily", str(version))
    assert_signed(hit)
    tampered = {**hit.headers, "X-Concord-Focus": f"CarePlan/other/_history/{version}"}
    assert not verify_signature(SECRET, tampered, hit.body)


async def test_without_a_payload_each_change_is_an_empty_post_naming_what_changed(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    patient, goal_id = new_id("pat"), new_id("goal")
    subscription = await subscribe(engine, world.id, classic(
        receiver, f"Goal?patient={patient}", payload=False, secret=None))
    await write(engine, world.id, goal(goal_id, patient))
    await write(engine, world.id, goal(goal_id, patient, lifecycle="completed"))
    await remove(engine, world.id, "Goal", goal_id)
    assert await run(engine, settings, world.id) == 3

    hits = receiver.of(subscription["id"])
    assert [(h.method, h.path, h.body) for h in hits] == [("POST", "/fhir", b"")] * 3
    assert [h.headers["X-Concord-Event"] for h in hits] == ["create", "update", "delete"]
    assert [h.headers["X-Concord-Focus"] for h in hits] == [
        f"Goal/{goal_id}/_history/{n}" for n in (1, 2, 3)]
    assert [h.event for h in hits] == [f"{subscription['id']}:{n}" for n in (1, 2, 3)]
    assert all("X-Concord-Signature" not in h.headers for h in hits)


async def test_with_a_payload_a_delete_is_a_delete_of_the_resource_on_the_endpoint(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    patient, statement_id = new_id("pat"), new_id("med")
    subscription = await subscribe(engine, world.id, classic(
        receiver, f"MedicationStatement?patient=Patient/{patient}"
                  "&code=http://www.nlm.nih.gov/research/umls/rxnorm|1049621"))
    await write(engine, world.id, medication(statement_id, patient))
    await remove(engine, world.id, "MedicationStatement", statement_id)
    assert await run(engine, settings, world.id) == 2

    created, deleted = receiver.of(subscription["id"])
    assert (created.method, created.path) == ("PUT", f"/fhir/MedicationStatement/{statement_id}")
    assert created.json()["status"] == "active"
    assert (deleted.method, deleted.path, deleted.body) == (
        "DELETE", f"/fhir/MedicationStatement/{statement_id}", b"")
    assert deleted.headers["X-Concord-Focus"] == f"MedicationStatement/{statement_id}/_history/2"
    assert_signed(created)
    assert_signed(deleted)


async def test_a_delete_is_judged_by_the_version_it_deleted(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    mine, other = new_id("pat"), new_id("pat")
    subscription = await subscribe(engine, world.id, classic(
        receiver, f"Goal?patient=Patient/{mine}", payload=False))
    mine_goal, other_goal = new_id("goal"), new_id("goal")
    await write(engine, world.id, goal(mine_goal, mine))
    await write(engine, world.id, goal(other_goal, other))
    await remove(engine, world.id, "Goal", other_goal)
    await remove(engine, world.id, "Goal", mine_goal)
    await run(engine, settings, world.id)
    assert [(h.headers["X-Concord-Event"], h.headers["X-Concord-Focus"])
            for h in receiver.of(subscription["id"])] == [
        ("create", f"Goal/{mine_goal}/_history/1"), ("delete", f"Goal/{mine_goal}/_history/2")]


# -- the topic-based shape (Subscriptions Backport, R4) --------------------------------------

def _parameters(bundle: dict[str, Any]) -> dict[str, Any]:
    status = bundle["entry"][0]["resource"]
    assert status["resourceType"] == "Parameters"
    assert status["meta"]["profile"] == [topics.STATUS_PROFILE]
    found: dict[str, Any] = {}
    for parameter in status["parameter"]:
        if "part" in parameter:
            found[parameter["name"]] = {p["name"]: _value(p) for p in parameter["part"]}
        else:
            found[parameter["name"]] = _value(parameter)
    return found


def _value(parameter: dict[str, Any]) -> Any:
    [key] = [k for k in parameter if k.startswith("value")]
    return parameter[key]


def _valid_bundle(hit: Hit) -> dict[str, Any]:
    from fhir.resources.R4B.bundle import Bundle

    body: dict[str, Any] = hit.json()
    Bundle.model_validate(body)
    assert body["type"] == "history"
    assert body["meta"]["profile"] == [topics.NOTIFICATION_PROFILE]
    return body


async def test_a_topic_subscription_gets_a_notification_bundle_with_the_resource(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    patient, plan_id = new_id("pat"), new_id("plan")
    base = fhir_base(settings)
    subscription = await subscribe(engine, world.id, backport(
        receiver, settings, "careplan-changes", (f"CarePlan?patient=Patient/{patient}",)))
    assert subscription["status"] == "active"
    await write(engine, world.id, care_plan(plan_id, patient))
    await write(engine, world.id, care_plan(new_id("plan"), new_id("pat")))
    await remove(engine, world.id, "CarePlan", plan_id)
    assert await run(engine, settings, world.id) == 2

    created, deleted = receiver.of(subscription["id"])
    assert (created.method, created.path) == ("POST", "/notify")
    assert created.headers["Content-Type"] == "application/fhir+json"
    assert_signed(created)
    bundle = _valid_bundle(created)
    assert _parameters(bundle) == {
        "subscription": {"reference": f"{base}/Subscription/{subscription['id']}"},
        "topic": f"{base}/SubscriptionTopic/careplan-changes",
        "status": "active",
        "type": "event-notification",
        "events-since-subscription-start": "2",
        "notification-event": {
            "event-number": "1",
            "timestamp": bundle["entry"][0]["resource"]["parameter"][-1]["part"][1][
                "valueInstant"],
            "focus": {"reference": f"{base}/CarePlan/{plan_id}"},
        },
    }
    entry = bundle["entry"][1]
    assert entry["fullUrl"] == f"{base}/CarePlan/{plan_id}"
    assert entry["resource"]["id"] == plan_id and entry["resource"]["meta"]["versionId"] == "1"
    assert entry["request"] == {"method": "POST", "url": "CarePlan"}

    gone = _valid_bundle(deleted)
    assert _parameters(gone)["notification-event"]["event-number"] == "2"
    assert gone["entry"][1]["request"] == {"method": "DELETE", "url": f"CarePlan/{plan_id}"}
    assert "resource" not in gone["entry"][1]


@pytest.mark.parametrize(("content", "focus"), [("id-only", True), ("empty", False)])
async def test_id_only_and_empty_notifications_carry_no_resource(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld, receiver: Receiver,
        content: str, focus: bool) -> None:
    patient, goal_id = new_id("pat"), new_id("goal")
    subscription = await subscribe(engine, world.id, backport(
        receiver, settings, "goal-changes",
        (f"Goal?patient=Patient/{patient}", "Goal?lifecycle-status=active,accepted"), content))
    await write(engine, world.id, goal(goal_id, patient, lifecycle="proposed"))  # filtered out
    await write(engine, world.id, goal(goal_id, patient, lifecycle="accepted"))
    await run(engine, settings, world.id)
    [hit] = receiver.of(subscription["id"])
    bundle = _valid_bundle(hit)
    assert len(bundle["entry"]) == 1
    event = _parameters(bundle)["notification-event"]
    assert event["event-number"] == "1"
    assert ("focus" in event) is focus
    assert hit.headers["X-Concord-Focus"] == f"Goal/{goal_id}/_history/2"


# -- told only when chosen elements change -----------------------------------------------

async def test_only_a_change_of_a_chosen_element_is_notified(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    patient, plan_id = new_id("pat"), new_id("plan")
    activity = [{"detail": {"status": "scheduled", "description": "Walk 10 minutes"}}]
    subscription = await subscribe(engine, world.id, classic(
        receiver, f"CarePlan?patient=Patient/{patient}", elements=("status", "activity")))
    await write(engine, world.id, care_plan(plan_id, patient))  # a create always counts
    await write(engine, world.id, care_plan(plan_id, patient, title="Renamed"))
    await write(engine, world.id, care_plan(plan_id, patient, title="Renamed",
                                            activity=activity))
    await write(engine, world.id, care_plan(plan_id, patient, title="Renamed again",
                                            activity=activity))
    await write(engine, world.id, care_plan(plan_id, patient, "on-hold", title="Renamed again",
                                            activity=activity))
    await run(engine, settings, world.id)
    assert [h.headers["X-Concord-Focus"] for h in receiver.of(subscription["id"])] == [
        f"CarePlan/{plan_id}/_history/{n}" for n in (1, 3, 5)]


async def test_a_topic_subscription_filters_by_element_too(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    patient, statement_id = new_id("pat"), new_id("med")
    subscription = await subscribe(engine, world.id, backport(
        receiver, settings, "medicationstatement-changes",
        (f"MedicationStatement?subject=Patient/{patient}",), "id-only", elements=("status",)))
    await write(engine, world.id, medication(statement_id, patient))
    changed_dose = {**medication(statement_id, patient),
                    "dosage": [{"text": "1 tablet every 6 hours"}]}
    await write(engine, world.id, changed_dose)
    await write(engine, world.id, {**changed_dose, "status": "stopped"})
    await run(engine, settings, world.id)
    assert [h.headers["X-Concord-Focus"] for h in receiver.of(subscription["id"])] == [
        f"MedicationStatement/{statement_id}/_history/{n}" for n in (1, 3)]


# -- a receiver that is down, then up ------------------------------------------------------

async def _state(engine: AsyncEngine, clinic_id: uuid.UUID, subscription_id: str) -> Any:
    async with unit_of_work(engine) as uow:
        row = await SubscriptionRepository(uow.conn).get(clinic_id, subscription_id)
    assert row is not None
    return row


async def _next_attempt(engine: AsyncEngine, clinic_id: uuid.UUID,
                        subscription_id: str) -> dt.datetime | None:
    """When the oldest undelivered event is to be tried next (the others wait for it)."""
    n = t.subscription_notifications.c
    async with engine.connect() as conn:
        found: dt.datetime | None = (await conn.execute(
            sa.select(n.next_attempt_at)
            .where(n.clinic_id == clinic_id, n.subscription_id == subscription_id,
                   n.status == "pending")
            .order_by(n.seq).limit(1))).scalar()
    return found


def _delivery(resource: dict[str, Any]) -> dict[str, Any]:
    [extension] = [e for e in resource.get("extension", [])
                   if e["url"] == ext.SUBSCRIPTION_DELIVERY]
    return {part["url"]: part.get("valueUnsignedInt", part.get("valueInstant"))
            for part in extension["extension"]}


async def test_a_receiver_down_for_an_hour_misses_nothing_and_gets_each_event_once_in_order(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    patient = new_id("pat")
    plans = [new_id("plan"), new_id("plan")]
    subscription = await subscribe(engine, world.id, classic(
        receiver, f"CarePlan?patient=Patient/{patient}"))
    sid = subscription["id"]
    receiver.stop()  # connections refused
    for round_ in range(3):
        for plan_id in plans:
            await write(engine, world.id, care_plan(plan_id, patient, title=f"Round {round_}"))

    # An hour of outage, the worker passing every few minutes: nothing gets through, the
    # oldest event keeps being retried (never the next before it), with backoff.
    start = dt.datetime.now(dt.UTC)
    clock, tries = start, 0
    while clock < start + dt.timedelta(hours=1):
        due = await _next_attempt(engine, world.id, sid) or clock
        clock = max(clock + dt.timedelta(minutes=3), due)
        assert await run(engine, settings, world.id, now=clock) == 0
        tries += 1
    row = await _state(engine, world.id, sid)
    assert row.status == "error" and row.attempts == tries >= CONFIG.error_after
    assert row.last_error == "ConnectError: could not connect to the endpoint"
    assert receiver.hits == []
    stored = await stored_subscription(engine, world.id, sid)
    assert stored["status"] == "error"
    assert stored["error"] == row.last_error
    assert _delivery(stored)["attempts"] == row.attempts
    # still to be retried, within the capped backoff: never given up on
    retry_at = await _next_attempt(engine, world.id, sid)
    assert retry_at is not None and retry_at <= clock + CONFIG.backoff.cap


    # Back up, but failing twice more with 500s before it accepts.
    receiver.start()
    receiver.answers = [500, 500]
    while len(receiver.of(sid)) < 6:
        retry_at = await _next_attempt(engine, world.id, sid)
        assert retry_at is not None, "events left undelivered"
        clock = max(clock + dt.timedelta(seconds=5), retry_at)
        await run(engine, settings, world.id, now=clock)
        assert clock < start + dt.timedelta(hours=3)
    hits = receiver.of(sid)
    assert [h.event for h in hits] == [f"{sid}:{n}" for n in range(1, 7)]
    assert [h.status for h in receiver.of(sid, accepted_only=False)] == [500, 500] + [200] * 6
    for plan_id in plans:
        versions = [int(h.json()["meta"]["versionId"]) for h in hits
                    if h.path == f"/fhir/CarePlan/{plan_id}"]
        assert versions == [1, 2, 3]
    assert await run(engine, settings, world.id, now=clock + dt.timedelta(hours=1)) == 0
    assert len(receiver.of(sid, accepted_only=False)) == 8

    row = await _state(engine, world.id, sid)
    assert (row.status, row.attempts, row.last_error) == ("active", 0, None)
    stored = await stored_subscription(engine, world.id, sid)
    assert stored["status"] == "active" and "error" not in stored
    assert _delivery(stored)["attempts"] == 0
    assert _delivery(stored)["lastDelivered"].startswith(clock.date().isoformat())


async def test_two_workers_at_once_never_send_an_event_twice_or_out_of_order(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    receiver.delay = 0.01
    patient = new_id("pat")
    ids = [(await subscribe(engine, world.id, classic(
        receiver, f"Goal?patient=Patient/{patient}", payload=(n % 2 == 0))))["id"]
        for n in range(3)]
    goals = [new_id("goal") for _ in range(4)]
    for lifecycle in ("proposed", "accepted", "active"):
        for goal_id in goals:
            await write(engine, world.id, goal(goal_id, patient, lifecycle=lifecycle))
    await match_changes(engine, clinic_id=world.id)
    small = DeliveryConfig(timeout=3.0, claim_batch=1, per_claim=3)
    base = fhir_base(settings)
    for _ in range(10):
        await asyncio.gather(*(deliver_due(engine, base, config=small, clinic_id=world.id)
                               for _ in range(2)))
        if all(len(receiver.of(sid)) == 12 for sid in ids):
            break
    for sid in ids:
        events = [h.event for h in receiver.of(sid, accepted_only=False)]
        assert events == [f"{sid}:{n}" for n in range(1, 13)], events


async def test_a_change_that_commits_late_is_not_stepped_over(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    patient = new_id("pat")
    subscription = await subscribe(engine, world.id, classic(
        receiver, f"CarePlan?patient=Patient/{patient}", payload=False))
    early, late = new_id("plan"), new_id("plan")
    async with unit_of_work(engine) as slow:
        # takes its seq first, commits last
        await slow.store.put(world.id, care_plan(early, patient), now=dt.datetime.now(dt.UTC),
                             patient_id=None)
        await write(engine, world.id, care_plan(late, patient))
        await run(engine, settings, world.id)
        assert receiver.of(subscription["id"]) == []
    await run(engine, settings, world.id)
    assert [h.headers["X-Concord-Focus"] for h in receiver.of(subscription["id"])] == [
        f"CarePlan/{early}/_history/1", f"CarePlan/{late}/_history/1"]


async def test_a_subscription_turned_off_or_deleted_sends_nothing_more(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    patient, goal_id = new_id("pat"), new_id("goal")
    resource = classic(receiver, f"Goal?patient=Patient/{patient}", payload=False)
    await subscribe(engine, world.id, resource)
    await write(engine, world.id, goal(goal_id, patient))
    await run(engine, settings, world.id)
    off = await subscribe(engine, world.id, {**resource, "status": "off"})
    assert off["status"] == "off"
    await write(engine, world.id, goal(goal_id, patient, lifecycle="completed"))
    await run(engine, settings, world.id)
    assert len(receiver.of(resource["id"])) == 1
    # Back on: it sees changes from then on, not those it was off for.
    await subscribe(engine, world.id, {**resource, "status": "requested"})
    await write(engine, world.id, goal(goal_id, patient, lifecycle="cancelled"))
    await run(engine, settings, world.id)
    assert [h.headers["X-Concord-Focus"] for h in receiver.of(resource["id"])] == [
        f"Goal/{goal_id}/_history/1", f"Goal/{goal_id}/_history/3"]
    await unsubscribe(engine, world.id, resource["id"])
    await write(engine, world.id, goal(goal_id, patient, lifecycle="active"))
    await run(engine, settings, world.id)
    assert len(receiver.of(resource["id"])) == 2


async def test_a_subscription_past_its_end_is_turned_off(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    patient = new_id("pat")
    now = dt.datetime.now(dt.UTC)
    ends = now + dt.timedelta(minutes=30)
    resource = {**classic(receiver, f"Goal?patient=Patient/{patient}", payload=False),
                "end": ends.isoformat()}
    await subscribe(engine, world.id, resource)
    await write(engine, world.id, goal(new_id("goal"), patient))
    await run(engine, settings, world.id, now=ends + dt.timedelta(seconds=1))
    assert (await stored_subscription(engine, world.id, resource["id"]))["status"] == "off"
    assert receiver.of(resource["id"]) == []


async def test_a_topic_subscription_with_a_heartbeat_period_beats_when_idle(
        engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    resource = backport(receiver, settings, "goal-changes", (), "empty")
    resource["channel"]["extension"] = [{"url": topics.HEARTBEAT_PERIOD,
                                         "valueUnsignedInt": 60}]
    await subscribe(engine, world.id, resource)
    await run(engine, settings, world.id)
    assert receiver.hits == []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)
    await run(engine, settings, world.id, now=later)
    await run(engine, settings, world.id, now=later + dt.timedelta(seconds=10))
    [hit] = [h for h in receiver.hits if h.event.startswith(f"{resource['id']}:heartbeat")]
    assert hit.headers["X-Concord-Event"] == "heartbeat"
    assert_signed(hit)
    bundle = _valid_bundle(hit)
    assert _parameters(bundle)["type"] == "heartbeat"
    assert "notification-event" not in _parameters(bundle)


async def test_a_plan_changed_through_the_internal_api_is_notified(
        client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        receiver: Receiver) -> None:
    """The coordinator's edits reach the EHR: /api/v1 writes are projected into the FHIR
    store, whose change feed subscriptions follow."""
    plan = await create_plan(client, world, activate=False)
    subscription = await subscribe(engine, world.id, classic(
        receiver, f"CarePlan?patient=Patient/{plan['patient_id']}", elements=("status",)))
    coordinator = world.auth("coordinator")
    path = f"/api/v1/care-plans/{plan['id']}"
    current = await client.get(path, headers=coordinator)
    renamed = await client.patch(path, json={"title": "Back pain, second phase"},
                                 headers={**coordinator, "If-Match": current.headers["etag"]})
    assert renamed.status_code == 200, renamed.text
    activated = await client.post(f"{path}/status", json={"status": "active"},
                                  headers={**coordinator, "If-Match": renamed.headers["etag"]})
    assert activated.status_code == 200, activated.text
    await run(engine, settings, world.id)
    [hit] = receiver.of(subscription["id"])
    assert (hit.method, hit.path) == ("PUT", f"/fhir/CarePlan/{plan['id']}")
    body = hit.json()
    assert (body["status"], body["title"]) == ("active", "Back pain, second phase")
    assert_signed(hit)
