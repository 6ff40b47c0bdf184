"""What clinicians and coordinators notice: versions, conflicts, illegal moves, and
errors that name the field."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.factories import GAS, PATIENT, ClinicWorld, add_goal, create_plan

pytestmark = pytest.mark.asyncio
PROBLEM = "application/problem+json"


async def test_update_without_if_match_is_428_and_stale_is_412(
    client: Any, world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world, plan["id"], "physical_therapist")
    url = f"/api/v1/care-plans/{plan['id']}/goals/{goal['id']}"
    pt = world.auth("physical_therapist")
    missing = await client.patch(url, json={"description": "Walk to the park"}, headers=pt)
    assert missing.status_code == 428
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json()["errors"][0]["field"] == "If-Match"
    first = await client.patch(
        url, json={"description": "Walk to the park"}, headers={**pt, "If-Match": goal["etag"]}
    )
    assert first.status_code == 200 and first.headers["etag"] == 'W/"2"'
    stale = await client.patch(
        url, json={"description": "Walk to the river"}, headers={**pt, "If-Match": goal["etag"]}
    )
    assert stale.status_code == 412
    now = await client.get(url, headers=pt)
    assert now.json()["description"] == "Walk to the park"


async def test_two_clinicians_same_etag_at_once_exactly_one_wins(
    client: Any, world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world, plan["id"], "physical_therapist")
    url = f"/api/v1/care-plans/{plan['id']}/goals/{goal['id']}"
    results = await asyncio.gather(
        *[
            client.patch(
                url,
                json={"description": text},
                headers={**world.auth(who), "If-Match": goal["etag"]},
            )
            for who, text in (
                ("physical_therapist", "Walk 20 minutes"),
                ("coordinator", "Walk 30 minutes"),
            )
        ]
    )
    assert sorted(r.status_code for r in results) == [200, 412]
    winner = next(r for r in results if r.status_code == 200).json()["description"]
    assert (await client.get(url, headers=world.auth("physician"))).json()["description"] == winner


async def test_idempotency_key_replays_the_first_response_and_creates_nothing(
    client: Any, world: ClinicWorld
) -> None:
    headers = {**world.auth("coordinator"), "Idempotency-Key": "create-rosa-1"}
    first = await client.post("/api/v1/patients", json=PATIENT, headers=headers)
    again = await client.post("/api/v1/patients", json=PATIENT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    listed = await client.get("/api/v1/patients", headers=world.auth("coordinator"))
    assert [p["id"] for p in listed.json()["items"]] == [first.json()["id"]]
    different = await client.post(
        "/api/v1/patients", json={**PATIENT, "given_name": "Ana"}, headers=headers
    )
    assert different.status_code == 422
    assert different.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_illegal_transitions_answer_409_with_the_reason(
    client: Any, world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    coordinator = world.auth("coordinator")
    second_lead = await client.post(
        f"/api/v1/care-plans/{plan['id']}/team",
        headers=coordinator,
        json={"staff_id": str(world.staff["outsider"].id), "lead": True},
    )
    assert second_lead.status_code == 409
    assert "already has a lead" in second_lead.json()["detail"]
    await add_goal(client, world, plan["id"], "psychologist")
    current = await client.get(f"/api/v1/care-plans/{plan['id']}", headers=coordinator)
    complete = await client.post(
        f"/api/v1/care-plans/{plan['id']}/status",
        json={"status": "completed"},
        headers={**coordinator, "If-Match": current.headers["etag"]},
    )
    assert complete.status_code == 409
    assert "still open" in complete.json()["detail"]
    revoked = await client.post(
        f"/api/v1/care-plans/{plan['id']}/status",
        json={"status": "revoked"},
        headers={**coordinator, "If-Match": current.headers["etag"]},
    )
    assert revoked.status_code == 200
    late_goal = await client.post(
        f"/api/v1/care-plans/{plan['id']}/goals",
        headers=world.auth("psychologist"),
        json={"description": "Sleep better", "owners": ["psychologist"]},
    )
    assert late_goal.status_code == 409
    assert "revoked" in late_goal.json()["detail"]


async def test_bad_input_names_the_field_and_writes_nothing(
    client: Any, world: ClinicWorld
) -> None:
    coordinator = world.auth("coordinator")
    cases = [
        ({**PATIENT, "time_zone": "Mars/Olympus"}, "time_zone"),
        ({**PATIENT, "birth_date": "not-a-date"}, "birth_date"),
        (
            {**PATIENT, "contact_points": [{"system": "email", "value": "nope"}]},
            "contact_points[0].value",
        ),
        ({**PATIENT, "favourite_colour": "blue"}, "favourite_colour"),
        ({k: v for k, v in PATIENT.items() if k != "family_name"}, "family_name"),
    ]
    for body, field in cases:
        response = await client.post("/api/v1/patients", json=body, headers=coordinator)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
    malformed = await client.post(
        "/api/v1/patients",
        content=b"{not json",
        headers={**coordinator, "content-type": "application/json"},
    )
    assert malformed.status_code in (400, 422)
    listed = await client.get("/api/v1/patients", headers=coordinator)
    assert listed.json()["items"] == []


async def test_goal_acceptance_shows_who_has_not_yet_agreed(
    client: Any, world: ClinicWorld
) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world, plan["id"], "physical_therapist")
    stances = {a["participant"]: a["status"] for a in goal["acceptance"]}
    assert stances == {
        "patient": "pending",
        "physician": "pending",
        "physical_therapist": "pending",
        "psychologist": "pending",
        "acupuncturist": "pending",
    }
    url = f"/api/v1/care-plans/{plan['id']}/goals/{goal['id']}/acceptance"
    no_reason = await client.post(
        url,
        json={"participant": "physician", "status": "disagree"},
        headers={**world.auth("physician"), "If-Match": goal["etag"]},
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"
    for_someone_else = await client.post(
        url,
        json={"participant": "physician", "status": "agree"},
        headers={**world.auth("acupuncturist"), "If-Match": goal["etag"]},
    )
    assert for_someone_else.status_code == 403
    disagreed = await client.post(
        url,
        json={
            "participant": "physician",
            "status": "disagree",
            "reason": "Twenty minutes is too much before the sleep work starts",
        },
        headers={**world.auth("physician"), "If-Match": goal["etag"]},
    )
    assert disagreed.status_code == 200, disagreed.text
    body = disagreed.json()
    assert body["aligned"] is False
    physician = next(a for a in body["acceptance"] if a["participant"] == "physician")
    assert physician["status"] == "disagree" and physician["reason"].startswith("Twenty")


async def test_review_scores_goals_and_moves_next_review(client: Any, world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    walk = await add_goal(client, world, plan["id"], "physical_therapist")
    plans = await add_goal(client, world, plan["id"], "psychologist", "Keep my plans with friends")
    response = await client.post(
        f"/api/v1/care-plans/{plan['id']}/reviews",
        headers=world.auth("psychologist"),
        json={
            "reviewed_on": "2026-12-01",
            "patient_voice": "The walks are getting easier",
            "participants": [
                {"kind": "patient"},
                {"kind": "staff", "staff_id": str(world.staff["psychologist"].id)},
            ],
            "entries": [{"goal_id": walk["id"], "level": 0}, {"goal_id": plans["id"], "level": -1}],
        },
    )
    assert response.status_code == 201, response.text
    # Kiresuk & Sherman with equal weights and rho 0.3:
    # 50 + 10 * (0 - 1) / sqrt(0.7 * 2 + 0.3 * 2**2) = 50 - 10 / sqrt(2.6) = 43.7983...
    assert response.json()["t_score"] == pytest.approx(43.79826, abs=1e-4)
    goal = await client.get(
        f"/api/v1/care-plans/{plan['id']}/goals/{walk['id']}", headers=world.auth("physician")
    )
    assert goal.json()["next_review_date"] == "2026-12-29"  # 28-day cadence
    whole = await client.get(f"/api/v1/care-plans/{plan['id']}", headers=world.auth("physician"))
    assert whole.json()["latest_reviews"][0]["id"] == response.json()["id"]
    no_patient = await client.post(
        f"/api/v1/care-plans/{plan['id']}/reviews",
        headers=world.auth("psychologist"),
        json={"participants": [], "entries": [{"goal_id": walk["id"], "level": 1}]},
    )
    assert no_patient.status_code == 422
    assert no_patient.json()["errors"][0]["field"] == "participants"


async def test_lists_filter_and_page_with_a_cursor(client: Any, world: ClinicWorld) -> None:
    plans = [await create_plan(client, world) for _ in range(3)]
    draft = await create_plan(client, world, activate=False)
    coordinator = world.auth("coordinator")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/care-plans", params=params, headers=coordinator)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p["id"] for p in [*plans, draft]]
    active = await client.get(
        "/api/v1/care-plans", params={"status": "active"}, headers=coordinator
    )
    assert {p["id"] for p in active.json()["items"]} == {p["id"] for p in plans}
    mine = await client.get(
        "/api/v1/care-plans", params={"member": "me"}, headers=world.auth("outsider")
    )
    assert mine.json()["items"] == []
    await add_goal(client, world, plans[0]["id"], "physical_therapist")
    due = await client.get(
        "/api/v1/care-plans", params={"review_due_before": "2099-01-01"}, headers=coordinator
    )
    assert [p["id"] for p in due.json()["items"]] == [plans[0]["id"]]
    bad = await client.get("/api/v1/care-plans", params={"cursor": "garbage"}, headers=coordinator)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


async def test_gas_levels_must_all_be_written(client: Any, world: ClinicWorld) -> None:
    plan = await create_plan(client, world)
    response = await client.post(
        f"/api/v1/care-plans/{plan['id']}/goals",
        headers=world.auth("physical_therapist"),
        json={
            "description": "Walk",
            "owners": ["physical_therapist"],
            "gas": {**GAS, "plus_2": "  "},
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "gas.plus_2"


async def test_values_the_database_cannot_store_are_422_not_5xx(client: Any,
                                                                world: ClinicWorld) -> None:
    coordinator = world.auth("coordinator")
    nul = await client.post("/api/v1/patients", json={**PATIENT, "given_name": "Ro\u0000sa"},
                            headers=coordinator)
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "given_name"
    too_long = await client.post("/api/v1/patients", json={**PATIENT, "family_name": "x" * 201},
                                 headers=coordinator)
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "family_name"
    identifier = {"system": "urn:mrn", "value": "A\u0000B"}
    hidden = await client.post("/api/v1/patients", json={**PATIENT, "identifiers": [identifier]},
                               headers=coordinator)
    assert hidden.status_code == 422
    assert "A\u0000B" not in hidden.text
