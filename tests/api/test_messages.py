"""/api/v1/messages: the outbox as coordinators and admins see it. Who may call what is
in the auth matrix; here, what the answers say and what they leave behind."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.message import Message
from service.db.uow import unit_of_work
from tests.api.matrix_cases import add_dead_message
from tests.factories import PATIENT, ClinicWorld

pytestmark = pytest.mark.asyncio
API = "/api/v1/messages"


async def dead(client: Any, engine: AsyncEngine, world: ClinicWorld,
               count: int = 1) -> tuple[str, list[Message]]:
    patient = await client.post("/api/v1/patients", json=PATIENT,
                                headers=world.auth("coordinator"))
    assert patient.status_code == 201, patient.text
    patient_id = patient.json()["id"]
    messages = [await add_dead_message(engine, world, patient_id, None,
                                       f"p-{uuid.uuid4().hex[:8]}@example.org")
                for _ in range(count)]
    return patient_id, messages


class TestFind:
    async def test_lists_by_status_and_patient_with_a_cursor(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        patient_id, messages = await dead(client, engine, world, 3)
        other_patient, _ = await dead(client, engine, world)
        auth = world.auth("coordinator")
        first = await client.get(API, params={"patient_id": patient_id, "limit": 2},
                                 headers=auth)
        assert first.status_code == 200, first.text
        body = first.json()
        assert [m["id"] for m in body["items"]] == [str(m.id) for m in messages[:2]]
        rest = await client.get(API, params={"patient_id": patient_id, "limit": 2,
                                             "cursor": body["next_cursor"]}, headers=auth)
        assert [m["id"] for m in rest.json()["items"]] == [str(messages[2].id)]
        assert rest.json()["next_cursor"] is None
        row = body["items"][0]
        assert row["status"] == "dead" and row["last_error"] == "SMTPRecipientsRefused 550"
        assert "recipient" not in row and "body_text" not in row, "a list row has no content"
        queued = await client.get(API, params={"status": "queued", "patient_id": patient_id},
                                  headers=auth)
        assert queued.json()["items"] == []
        assert other_patient not in first.text + rest.text

    async def test_a_bad_status_or_cursor_is_a_client_error(
        self, client: Any, world: ClinicWorld
    ) -> None:
        auth = world.auth("admin")
        for params in ({"status": "lost"}, {"cursor": "nope"}, {"limit": 0}):
            response = await client.get(API, params=params, headers=auth)
            assert response.status_code in (400, 422), (params, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")

    async def test_reading_messages_is_audited(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        patient_id, (message,) = await dead(client, engine, world)
        auth = world.auth("coordinator")
        assert (await client.get(API, params={"patient_id": patient_id},
                                 headers=auth)).status_code == 200
        assert (await client.get(f"{API}/{message.id}", headers=auth)).status_code == 200
        trail = await client.get("/api/v1/audit-events", params={"patient_id": patient_id},
                                 headers=world.auth("admin"))
        seen = [(e["action"], e["resource_type"], e["resource_id"], e["actor_id"])
                for e in trail.json()["items"] if e["resource_type"] == "Message"]
        coordinator = str(world.staff["coordinator"].id)
        assert seen == [("search", "Message", str(message.id), coordinator),
                        ("read", "Message", str(message.id), coordinator)]


class TestRead:
    async def test_the_whole_message_with_its_etag(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        _, (message,) = await dead(client, engine, world)
        response = await client.get(f"{API}/{message.id}", headers=world.auth("admin"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["recipient"] == message.recipient and body["body_text"] == message.body_text
        assert body["attempts"] == 1 and body["status"] == "dead"
        assert response.headers["etag"] == f'W/"{body["version"]}"'


class TestRequeue:
    async def test_a_dead_message_goes_back_to_the_queue_once(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        _, (message,) = await dead(client, engine, world)
        auth = world.auth("coordinator")
        read = await client.get(f"{API}/{message.id}", headers=auth)
        etag = read.headers["etag"]
        requeued = await client.post(f"{API}/{message.id}/requeue",
                                     headers={**auth, "If-Match": etag})
        assert requeued.status_code == 200, requeued.text
        body = requeued.json()
        assert body["status"] == "queued" and body["attempts"] == 1
        assert body["max_attempts"] == 9, "a fresh budget on top of the attempts made"
        assert requeued.headers["etag"] != etag
        stale = await client.post(f"{API}/{message.id}/requeue",
                                  headers={**auth, "If-Match": etag})
        assert stale.status_code == 412, stale.text
        again = await client.post(f"{API}/{message.id}/requeue",
                                  headers={**auth, "If-Match": requeued.headers["etag"]})
        assert again.status_code == 409, again.text
        assert again.json()["errors"][0]["field"] == "status"
        async with unit_of_work(engine) as uow:  # leave nothing due for other tests
            await uow.messages.claim_one(message.id, dt.timedelta(hours=1))

    async def test_without_if_match_it_is_428(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        _, (message,) = await dead(client, engine, world)
        response = await client.post(f"{API}/{message.id}/requeue",
                                     headers=world.auth("admin"))
        assert response.status_code == 428, response.text

    async def test_an_unknown_message_is_404(self, client: Any, world: ClinicWorld) -> None:
        response = await client.post(f"{API}/{uuid.uuid4()}/requeue",
                                     headers={**world.auth("admin"), "If-Match": 'W/"1"'})
        assert response.status_code == 404, response.text
