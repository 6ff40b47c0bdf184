"""The issue's acceptance story: a physician records a patient's opioids, the whole team
sees the same MME picture, and tapers are guarded against being abrupt or imposed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.factories import (
    OXYCODONE_5_TABLET,
    ClinicWorld,
    add_goal,
    create_plan,
    record_medication,
    record_three_opioids,
)

pytestmark = pytest.mark.asyncio

async def test_every_discipline_sees_the_same_total_and_thresholds(client: Any,
                                                                   world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    await record_three_opioids(client, world, plan["id"])
    for who in ("physician", "physical_therapist", "psychologist", "acupuncturist"):
        read = await client.get(f"/api/v1/care-plans/{plan['id']}", headers=world.auth(who))
        safety = read.json()["opioid_safety"]
        # CDC 2022 factors: oxycodone 5 mg x 4/day x 1.5 = 30; fentanyl 25 mcg/h x 2.4 = 60;
        # hydrocodone 5 mg x at most 6/day (as needed: the maximum counts) x 1 = 30.
        assert safety["total"]["mme_per_day"] == pytest.approx(120)
        assert [t["mme_per_day"] for t in safety["total"]["thresholds_crossed"]] == [50, 90]
        assert safety["flags"]["naloxone_indicated"] is True
        assert safety["flags"]["naloxone_on_file"] is False
        assert safety["review_clock"]["days_left"] == 90


async def test_other_disciplines_read_but_do_not_record_medications(client: Any,
                                                                    world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    response = await client.post(
        f"/api/v1/care-plans/{plan['id']}/medications", headers=world.auth("psychologist"),
        json={"rxnorm_code": OXYCODONE_5_TABLET, "display": "oxycodone 5 mg",
              "dose_quantity": 1, "dose_unit": "tablet"})
    assert response.status_code == 403


async def test_an_unknown_product_is_unknown_not_zero(client: Any, world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    await record_medication(client, world, plan["id"], {
        "rxnorm_code": "99999999", "display": "oxycodone 7 mg compounded capsule",
        "dose_quantity": 1, "dose_unit": "capsule"})
    safety = (await client.get(f"/api/v1/care-plans/{plan['id']}/opioid-safety",
                               headers=world.auth("physician"))).json()
    assert safety["total"]["mme_per_day"] == 0
    assert safety["total"]["is_lower_bound"] is True
    assert safety["statements"][0]["mme_per_day"] is None
    assert safety["statements"][0]["unknown_reason"]


def _weekly_to_zero(start: dt.date) -> list[dict[str, Any]]:
    return [{"date": (start + dt.timedelta(weeks=i)).isoformat(), "daily_mme": 120 - 12 * (i + 1)}
            for i in range(10)]


async def test_a_ten_week_taper_after_three_years_raises_guardrails_and_tasks(
        client: Any, world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    ids = await record_three_opioids(client, world, plan["id"])
    start = dt.date.today() + dt.timedelta(days=7)
    physician = world.auth("physician")
    created = await client.post(f"/api/v1/care-plans/{plan['id']}/tapers", headers=physician, json={
        "opioid_since": (start - dt.timedelta(days=3 * 365)).isoformat(),
        "starts_on": start.isoformat(), "medication_statement_ids": ids,
        "steps": _weekly_to_zero(start)})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["taper"]["original_daily_mme"] == pytest.approx(120)
    kinds = {h["kind"] for h in body["guardrails"]}
    assert {"too-fast", "abrupt-discontinuation", "no-shared-decision"} <= kinds
    assert "10% of the original dose per month" in body["guardrails"][0]["reason"]
    tasks = (await client.get("/api/v1/tasks", params={"owner": "me"}, headers=physician)).json()
    assert {t["kind"] for t in tasks["items"]} == {"taper-guardrail"}
    assert len(tasks["items"]) == len(body["guardrails"])
    seen_by_team = (await client.get(f"/api/v1/care-plans/{plan['id']}",
                                     headers=world.auth("acupuncturist"))).json()
    assert len(seen_by_team["opioid_safety"]["tapers"][0]["unacknowledged"]) == len(
        body["guardrails"])
    taper_url = f"/api/v1/care-plans/{plan['id']}/tapers/{body['taper']['id']}"
    refused = await client.post(f"{taper_url}/status", json={"status": "active"},
                                headers={**physician, "If-Match": created.headers["etag"]})
    assert refused.status_code == 409
    assert "acknowledgement" in refused.json()["detail"]
    etag = created.headers["etag"]
    for hit in body["guardrails"]:
        acknowledged = await client.post(
            f"{taper_url}/acknowledgements", headers={**physician, "If-Match": etag},
            json={"kind": hit["kind"], "step_index": hit["step_index"],
                  "reason": "Patient requested a faster taper after an overdose scare"})
        assert acknowledged.status_code == 200, acknowledged.text
        etag = acknowledged.headers["etag"]
    started = await client.post(f"{taper_url}/status", json={"status": "active"},
                                headers={**physician, "If-Match": etag})
    assert started.status_code == 200, started.text
    open_tasks = (await client.get("/api/v1/tasks", params={"owner": "me", "status": "requested"},
                                   headers=physician)).json()["items"]
    assert open_tasks == []


async def test_ten_percent_a_month_with_a_shared_decision_raises_nothing(
        client: Any, world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world, plan["id"], "physician", "Get back to gardening")
    ids = await record_three_opioids(client, world, plan["id"])
    start = dt.date.today() + dt.timedelta(days=7)
    steps = [{"date": (start + dt.timedelta(days=28 * i)).isoformat(),
              "daily_mme": 120 - 12 * (i + 1)} for i in range(9)]
    created = await client.post(
        f"/api/v1/care-plans/{plan['id']}/tapers", headers=world.auth("physician"), json={
            "opioid_since": (start - dt.timedelta(days=3 * 365)).isoformat(),
            "starts_on": start.isoformat(), "medication_statement_ids": ids, "steps": steps,
            "shared_decision": {"patient_agreed": True, "decided_on": dt.date.today().isoformat(),
                                "goals_served": [goal["id"]],
                                "patient_words": "Slowly, so I can keep working"}})
    assert created.status_code == 201, created.text
    assert created.json()["guardrails"] == []
    started = await client.post(
        f"/api/v1/care-plans/{plan['id']}/tapers/{created.json()['taper']['id']}/status",
        json={"status": "active"},
        headers={**world.auth("physician"), "If-Match": created.headers["etag"]})
    assert started.status_code == 200
    safety = (await client.get(f"/api/v1/care-plans/{plan['id']}/opioid-safety",
                               headers=world.auth("psychologist"))).json()
    assert safety["tapers"][0]["next_step"]["daily_mme"] == 108


async def test_only_a_physician_on_the_team_decides_a_taper(client: Any,
                                                            world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    start = dt.date.today()
    response = await client.post(
        f"/api/v1/care-plans/{plan['id']}/tapers", headers=world.auth("coordinator"), json={
            "opioid_since": "2020-01-01", "starts_on": start.isoformat(),
            "original_daily_mme": 60, "ingredient": "oxycodone",
            "steps": [{"date": start.isoformat(), "daily_mme": 54}]})
    assert response.status_code == 403
