"""Paging a search by its `next` links: every match once, in order, even while the
store keeps changing between pages."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ClinicWorld
from tests.fhir.store_fixtures import ids, link, path_of, put

pytestmark = pytest.mark.asyncio

PATIENT = uuid.uuid4()
START = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def goal(goal_id: str) -> dict[str, Any]:
    return {"resourceType": "Goal", "id": goal_id, "lifecycleStatus": "active",
            "description": {"text": f"goal {goal_id}"},
            "subject": {"reference": f"Patient/{PATIENT}"}}


async def forty_five(engine: AsyncEngine, world: ClinicWorld) -> list[str]:
    """45 goals; pairs share a timestamp, so the id breaks ties."""
    written = []
    for n in range(45):
        goal_id = f"g-{n:02d}"
        await put(engine, world.id, goal(goal_id), patient_id=PATIENT,
                  at=START + dt.timedelta(minutes=n // 2))
        written.append(goal_id)
    return written


async def get(client: Any, world: ClinicWorld, path: str) -> dict[str, Any]:
    response = await client.get(path, headers=world.auth("coordinator"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_forty_five_in_pages_of_ten_with_writes_between_pages(
    client: Any, engine: AsyncEngine, world: ClinicWorld
) -> None:
    written = await forty_five(engine, world)
    page = await get(client, world, "/fhir/Goal?_count=10")
    assert page["total"] == 45
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        seen += ids(page)
        # another client writes between our pages
        await put(engine, world.id, goal(f"new-{pages}"), patient_id=PATIENT)
        following = link(page, "next")
        if following is None:
            break
        assert "_count=10" in following
        page = await get(client, world, path_of(following))
    originals = [goal_id for goal_id in seen if goal_id.startswith("g-")]
    assert originals == written  # in (lastUpdated, id) order, none missing, none twice
    assert len(seen) == len(set(seen))
    assert pages >= 5


async def test_newest_first_pages_as_well(
    client: Any, engine: AsyncEngine, world: ClinicWorld
) -> None:
    written = await forty_five(engine, world)
    page = await get(client, world, "/fhir/Goal?_sort=-_lastUpdated&_count=20")
    seen = ids(page)
    while (following := link(page, "next")) is not None:
        assert "_sort=-_lastUpdated" in following
        page = await get(client, world, path_of(following))
        seen += ids(page)
    assert seen == list(reversed(written))


async def test_count_is_capped_and_self_links_the_page(
    client: Any, engine: AsyncEngine, world: ClinicWorld
) -> None:
    await forty_five(engine, world)
    first = await get(client, world, "/fhir/Goal?_count=500")
    assert len(ids(first)) == 45 and link(first, "next") is None
    assert (await get(client, world, "/fhir/Goal"))["entry"].__len__() == 20  # the default
    second_url = link(await get(client, world, "/fhir/Goal?_count=30"), "next")
    assert second_url is not None
    second = await get(client, world, path_of(second_url))
    assert link(second, "self") == second_url
    assert len(ids(second)) == 15 and second["total"] == 45
