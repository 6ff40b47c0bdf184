"""A push whose merge never settles: an EHR (a stand-in over real HTTP) that changes its
copy every time Concord reads it. Concord merges and retries with the new version three
times, then gives up for this run: the conflict is in last_error, nothing is overwritten
blindly, and the cursor stays where it was so that the next run tries again."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ClinicWorld, add_goal, create_plan
from tests.integration.ehr.conftest import MRN, concord_key
from tests.integration.ehr.standin import Answer, Seen, bundle, outcome, serve
from workers.ehr_sync import push_changes

pytestmark = pytest.mark.asyncio


class RestlessEhr:
    """Accepts creates; every read of the Goal shows a newer version with another note of
    its own, and every update of it is too late (412)."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.goal: dict[str, Any] | None = None
        self.version = 1

    def handle(self, seen: Seen) -> Answer:
        if seen.path == "/auth/token":
            return 200, {"access_token": "t", "token_type": "bearer", "expires_in": 300}, {}
        if seen.method == "GET" and seen.path == "/fhir/Patient":
            return 200, bundle([{"resourceType": "Patient", "id": "ehr-pat"}]), {}
        if seen.method == "POST":
            body = {**seen.json, "id": f"r{next(self.ids)}", "meta": {"versionId": "1"}}
            if body["resourceType"] == "Goal":
                self.goal = body
            return 201, body, {"ETag": 'W/"1"'}
        if self.goal is not None and seen.path == f"/fhir/Goal/{self.goal['id']}":
            if seen.method == "PUT":
                return 412, outcome("changed since", "conflict"), {}
            self.version += 1
            self.goal = {**self.goal, "meta": {"versionId": str(self.version)},
                         "note": [{"text": f"EHR note {self.version}"}]}
            return 200, self.goal, {"ETag": f'W/"{self.version}"'}
        if seen.method == "PUT":
            return 200, {**seen.json, "meta": {"versionId": "2"}}, {}
        return 404, outcome("not here", "not-found"), {}


async def test_a_conflict_that_will_not_settle_is_reported(
        client: Any, world: ClinicWorld, engine: AsyncEngine) -> None:
    ehr = RestlessEhr()
    with serve(ehr.handle) as server:
        created = await client.post("/api/v1/ehr-connections", headers=world.auth("admin"),
                                    json={"name": "Restless EHR",
                                          "base_url": f"{server.base}/fhir",
                                          "token_url": f"{server.base}/auth/token",
                                          "client_id": "concord", "private_key": concord_key(),
                                          "identifier_system": MRN})
        assert created.status_code == 201, created.text
        connection_id = created.json()["id"]
        plan = await create_plan(client, world)
        patient_path = f"/api/v1/patients/{plan['patient_id']}"
        current = await client.get(patient_path, headers=world.auth("coordinator"))
        identified = await client.patch(
            patient_path, json={"identifiers": [{"system": MRN, "value": "MRN-3001"}]},
            headers={**world.auth("coordinator"), "If-Match": current.headers["etag"]})
        assert identified.status_code == 200, identified.text
        goal = await add_goal(client, world, plan["id"], "physical_therapist")
        first = await push_changes(engine, uuid.UUID(connection_id))
        assert first.error is None and ehr.goal is not None

        path = f"/api/v1/care-plans/{plan['id']}/goals/{goal['id']}"
        therapist = world.auth("physical_therapist")
        read = await client.get(path, headers=therapist)
        edited = await client.patch(path, json={"description": "Walk twice round the block"},
                                    headers={**therapist, "If-Match": read.headers["etag"]})
        assert edited.status_code == 200, edited.text
        before = len(server.seen)
        second = await push_changes(engine, uuid.UUID(connection_id))

    goal_path = f"/fhir/Goal/{ehr.goal['id']}"
    tries = [(s.method, s.headers.get("if-match")) for s in server.seen[before:]
             if s.path == goal_path]
    # the first update, then three rounds of read, merge and update with the new version
    assert tries == [("PUT", 'W/"1"'), ("GET", None), ("PUT", 'W/"2"'), ("GET", None),
                     ("PUT", 'W/"3"'), ("GET", None), ("PUT", 'W/"4"')]
    last_put = [s for s in server.seen[before:] if s.path == goal_path and s.method == "PUT"][-1]
    assert last_put.json["description"]["text"] == "Walk twice round the block"
    assert last_put.json["note"] == [{"text": "EHR note 4"}]  # never overwritten blindly
    assert second.error is not None and "3 merges did not go through" in second.error
    state = await client.get(f"/api/v1/ehr-connections/{connection_id}",
                             headers=world.auth("coordinator"))
    body = state.json()
    assert body["last_error"].startswith("push: ") and "kept changing" in body["last_error"]
    assert body["push_cursor_seq"] == first.cursor
