"""A check-in from request to inbox: the API schedules it, the dispatcher turns it into an
outbox message with a single-use link in one transaction, the outbox delivers it to a
real SMTP server, and the link opens the patient's page."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.message import email_message_id
from service.db import tables as t
from service.mail_sink import MailSink, message_id_of
from service.settings import Settings
from tests.factories import PATIENT, ClinicWorld, create_plan
from workers.check_ins import dispatch_check_ins, schedule_check_ins
from workers.outbox import OutboxConfig, drain_outbox

pytestmark = pytest.mark.asyncio
LINK = re.compile(r"http://[^\s]+/p/([A-Za-z0-9_\-.]+)")


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    mail = MailSink(tmp_path / "mail", port=0)
    mail.start()
    yield mail
    mail.stop()


@pytest.fixture
def ctx(engine: AsyncEngine, settings: Settings, sink: MailSink) -> dict[str, Any]:
    return {"engine": engine, "outbox": OutboxConfig(),
            "settings": msgspec.structs.replace(settings, smtp_port=sink.port)}


def _read(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def _check_in(client: Any, world: ClinicWorld, plan_id: str, **extra: Any) -> str:
    response = await client.post("/api/v1/check-ins", headers=world.auth("coordinator"), json={
        "care_plan_id": plan_id, "due_at": dt.datetime.now(dt.UTC).isoformat(), **extra})
    assert response.status_code == 201, response.text
    check_in_id: str = response.json()["id"]
    return check_in_id


async def test_a_check_in_due_now_arrives_once_in_the_patients_language(
        client: Any, world: ClinicWorld, ctx: dict[str, Any], sink: MailSink) -> None:
    plan = await create_plan(client, world)
    check_in_id = await _check_in(client, world, plan["id"], send_now=True)
    assert await dispatch_check_ins(ctx) >= 1
    assert await dispatch_check_ins(ctx) == 0  # a second tick, or a second worker
    await drain_outbox(ctx)
    await drain_outbox(ctx)
    # The outbox is shared by every test's clinic: pick this check-in's message out.
    read = await client.get(f"/api/v1/check-ins/{check_in_id}", headers=world.auth("coordinator"))
    expected = email_message_id(world.id, read.json()["occurrence_key"])
    [path] = [p for p in sink.messages() if message_id_of(p.read_bytes()) == expected]
    message = _read(path)
    assert message["To"] == "rosa@example.org"
    assert message["Subject"] == "¿Cómo va nuestro trabajo juntos?"  # the patient reads Spanish
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Rosa" in text and "Delgado" not in text  # first name only
    token = LINK.search(text)
    assert token is not None
    page = await client.get(f"/p/{token.group(1)}")
    assert page.status_code == 200
    assert "Rosa" in page.text and "Delgado" not in page.text
    read = await client.get(f"/api/v1/check-ins/{check_in_id}", headers=world.auth("coordinator"))
    assert read.json()["status"] == "queued"


async def test_an_opt_out_after_queueing_stops_the_message(
        client: Any, world: ClinicWorld, ctx: dict[str, Any], sink: MailSink,
        engine: AsyncEngine) -> None:
    plan = await create_plan(client, world)
    check_in_id = await _check_in(client, world, plan["id"], send_now=True)
    await dispatch_check_ins(ctx)
    coordinator = world.auth("coordinator")
    patient = await client.get(f"/api/v1/patients/{plan['patient_id']}", headers=coordinator)
    withdrawn = await client.patch(f"/api/v1/patients/{plan['patient_id']}",
                                   json={"consent_to_messages": False},
                                   headers={**coordinator, "If-Match": patient.headers["etag"]})
    assert withdrawn.status_code == 200
    await drain_outbox(ctx)
    read = await client.get(f"/api/v1/check-ins/{check_in_id}", headers=coordinator)
    expected = email_message_id(world.id, read.json()["occurrence_key"])
    assert expected not in {message_id_of(p.read_bytes()) for p in sink.messages()}
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(t.messages.c.status, t.messages.c.last_error).where(
            t.messages.c.patient_id == uuid.UUID(plan["patient_id"])))).one()
    assert row.status == "dead" and "ConsentWithdrawn" in (row.last_error or "")


async def test_without_consent_the_check_in_is_withheld(
        client: Any, world: ClinicWorld, ctx: dict[str, Any], sink: MailSink) -> None:
    plan = await create_plan(client, world)
    coordinator = world.auth("coordinator")
    patient = await client.get(f"/api/v1/patients/{plan['patient_id']}", headers=coordinator)
    await client.patch(f"/api/v1/patients/{plan['patient_id']}",
                       json={"consent_to_messages": False},
                       headers={**coordinator, "If-Match": patient.headers["etag"]})
    check_in_id = await _check_in(client, world, plan["id"], send_now=True)
    await dispatch_check_ins(ctx)
    read = await client.get(f"/api/v1/check-ins/{check_in_id}", headers=coordinator)
    assert read.json()["status"] == "withheld"
    assert read.json()["status_reason"].startswith("consent")


async def test_one_message_a_day_the_second_check_in_waits_for_tomorrow(
        client: Any, world: ClinicWorld, ctx: dict[str, Any]) -> None:
    coordinator = world.auth("coordinator")
    patient = await client.post("/api/v1/patients", headers=coordinator,
                                json={**PATIENT, "quiet_hours": None})
    plans = []
    for title in ("Back pain plan", "Sleep plan"):
        plan = await client.post("/api/v1/care-plans", headers=coordinator, json={
            "patient_id": patient.json()["id"], "title": title})
        plan_id = plan.json()["id"]
        for who in ("physician", "psychologist"):
            await client.post(f"/api/v1/care-plans/{plan_id}/team", headers=coordinator,
                              json={"staff_id": str(world.staff[who].id),
                                    "lead": who == "physician"})
        current = await client.get(f"/api/v1/care-plans/{plan_id}", headers=coordinator)
        await client.post(f"/api/v1/care-plans/{plan_id}/status", json={"status": "active"},
                          headers={**coordinator, "If-Match": current.headers["etag"]})
        plans.append(plan_id)
    first = await _check_in(client, world, plans[0])
    second = await _check_in(client, world, plans[1])
    await dispatch_check_ins(ctx)
    states = {}
    for check_in_id in (first, second):
        read = (await client.get(f"/api/v1/check-ins/{check_in_id}", headers=coordinator)).json()
        states[check_in_id] = read
    assert states[first]["status"] == "queued"
    assert states[second]["status"] == "scheduled"
    assert states[second]["deliver_at"] > dt.datetime.now(dt.UTC).isoformat()


async def test_the_cadence_schedules_one_check_in_per_plan_and_day(
        client: Any, world: ClinicWorld, ctx: dict[str, Any], engine: AsyncEngine) -> None:
    plan = await create_plan(client, world)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=15)  # 14 days after the plan began
    await schedule_check_ins(ctx, now=later)
    await schedule_check_ins(ctx, now=later)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(t.check_ins.c.clinician_id).where(
            t.check_ins.c.care_plan_id == uuid.UUID(plan["id"])))).all()
    assert len(rows) == 1
    assert rows[0].clinician_id is not None


async def test_a_sent_message_is_a_fhir_communication_without_the_patients_link(
        client: Any, world: ClinicWorld, ctx: dict[str, Any]) -> None:
    from fhir.resources.R4B.communication import Communication

    plan = await create_plan(client, world)
    await _check_in(client, world, plan["id"], send_now=True)
    await dispatch_check_ins(ctx)
    await drain_outbox(ctx)
    search = await client.get("/fhir/Communication",
                              params={"subject": f"Patient/{plan['patient_id']}"},
                              headers=world.auth("physician"))
    assert search.status_code == 200, search.text
    bundle = search.json()
    assert bundle["total"] == 1
    resource = Communication.model_validate(bundle["entry"][0]["resource"])
    assert resource.status == "completed" and resource.sent is not None
    payload = str(resource.payload[0].contentString)
    assert "/p/[patient link]" in payload and not LINK.search(payload)
    outsider = await client.get("/fhir/Communication",
                                params={"subject": f"Patient/{plan['patient_id']}"},
                                headers=world.auth("outsider"))
    assert outsider.json()["total"] == 0
