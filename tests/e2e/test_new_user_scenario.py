"""The issue's "tried it as a new user" scenario, over HTTP and the CLI only, against the
running `service dev`:

a coordinator of the demo clinic creates a patient and a care plan, puts the four
disciplines on its team (the physician leading) and activates it; the physical therapist
and the psychologist each add a goal in the patient's words, with its Goal Attainment
Scaling levels, and an activity serving it; two people change the same goal from the same
read at once (one wins, one gets 412); the team reviews both goals with the patient (GAS
T-score, next review dates moved on); another clinic's admin finds none of it (404); and
the audit trail names who did each step, from where, in which request."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.e2e.devserver import ROOT, DevServer, cli_command, last_line_token

pytestmark = pytest.mark.asyncio

GAS_WALKING = {
    "minus_2": "I can't get to the end of the street",
    "minus_1": "I get to the corner and have to stop",
    "zero": "I walk the dog round the lake, 20 minutes, without stopping",
    "plus_1": "I walk round the lake twice",
    "plus_2": "I walk to my sister's house, 45 minutes",
}
GAS_PLANS = {
    "minus_2": "I cancel everything when the pain flares",
    "minus_1": "I keep one plan in a bad week",
    "zero": "I keep two plans a week even on bad days",
    "plus_1": "I keep three plans a week",
    "plus_2": "I go back to choir practice every week",
}
PT_CADENCE, PSYCH_CADENCE = 14, 21
LEVELS = {"pt": 0, "psych": -1}


async def cli(server: DevServer, *args: str) -> subprocess.CompletedProcess[str]:
    """`uv run python -m service <args>` with the dev server's environment."""
    process = await asyncio.create_subprocess_exec(
        *cli_command(*args),
        cwd=ROOT,
        env=server.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode is not None
    return subprocess.CompletedProcess(
        cli_command(*args), process.returncode, out.decode(), err.decode()
    )


@dataclass
class Step:
    """An audited write: what the trail must show for it."""

    action: str
    resource_type: str
    resource_id: str
    actor_id: str
    request_id: str


@dataclass
class Scenario:
    dev: DevServer
    tokens: dict[str, str] = field(default_factory=dict)
    staff: dict[str, dict[str, Any]] = field(default_factory=dict)
    other_token: str = ""
    other_admin_id: str = ""
    patient: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    goals: dict[str, dict[str, Any]] = field(default_factory=dict)
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    race: list[tuple[str, httpx.Response, str, dict[str, Any]]] = field(default_factory=list)
    race_etag: str = ""
    reviewed_on: dt.date = dt.date(2000, 1, 1)
    review: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    @property
    def plan_path(self) -> str:
        return f"/api/v1/care-plans/{self.plan['id']}"

    async def call(
        self,
        client: httpx.AsyncClient,
        who: str,
        method: str,
        path: str,
        step: str,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[httpx.Response, str]:
        request_id = f"e2e-{step}-{uuid.uuid4().hex[:12]}"
        response = await client.request(
            method,
            path,
            headers={
                "Authorization": f"Bearer {self.tokens[who]}",
                "X-Request-ID": request_id,
                **(headers or {}),
            },
            **kwargs,
        )
        assert response.headers.get("x-request-id") == request_id
        return response, request_id

    async def write(
        self,
        client: httpx.AsyncClient,
        who: str,
        method: str,
        path: str,
        step: str,
        expect: int,
        audit: tuple[str, str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A write that must succeed, noted with the audit event it must leave:
        (action, resource type) about the resource it answers with."""
        response, request_id = await self.call(client, who, method, path, step, **kwargs)
        assert response.status_code == expect, f"{step}: {response.status_code} {response.text}"
        body: dict[str, Any] = response.json()
        if audit is not None:
            self.steps.append(
                Step(audit[0], audit[1], body["id"], self.staff[who]["id"], request_id)
            )
        return body


async def _tokens(scenario: Scenario, client: httpx.AsyncClient) -> None:
    dev = scenario.dev
    clinic, coordinator = await asyncio.gather(
        cli(dev, "clinic", "--slug", f"e2e-{uuid.uuid4().hex[:10]}", "--name", "Other clinic"),
        cli(dev, "token", "--clinic", "demo", "--role", "coordinator"),
    )
    scenario.other_token = last_line_token(clinic)
    scenario.tokens["coordinator"] = last_line_token(coordinator)
    scenario.tokens["admin"] = dev.token

    listed = await client.get(
        "/api/v1/staff",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {scenario.tokens['coordinator']}"},
    )
    assert listed.status_code == 200, listed.text
    staff = listed.json()["items"]
    for role in ("coordinator", "admin"):
        scenario.staff[role] = next(s for s in staff if s["role"] == role)
    for discipline in ("physician", "physical_therapist", "psychologist", "acupuncturist"):
        scenario.staff[discipline] = next(
            s for s in staff if s["role"] == "clinician" and s["discipline"] == discipline
        )
    clinicians = ("physician", "physical_therapist", "psychologist")
    issued = await asyncio.gather(
        *(
            cli(dev, "token", "--clinic", "demo", "--staff", scenario.staff[who]["id"])
            for who in clinicians
        )
    )
    for who, result in zip(clinicians, issued, strict=True):
        scenario.tokens[who] = last_line_token(result)

    others = await client.get(
        "/api/v1/staff", headers={"Authorization": f"Bearer {scenario.other_token}"}
    )
    assert others.status_code == 200, others.text
    scenario.other_admin_id = next(s["id"] for s in others.json()["items"] if s["role"] == "admin")
    assert scenario.other_admin_id not in {s["id"] for s in staff}


async def _plan(scenario: Scenario, client: httpx.AsyncClient) -> None:
    scenario.patient = await scenario.write(
        client,
        "coordinator",
        "POST",
        "/api/v1/patients",
        "create-patient",
        201,
        ("create", "Patient"),
        json={
            "given_name": "Wilhelmina",
            "family_name": "Quarrington-Abebe",
            "birth_date": "1966-09-14",
            "time_zone": "America/Denver",
            "language": "en",
            "contact_points": [{"system": "email", "value": "w.quarrington@example.org"}],
            "consent_to_messages": True,
        },
    )
    scenario.plan = await scenario.write(
        client,
        "coordinator",
        "POST",
        "/api/v1/care-plans",
        "create-plan",
        201,
        ("create", "CarePlan"),
        json={
            "patient_id": scenario.patient["id"],
            "title": "Chronic low back and hip pain",
            "what_matters": "Walking the dog round the lake and not letting my friends down",
            "health_concerns": ["Chronic low back pain", "Low mood"],
        },
    )
    assert scenario.plan["status"] == "draft"
    for discipline in ("physician", "physical_therapist", "psychologist", "acupuncturist"):
        member = await scenario.write(
            client,
            "coordinator",
            "POST",
            f"{scenario.plan_path}/team",
            f"team-{discipline}",
            201,
            ("create", "CareTeamMember"),
            json={"staff_id": scenario.staff[discipline]["id"], "lead": discipline == "physician"},
        )
        assert member["discipline"] == discipline
    read, _ = await scenario.call(client, "coordinator", "GET", scenario.plan_path, "read-plan")
    assert read.status_code == 200, read.text
    response, request_id = await scenario.call(
        client,
        "coordinator",
        "POST",
        f"{scenario.plan_path}/status",
        "activate",
        json={"status": "active"},
        headers={"If-Match": read.headers["etag"]},
    )
    assert response.status_code == 200, response.text
    scenario.plan = response.json()
    assert scenario.plan["status"] == "active"
    scenario.steps.append(
        Step(
            "transition",
            "CarePlan",
            scenario.plan["id"],
            scenario.staff["coordinator"]["id"],
            request_id,
        )
    )


async def _goals(scenario: Scenario, client: httpx.AsyncClient) -> None:
    scenario.reviewed_on = dt.datetime.now(dt.UTC).date()
    overdue = (scenario.reviewed_on - dt.timedelta(days=2)).isoformat()
    for key, who, description, gas, cadence, kind, activity in (
        (
            "pt",
            "physical_therapist",
            "I want to walk the dog round the lake again without having to stop",
            GAS_WALKING,
            PT_CADENCE,
            "exercise",
            "Graded walking: 10 minutes a day, 2 more each week",
        ),
        (
            "psych",
            "psychologist",
            "I want to stop cancelling on my friends when the pain flares",
            GAS_PLANS,
            PSYCH_CADENCE,
            "therapy-session",
            "CBT for chronic pain, weekly",
        ),
    ):
        goal = await scenario.write(
            client,
            who,
            "POST",
            f"{scenario.plan_path}/goals",
            f"goal-{key}",
            201,
            ("create", "Goal"),
            json={
                "description": description,
                "owners": [who],
                "expressed_by": "patient",
                "gas": gas,
                "review_cadence_days": cadence,
                "next_review_date": overdue,
            },
        )
        assert all(goal["gas"][level] == text for level, text in gas.items()), goal["gas"]
        assert goal["created_by"] == scenario.staff[who]["id"]
        scenario.goals[key] = goal
        scenario.activities[key] = await scenario.write(
            client,
            who,
            "POST",
            f"{scenario.plan_path}/activities",
            f"activity-{key}",
            201,
            ("create", "Activity"),
            json={
                "kind": kind,
                "description": activity,
                "goal_ids": [goal["id"]],
                "frequency": {"count": 1 if key == "psych" else 5, "period": 1, "unit": "wk"},
            },
        )
        assert scenario.activities[key]["discipline"] == who
        assert scenario.activities[key]["goal_ids"] == [goal["id"]]


async def _race(scenario: Scenario, client: httpx.AsyncClient) -> None:
    path = f"{scenario.plan_path}/goals/{scenario.goals['pt']['id']}"
    read, _ = await scenario.call(client, "physical_therapist", "GET", path, "read-goal")
    assert read.status_code == 200, read.text
    scenario.race_etag = read.headers["etag"]
    bodies = {
        "physical_therapist": {
            "achievement_status": "improving",
            "description": "Walk the dog round the lake, no stops",
        },
        "coordinator": {
            "achievement_status": "no-change",
            "description": "Walk round the lake with the dog",
        },
    }
    results = await asyncio.gather(
        *(
            scenario.call(
                client,
                who,
                "PATCH",
                path,
                f"race-{who}",
                json=body,
                headers={"If-Match": scenario.race_etag},
            )
            for who, body in bodies.items()
        )
    )
    scenario.race = [
        (who, response, request_id, bodies[who])
        for who, (response, request_id) in zip(bodies, results, strict=True)
    ]
    winners = [r for r in scenario.race if r[1].status_code == 200]
    if len(winners) == 1:
        who, _, request_id, _ = winners[0]
        scenario.steps.append(
            Step(
                "update", "Goal", scenario.goals["pt"]["id"], scenario.staff[who]["id"], request_id
            )
        )


async def _review(scenario: Scenario, client: httpx.AsyncClient) -> None:
    scenario.review = await scenario.write(
        client,
        "physician",
        "POST",
        f"{scenario.plan_path}/reviews",
        "review",
        201,
        ("create", "GoalReview"),
        json={
            "reviewed_on": scenario.reviewed_on.isoformat(),
            "entries": [
                {"goal_id": scenario.goals[key]["id"], "level": level}
                for key, level in LEVELS.items()
            ],
            "participants": [
                {"kind": "patient"},
                {"kind": "staff", "staff_id": scenario.staff["physician"]["id"]},
                {"kind": "staff", "staff_id": scenario.staff["physical_therapist"]["id"]},
                {"kind": "staff", "staff_id": scenario.staff["psychologist"]["id"]},
            ],
            "patient_voice": "The walking is coming on; I still cancel when it's bad.",
        },
    )


@pytest_asyncio.fixture(scope="module")
async def scenario(dev: DevServer) -> Scenario:
    scenario = Scenario(dev=dev)
    async with httpx.AsyncClient(base_url=dev.base_url, timeout=30.0) as client:
        await _tokens(scenario, client)
        await _plan(scenario, client)
        await _goals(scenario, client)
        await _race(scenario, client)
        await _review(scenario, client)
    return scenario


@pytest_asyncio.fixture
async def client(dev: DevServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=dev.base_url, timeout=30.0) as client:
        yield client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the plan the coordinator set up ------------------------------------------------------


async def test_the_plan_is_active_with_the_four_disciplines_and_the_physician_leading(
    scenario: Scenario, client: httpx.AsyncClient
) -> None:
    team = await client.get(
        f"{scenario.plan_path}/team", headers=_auth(scenario.tokens["coordinator"])
    )
    assert team.status_code == 200, team.text
    members = {m["discipline"]: m for m in team.json()}
    assert set(members) == {"physician", "physical_therapist", "psychologist", "acupuncturist"}
    for discipline, member in members.items():
        assert member["staff_id"] == scenario.staff[discipline]["id"]
        assert member["lead"] is (discipline == "physician")

    # Each clinician on the team sees the plan, its goals and activities.
    for who in ("physical_therapist", "psychologist", "physician"):
        plan = await client.get(scenario.plan_path, headers=_auth(scenario.tokens[who]))
        assert plan.status_code == 200, plan.text
        body = plan.json()
        assert body["status"] == "active"
        assert {g["id"] for g in body["goals"]} == {g["id"] for g in scenario.goals.values()}
        assert {a["id"] for a in body["activities"]} == {
            a["id"] for a in scenario.activities.values()
        }


async def test_each_goal_is_in_the_patients_words_with_an_activity_serving_it(
    scenario: Scenario, client: httpx.AsyncClient
) -> None:
    for key, who in (("pt", "physical_therapist"), ("psych", "psychologist")):
        goal = await client.get(
            f"{scenario.plan_path}/goals/{scenario.goals[key]['id']}",
            headers=_auth(scenario.tokens[who]),
        )
        assert goal.status_code == 200, goal.text
        assert goal.json()["expressed_by"] == "patient"
        assert goal.json()["owners"] == [who]
        assert set(goal.json()["gas"]) >= {"minus_2", "minus_1", "zero", "plus_1", "plus_2"}
        activity = await client.get(
            f"{scenario.plan_path}/activities/{scenario.activities[key]['id']}",
            headers=_auth(scenario.tokens[who]),
        )
        assert activity.status_code == 200, activity.text
        assert activity.json()["goal_ids"] == [scenario.goals[key]["id"]]


# -- two people, one goal, one read -------------------------------------------------------


async def test_concurrent_updates_from_the_same_read_one_wins_one_gets_412(
    scenario: Scenario, client: httpx.AsyncClient
) -> None:
    statuses = sorted(response.status_code for _, response, _, _ in scenario.race)
    assert statuses == [200, 412], [(w, r.status_code, r.text) for w, r, _, _ in scenario.race]
    (winner,) = [r for r in scenario.race if r[1].status_code == 200]
    (loser,) = [r for r in scenario.race if r[1].status_code == 412]
    problem = loser[1]
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert problem.json()["status"] == 412
    assert any(e["field"] == "If-Match" for e in problem.json().get("errors", [])), problem.text

    goal = await client.get(
        f"{scenario.plan_path}/goals/{scenario.goals['pt']['id']}",
        headers=_auth(scenario.tokens["physical_therapist"]),
    )
    assert goal.status_code == 200
    # The winner's change, exactly once (the review that followed bumped it once more).
    assert goal.json()["description"] == winner[3]["description"]
    before = int(scenario.race_etag.removeprefix("W/").strip('"'))
    assert winner[1].json()["version"] == before + 1
    assert winner[1].headers["etag"] == f'W/"{before + 1}"'


# -- the goal review ----------------------------------------------------------------------


async def test_review_gives_the_kiresuk_sherman_t_score_and_moves_the_next_reviews(
    scenario: Scenario, client: httpx.AsyncClient
) -> None:
    # Kiresuk & Sherman (1968), rho = 0.3, every weight 1, levels x = (0, -1):
    #   T = 50 + 10 * sum(w*x) / sqrt(0.7 * sum(w^2) + 0.3 * (sum w)^2)
    #     = 50 + 10 * (1*0 + 1*(-1)) / sqrt(0.7 * (1 + 1) + 0.3 * (1 + 1)^2)
    #     = 50 - 10 / sqrt(1.4 + 1.2) = 50 - 10 / sqrt(2.6) = 43.79826...
    weights = [1.0, 1.0]
    levels = [LEVELS["pt"], LEVELS["psych"]]
    expected = 50 + 10 * sum(w * x for w, x in zip(weights, levels, strict=True)) / math.sqrt(
        0.7 * sum(w * w for w in weights) + 0.3 * sum(weights) ** 2
    )
    assert expected == pytest.approx(43.7983, abs=1e-4)
    assert scenario.review["t_score"] == pytest.approx(expected, abs=1e-9)
    assert scenario.review["recorded_by"] == scenario.staff["physician"]["id"]
    assert {"kind": "patient"} in [
        {k: v for k, v in p.items() if v is not None} for p in scenario.review["participants"]
    ]

    reviews = await client.get(
        f"{scenario.plan_path}/reviews", headers=_auth(scenario.tokens["psychologist"])
    )
    assert reviews.status_code == 200, reviews.text
    assert [r["id"] for r in reviews.json()] == [scenario.review["id"]]

    for key, cadence in (("pt", PT_CADENCE), ("psych", PSYCH_CADENCE)):
        goal = await client.get(
            f"{scenario.plan_path}/goals/{scenario.goals[key]['id']}",
            headers=_auth(scenario.tokens["physician"]),
        )
        assert goal.status_code == 200, goal.text
        assert (
            scenario.goals[key]["next_review_date"]
            == (scenario.reviewed_on - dt.timedelta(days=2)).isoformat()
        )
        assert (
            goal.json()["next_review_date"]
            == (scenario.reviewed_on + dt.timedelta(days=cadence)).isoformat()
        )


# -- another clinic -----------------------------------------------------------------------


async def test_another_clinics_admin_finds_none_of_it(
    scenario: Scenario, client: httpx.AsyncClient
) -> None:
    plan = scenario.plan_path
    probes: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/api/v1/patients/{scenario.patient['id']}", {}),
        ("GET", plan, {}),
        ("GET", f"{plan}/team", {}),
        *[("GET", f"{plan}/goals/{g['id']}", {}) for g in scenario.goals.values()],
        *[("GET", f"{plan}/activities/{a['id']}", {}) for a in scenario.activities.values()],
        ("GET", f"{plan}/reviews", {}),
        (
            "PATCH",
            f"{plan}/goals/{scenario.goals['psych']['id']}",
            {"json": {"description": "taken over"}, "headers": {"If-Match": 'W/"1"'}},
        ),
        (
            "PATCH",
            f"{plan}/goals/{scenario.goals['psych']['id']}",
            {"json": {"description": "taken over"}, "headers": {"If-Match": 'W/"2"'}},
        ),
        ("GET", "/api/v1/audit-events", {"params": {"patient_id": scenario.patient["id"]}}),
    ]
    failures = []
    for method, path, kwargs in probes:
        headers = {**_auth(scenario.other_token), **kwargs.pop("headers", {})}
        response = await client.request(method, path, headers=headers, **kwargs)
        if response.status_code != 404:
            failures.append(
                f"{method} {path} {kwargs}: {response.status_code} {response.text[:300]}"
            )
            continue
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "Quarrington" not in response.text
    listed = await client.get("/api/v1/patients", headers=_auth(scenario.other_token))
    assert listed.status_code == 200
    if scenario.patient["id"] in {p["id"] for p in listed.json()["items"]}:
        failures.append("the other clinic lists the patient")
    assert not failures, "another clinic's admin got something other than 404:\n" + "\n".join(
        failures
    )

    # And nothing it tried changed the goal.
    goal = await client.get(
        f"{plan}/goals/{scenario.goals['psych']['id']}",
        headers=_auth(scenario.tokens["psychologist"]),
    )
    assert goal.json()["description"] == scenario.goals["psych"]["description"]


# -- the audit trail ----------------------------------------------------------------------


async def test_audit_trail_names_each_step_its_actor_request_and_address(
    scenario: Scenario, client: httpx.AsyncClient
) -> None:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await client.get(
            "/api/v1/audit-events",
            headers=_auth(scenario.dev.token),
            params={
                "patient_id": scenario.patient["id"],
                "limit": 500,
                **({"cursor": cursor} if cursor else {}),
            },
        )
        assert response.status_code == 200, response.text
        events.extend(response.json()["items"])
        cursor = response.json().get("next_cursor")
        if not cursor:
            break
    assert all(e["patient_id"] == scenario.patient["id"] for e in events)

    # Every audited write of the scenario, by whom, in which request, from where.
    expected = len(scenario.steps)
    assert expected == 1 + 1 + 4 + 1 + 2 + 2 + 1 + 1, [s.action for s in scenario.steps]
    missing = []
    for step in scenario.steps:
        found = [
            e
            for e in events
            if e["request_id"] == step.request_id
            and e["action"] == step.action
            and e["resource_type"] == step.resource_type
            and e["resource_id"] == step.resource_id
        ]
        if not found:
            missing.append(
                f"{step}; events of that request: "
                f"{[e for e in events if e['request_id'] == step.request_id]}"
            )
            continue
        event = found[0]
        assert event["actor_type"] == "staff", event
        assert event["actor_id"] == step.actor_id, (step, event)
        assert event["client_address"] == "127.0.0.1", event
    assert not missing, "audit events missing:\n" + "\n".join(missing)

    # The update that lost the race left nothing behind, and the other clinic's attempts
    # are no events of this clinic's patient.
    for _, response, request_id, _ in scenario.race:
        if response.status_code != 200:
            assert not [
                e for e in events if e["request_id"] == request_id and e["action"] == "update"
            ], "a refused update was audited as done"
    assert scenario.other_admin_id not in {e["actor_id"] for e in events}
    # Every access by staff has its actor, its request and its address.
    incomplete = [
        e
        for e in events
        if e["actor_type"] == "staff"
        and (e["actor_id"] is None or not e["request_id"] or not e["client_address"])
    ]
    assert not incomplete, incomplete[:5]


async def test_the_patients_name_never_reaches_the_logs(scenario: Scenario) -> None:
    await asyncio.sleep(0.5)
    logs = scenario.dev.stderr() + scenario.dev.stdout()
    for value in ("Wilhelmina", "Quarrington", "w.quarrington@example.org"):
        assert value not in logs, f"{value!r} is in the dev process's output"
