"""The opioid dose over time, over the API: medications recorded and stopped on known
dates, a taper and goal reviews, read back as JSON and as an SVG chart. Expected totals
are worked out by hand with the CDC 2022 factors."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tests.factories import (
    FENTANYL_25_PATCH,
    HYDROCODONE_APAP_5_325,
    OXYCODONE_5_TABLET,
    ClinicWorld,
    add_goal,
    create_plan,
    record_medication,
)

pytestmark = pytest.mark.asyncio

SVG = "{http://www.w3.org/2000/svg}"
def _day(today: dt.date, offset: int) -> str:
    return (today + dt.timedelta(days=offset)).isoformat()


def _point(today: dt.date, offset: int, mme: float, lower_bound: bool = False) -> dict[str, Any]:
    return {"date": _day(today, offset), "mme_per_day": mme, "lower_bound": lower_bound}


async def _history_plan(client: Any, world: ClinicWorld, today: dt.date) -> str:
    """A plan whose opioids change on known days before today, with a draft taper ahead
    and two goal reviews behind."""
    plan = await create_plan(client, world)
    plan_id = plan["id"]
    # oxycodone 5 mg, 1 tablet 4 times a day = 20 mg/day x 1.5 = 30 MME/day, from day -90
    oxycodone = (await record_medication(client, world, plan_id, {
        "rxnorm_code": OXYCODONE_5_TABLET, "display": "oxycodone hydrochloride 5 MG Oral Tablet",
        "dose_quantity": 1, "dose_unit": "tablet", "schedule": {"count": 4},
        "period_start": _day(today, -90)})).json()
    # fentanyl 25 mcg/h, one patch every 72 h = 25 x 2.4 = 60 MME/day, from day -60,
    # stopped later with its last day on -31 (period_end -30, exclusive)
    fentanyl = await record_medication(client, world, plan_id, {
        "rxnorm_code": FENTANYL_25_PATCH,
        "display": "72 HR fentanyl 0.025 MG/HR Transdermal System", "route": "transdermal",
        "dose_quantity": 1, "dose_unit": "patch",
        "schedule": {"count": 1, "period": 72, "unit": "h"}, "period_start": _day(today, -60)})
    stopped = await client.patch(
        f"/api/v1/care-plans/{plan_id}/medications/{fentanyl.json()['id']}",
        json={"status": "stopped", "period_end": _day(today, -30)},
        headers={**world.auth("physician"), "If-Match": fentanyl.headers["etag"]})
    assert stopped.status_code == 200, stopped.text
    # hydrocodone 5 mg / APAP as needed, at most 6 tablets a day = 30 mg x 1.0 = 30 MME/day,
    # from day -45
    hydrocodone = (await record_medication(client, world, plan_id, {
        "rxnorm_code": HYDROCODONE_APAP_5_325,
        "display": "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet",
        "dose_quantity": 1, "dose_unit": "tablet",
        "schedule": {"count": 1, "period": 4, "unit": "h", "as_needed": True, "max_per_day": 6},
        "period_start": _day(today, -45)})).json()
    # a compounded capsule not in the product table, taken from day -10 to day -6: its MME
    # is unknown, so those days' total is only a lower bound
    await record_medication(client, world, plan_id, {
        "rxnorm_code": "99999999", "display": "oxycodone 7 mg compounded <capsule> & co",
        "dose_quantity": 1, "dose_unit": "capsule", "status": "completed",
        "period_start": _day(today, -10), "period_end": _day(today, -5)})
    # recorded in error: never counts
    await record_medication(client, world, plan_id, {
        "rxnorm_code": OXYCODONE_5_TABLET, "display": "oxycodone hydrochloride 5 MG Oral Tablet",
        "dose_quantity": 2, "dose_unit": "tablet", "status": "entered-in-error",
        "period_start": _day(today, -20)})
    # a draft taper of the 60 MME/day now taken (oxycodone 30 + hydrocodone 30):
    # 10% of 60 = 6 MME/day every 28 days, then a pause
    taper = await client.post(f"/api/v1/care-plans/{plan_id}/tapers",
                              headers=world.auth("physician"), json={
        "opioid_since": _day(today, -90), "starts_on": _day(today, 7),
        "medication_statement_ids": [oxycodone["id"], hydrocodone["id"]],
        "steps": [{"date": _day(today, 7), "daily_mme": 54},
                  {"date": _day(today, 35), "daily_mme": 48},
                  {"date": _day(today, 63), "daily_mme": 48, "pause": True}]})
    assert taper.status_code == 201, taper.text
    assert taper.json()["taper"]["original_daily_mme"] == pytest.approx(60)
    goal = await add_goal(client, world, plan_id, "physical_therapist")
    # one goal, weight 1, rho 0.3: T = 50 + 10 x level / sqrt(0.7 x 1 + 0.3 x 1) = 50 + 10 x level
    for offset, level in ((-20, 1), (-3, -1)):
        reviewed = await client.post(
            f"/api/v1/care-plans/{plan_id}/reviews", headers=world.auth("physical_therapist"),
            json={"entries": [{"goal_id": goal["id"], "level": level}],
                  "participants": [{"kind": "patient"}], "reviewed_on": _day(today, offset)})
        assert reviewed.status_code == 201, reviewed.text
    return str(plan_id)


async def test_the_history_follows_the_medications_taper_and_reviews(
        client: Any, world: ClinicWorld) -> None:
    today = dt.datetime.now(dt.UTC).date()  # the server's `now`
    plan_id = await _history_plan(client, world, today)
    response = await client.get(f"/api/v1/care-plans/{plan_id}/opioid-safety/history",
                                headers=world.auth("psychologist"))
    assert response.status_code == 200, response.text
    history = response.json()
    assert history["as_of"] == today.isoformat()
    assert history["points"] == [
        _point(today, -90, 30),  # oxycodone
        _point(today, -60, 90),  # + fentanyl 60
        _point(today, -45, 120),  # + hydrocodone 30 (its as-needed maximum)
        _point(today, -30, 60),  # - fentanyl
        _point(today, -10, 60, lower_bound=True),  # + the compounded capsule: at least 60
        _point(today, -5, 60),
        _point(today, 0, 60),
    ]
    safety = (await client.get(f"/api/v1/care-plans/{plan_id}/opioid-safety",
                               headers=world.auth("psychologist"))).json()
    assert safety["total"]["mme_per_day"] == pytest.approx(history["points"][-1]["mme_per_day"])
    # the first step is on the day the taper starts: the original dose is shown the day before
    assert history["planned"] == [_point(today, 6, 60), _point(today, 7, 54),
                                  _point(today, 35, 48), _point(today, 63, 48)]
    assert history["taper_status"] == "draft"
    assert history["taper_steps"] == [
        {"date": _day(today, 7), "label": "taper: 54 MME/day"},
        {"date": _day(today, 35), "label": "taper: 48 MME/day"},
        {"date": _day(today, 63), "label": "taper pause: hold at 48 MME/day"}]
    assert history["goal_reviews"] == [
        {"date": _day(today, -20), "label": "goal review, GAS T 60.0"},
        {"date": _day(today, -3), "label": "goal review, GAS T 40.0"}]
    assert history["thresholds"] == [50, 90]

    since = await client.get(f"/api/v1/care-plans/{plan_id}/opioid-safety/history",
                             params={"since": _day(today, -50)},
                             headers=world.auth("physician"))
    assert since.status_code == 200, since.text
    assert since.json()["points"][:2] == [_point(today, -50, 90), _point(today, -45, 120)]
    assert [m["date"] for m in since.json()["goal_reviews"]] == [_day(today, -20),
                                                                  _day(today, -3)]
    bad = await client.get(f"/api/v1/care-plans/{plan_id}/opioid-safety/history",
                           params={"since": "last tuesday"}, headers=world.auth("physician"))
    assert bad.status_code == 400


async def test_the_chart_is_an_svg_image_of_the_same_history(client: Any,
                                                              world: ClinicWorld) -> None:
    today = dt.datetime.now(dt.UTC).date()
    plan_id = await _history_plan(client, world, today)
    response = await client.get(f"/api/v1/care-plans/{plan_id}/opioid-safety/history.svg",
                                headers=world.auth("acupuncturist"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.text)  # noqa: S314 - our own output, parsed to check it
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Total opioid dose, MME/day: Chronic low back pain plan"
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert f"Latest: 60 MME/day on {today.isoformat()}" in (desc.text or "")
    classes = [e.get("class", "") for e in root.iter()]
    assert classes.count("marker goal-review") == 2
    assert classes.count("marker taper-step") == 3
    assert classes.count("threshold") == 2


async def test_a_plan_without_opioids_charts_no_opioid_on_record(client: Any,
                                                                 world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    history = await client.get(f"/api/v1/care-plans/{plan['id']}/opioid-safety/history",
                               headers=world.auth("physician"))
    assert history.status_code == 200
    assert history.json()["points"] == []
    chart = await client.get(f"/api/v1/care-plans/{plan['id']}/opioid-safety/history.svg",
                             headers=world.auth("physician"))
    assert chart.status_code == 200
    assert "no opioid on record" in chart.text
    ET.fromstring(chart.text)  # noqa: S314 - our own output, parsed to check it
