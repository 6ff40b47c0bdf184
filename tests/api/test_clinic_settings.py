"""A clinic's outreach settings: defaults until saved, changed by admins with If-Match,
bounded and clinic-scoped; and the visits that may trigger a check-in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.factories import ClinicWorld, create_plan

pytestmark = pytest.mark.asyncio
URL = "/api/v1/clinic-settings"
DEFAULTS = {"check_in_every_days": 14, "check_in_after_visit": False,
            "reminder_days_before": 3, "messages_per_day": 1}


async def test_a_clinic_that_never_saved_reads_the_defaults_at_version_0(
        client: Any, world: ClinicWorld) -> None:
    for who in ("admin", "coordinator"):
        response = await client.get(URL, headers=world.auth(who))
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == 'W/"0"'
        assert {k: response.json()[k] for k in DEFAULTS} == DEFAULTS
    assert (await client.get(URL, headers=world.auth("physician"))).status_code == 403


async def test_patch_needs_if_match_and_refuses_a_stale_one(
        client: Any, world: ClinicWorld) -> None:
    admin = world.auth("admin")
    missing = await client.patch(URL, headers=admin, json={"check_in_every_days": 7})
    assert missing.status_code == 428
    created = await client.patch(URL, headers={**admin, "If-Match": 'W/"0"'},
                                 json={"check_in_every_days": 7, "check_in_after_visit": True})
    assert created.status_code == 200, created.text
    assert created.headers["etag"] == 'W/"1"'
    stale = await client.patch(URL, headers={**admin, "If-Match": 'W/"0"'},
                               json={"messages_per_day": 2})
    assert stale.status_code == 412
    again = await client.patch(URL, headers={**admin, "If-Match": created.headers["etag"]},
                               json={"messages_per_day": 2})
    assert again.status_code == 200, again.text
    assert again.headers["etag"] == 'W/"2"'
    read = await client.get(URL, headers=world.auth("coordinator"))
    assert read.headers["etag"] == 'W/"2"'
    assert {k: read.json()[k] for k in DEFAULTS} == {
        **DEFAULTS, "check_in_every_days": 7, "check_in_after_visit": True,
        "messages_per_day": 2}


async def test_a_coordinator_may_not_change_them(client: Any, world: ClinicWorld) -> None:
    response = await client.patch(URL, headers={**world.auth("coordinator"), "If-Match": 'W/"0"'},
                                  json={"check_in_every_days": 7})
    assert response.status_code == 403
    read = await client.get(URL, headers=world.auth("admin"))
    assert read.headers["etag"] == 'W/"0"' and read.json()["check_in_every_days"] == 14


@pytest.mark.parametrize(("field", "value"), [
    ("check_in_every_days", 0), ("check_in_every_days", 91), ("reminder_days_before", -1),
    ("reminder_days_before", 31), ("messages_per_day", 0), ("messages_per_day", 6)])
async def test_values_out_of_bounds_name_the_field(
        client: Any, world: ClinicWorld, field: str, value: int) -> None:
    response = await client.patch(URL, headers={**world.auth("admin"), "If-Match": 'W/"0"'},
                                  json={field: value})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_each_clinic_has_its_own(client: Any, world: ClinicWorld,
                                       other_world: ClinicWorld) -> None:
    changed = await client.patch(URL, headers={**other_world.auth("admin"), "If-Match": 'W/"0"'},
                                 json={"check_in_every_days": 30})
    assert changed.status_code == 200, changed.text
    mine = await client.get(URL, headers=world.auth("admin"))
    assert mine.headers["etag"] == 'W/"0"' and mine.json()["check_in_every_days"] == 14
    assert mine.json()["clinic_id"] == str(world.id)


async def test_a_visit_is_recorded_with_a_clinician_of_the_team(
        client: Any, world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    url = f"/api/v1/care-plans/{plan['id']}/visits"
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    recorded = await client.post(url, headers=world.auth("psychologist"), json={
        "clinician_id": str(world.staff["psychologist"].id), "visited_at": past})
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["clinician_id"] == str(world.staff["psychologist"].id)
    not_on_team = await client.post(url, headers=world.auth("coordinator"), json={
        "clinician_id": str(world.staff["outsider"].id), "visited_at": past})
    assert not_on_team.status_code == 422
    assert not_on_team.json()["errors"][0]["field"] == "clinician_id"
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    ahead = await client.post(url, headers=world.auth("coordinator"), json={
        "clinician_id": str(world.staff["physician"].id), "visited_at": future})
    assert ahead.status_code == 422
    assert ahead.json()["errors"][0]["field"] == "visited_at"
    outsider = await client.post(url, headers=world.auth("outsider"), json={
        "clinician_id": str(world.staff["physician"].id), "visited_at": past})
    assert outsider.status_code == 404
