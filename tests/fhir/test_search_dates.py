"""Date search as FHIR R4 defines it: both the search value and the resource's value are
ranges, and each prefix compares the two ranges. Every expectation below was worked out
by hand from those rules (search.html#prefix)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ClinicWorld
from tests.fhir.store_fixtures import ids, put

pytestmark = pytest.mark.asyncio

PATIENT = uuid.uuid4()


def plan(plan_id: str, **period: str) -> dict[str, Any]:
    return {"resourceType": "CarePlan", "id": plan_id, "status": "active", "intent": "plan",
            "subject": {"reference": f"Patient/{PATIENT}"}, "period": period}


# resource ranges, [lo, hi):
#   january  [2026-01-01, 2026-02-01)    within January
#   straddle [2026-01-15, 2026-02-16)    starts in January, ends in February
#   open     [2026-03-01, +inf)          no end
#   before   [-inf, 2026-01-01)          ended on 2025-12-31, no start
#   tenth    [2026-01-10, 2026-01-11)    one day
PLANS = [
    plan("january", start="2026-01-01", end="2026-01-31"),
    plan("straddle", start="2026-01-15", end="2026-02-15"),
    plan("open", start="2026-03-01"),
    plan("before", end="2025-12-31"),
    plan("tenth", start="2026-01-10", end="2026-01-10"),
]


@pytest_asyncio.fixture
async def plans(engine: AsyncEngine, world: ClinicWorld) -> ClinicWorld:
    for resource in PLANS:
        await put(engine, world.id, resource, patient_id=PATIENT)
    return world


async def found(client: Any, world: ClinicWorld, query: str) -> set[str]:
    response = await client.get(f"/fhir/{query}", headers=world.auth("coordinator"))
    assert response.status_code == 200, response.text
    return set(ids(response.json()))


# Search value 2026-01 is the range [2026-01-01, 2026-02-01).
@pytest.mark.parametrize(("prefix", "expected"), [
    # eq: the search range fully contains the resource's
    ("", {"january", "tenth"}),
    ("eq", {"january", "tenth"}),
    # ne: it does not
    ("ne", {"straddle", "open", "before"}),
    # gt: the resource's range reaches past the end of the search range
    ("gt", {"straddle", "open"}),
    # lt: the resource's range reaches before its start
    ("lt", {"before"}),
    # ge: gt, or eq
    ("ge", {"january", "straddle", "open", "tenth"}),
    # le: lt, or eq
    ("le", {"january", "before", "tenth"}),
    # sa: starts after the search range ends
    ("sa", {"open"}),
    # eb: ends before the search range starts
    ("eb", {"before"}),
])
async def test_each_prefix_on_a_month(client: Any, plans: ClinicWorld, prefix: str,
                                      expected: set[str]) -> None:
    assert await found(client, plans, f"CarePlan?date={prefix}2026-01") == expected


async def test_two_bounds_are_anded(client: Any, plans: ClinicWorld) -> None:
    # ge2026-01-01 [Jan 1, Jan 2): hi > Jan 2, or within -> january, straddle, open, tenth
    # le2026-01-31 [Jan 31, Feb 1): lo < Jan 31, or within -> january, straddle, before, tenth
    assert await found(client, plans, "CarePlan?date=ge2026-01-01&date=le2026-01-31") == {
        "january", "straddle", "tenth"}


async def test_a_day_a_year_and_an_instant(client: Any, plans: ClinicWorld) -> None:
    assert await found(client, plans, "CarePlan?date=2026-01-10") == {"tenth"}
    assert await found(client, plans, "CarePlan?date=eq2026") == {
        "january", "straddle", "tenth"}
    # a moment inside "tenth": nothing lies within a second, but "tenth" straddles it
    assert await found(client, plans, "CarePlan?date=2026-01-10T12:00:00Z") == set()
    assert "tenth" in await found(client, plans, "CarePlan?date=ne2026-01-10T12:00:00Z")
    # sa: starts after that second: "straddle" (Jan 15) and "open" (Mar 1)
    assert await found(client, plans, "CarePlan?date=sa2026-01-10T12:00:00Z") == {
        "straddle", "open"}


async def test_an_offset_moves_the_day(client: Any, plans: ClinicWorld) -> None:
    # 2026-01-31T23:30-02:00 is 2026-02-01T01:30Z: after "january" has ended
    assert "january" in await found(client, plans, "CarePlan?date=eb2026-01-31T23:30:00-02:00")
    assert "january" not in await found(client, plans, "CarePlan?date=eb2026-01-31T20:00:00Z")


async def test_approximately_widens_by_a_tenth_of_the_distance_from_now(
    client: Any, engine: AsyncEngine, world: ClinicWorld
) -> None:
    # Searched value 100 days ago: the slack is about 10 days either side.
    value = (dt.datetime.now(dt.UTC) - dt.timedelta(days=100)).date()
    near, far = value + dt.timedelta(days=6), value + dt.timedelta(days=30)
    await put(engine, world.id, {"resourceType": "Goal", "id": "near", "lifecycleStatus": "active",
                                 "description": {"text": "near"}, "startDate": str(near),
                                 "subject": {"reference": f"Patient/{PATIENT}"}})
    await put(engine, world.id, {"resourceType": "Goal", "id": "far", "lifecycleStatus": "active",
                                 "description": {"text": "far"}, "startDate": str(far),
                                 "subject": {"reference": f"Patient/{PATIENT}"}})
    assert await found(client, world, f"Goal?start-date=ap{value}") == {"near"}
    assert await found(client, world, f"Goal?start-date={value}") == set()


async def test_last_updated_with_prefixes(
    client: Any, engine: AsyncEngine, world: ClinicWorld
) -> None:
    early = dt.datetime(2026, 2, 1, 9, 0, tzinfo=dt.UTC)
    late = dt.datetime(2026, 2, 3, 9, 0, tzinfo=dt.UTC)
    await put(engine, world.id, plan("early", start="2026-01-01"), at=early)
    await put(engine, world.id, plan("late", start="2026-01-01"), at=late)
    assert await found(client, world, "CarePlan?_lastUpdated=2026-02-01") == {"early"}
    assert await found(client, world, "CarePlan?_lastUpdated=gt2026-02-01") == {"late"}
    assert await found(client, world, "CarePlan?_lastUpdated=ge2026-02-01T09:00:00Z") == {
        "early", "late"}
    assert await found(client, world, "CarePlan?_lastUpdated=lt2026-02-03T09:00:00Z") == {
        "early"}
    assert await found(client, world, "CarePlan?_lastUpdated=eb2026-02-02&_lastUpdated=sa2026-01"
                       ) == {"early"}
