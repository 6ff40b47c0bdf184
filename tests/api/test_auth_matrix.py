"""Who may call what on the internal API: every /api/v1 endpoint against every way of
being turned away. The case table is tests/api/matrix_cases.py; the first test keeps it
in step with the app's routes, so that a new endpoint cannot escape the matrix.

For each endpoint, pointed at real resources of a clinic (built over the API):
- no token, a malformed one, an unknown one or a revoked one: 401 with WWW-Authenticate;
- another clinic's admin or coordinator: 404 wherever an id is in the path, and lists
  that show only their own clinic's rows;
- a clinician not on the plan's team: 404 for everything about the plan and its patient;
- the wrong role or discipline: 403;
and every denied answer is a bare problem+json that gives nothing away, and every denied
write leaves what it aimed at exactly as it was."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.routes import HTTPRoute
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.matrix_cases import (
    API,
    BY_ID,
    ENDPOINTS,
    FORBIDDEN,
    LIST_CASES,
    LIST_TEMPLATES,
    Endpoint,
    ListCase,
    Scene,
    add_dead_tokens,
    build_scene,
    leaks,
    probe,
)
from tests.factories import ClinicWorld, make_clinic

REQUEST_ID = "auth-matrix"


# -- fixtures ---------------------------------------------------------------------------------

@pytest_asyncio.fixture
async def scene(client: Any, engine: AsyncEngine, world: ClinicWorld) -> Scene:
    """A fresh clinic's scene, for requests that might change something if wrongly let
    through."""
    return await build_scene(client, engine, world)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def shared_scene(client: Any, engine: AsyncEngine) -> AsyncIterator[Scene]:
    """One scene for the unauthenticated cases: they never reach a clinic, and each still
    checks that its write changed nothing."""
    world = await make_clinic(engine, f"m-{uuid.uuid4().hex[:12]}")
    scene = await build_scene(client, engine, world)
    await add_dead_tokens(client, engine, scene)
    yield scene


# -- helpers ----------------------------------------------------------------------------------

async def send(client: Any, scene: Scene, endpoint: Endpoint,
               headers: dict[str, str]) -> tuple[str, Any]:
    """The endpoint's request against `scene`, with the current ETag where it takes
    If-Match: a request the allowed actor would see succeed."""
    path = scene.path(endpoint.template)
    headers = {**headers, "X-Request-ID": REQUEST_ID}
    if endpoint.if_match:
        etag = (await probe(client, scene, endpoint.if_match)).etag
        assert etag, f"no ETag from probe {endpoint.if_match}"
        headers["If-Match"] = etag
    body = {} if endpoint.body is None else {"json": endpoint.body(scene)}
    response = await client.request(endpoint.method, path, headers=headers, **body)
    return path, response


def describe(endpoint: Endpoint, path: str, who: str, expected: int, response: Any) -> str:
    return (f"{endpoint.method} {path} as {who}: expected {expected}, "
            f"got {response.status_code}: {response.text[:600]}")


async def assert_denied(client: Any, scene: Scene, endpoint: Endpoint, who: str,
                        headers: dict[str, str], status: int,
                        others: tuple[ClinicWorld, ...] = ()) -> Any:
    """Send the request as `who`, expect `status` with a bare problem+json, and find every
    probe of a write unchanged."""
    before = {name: await probe(client, scene, name) for name in endpoint.probes}
    path, response = await send(client, scene, endpoint, headers)
    assert response.status_code == status, describe(endpoint, path, who, status, response)
    leaked = leaks(response, path, scene, others)
    assert not leaked, f"{endpoint.method} {path} as {who} gives away: {leaked}"
    after = {name: await probe(client, scene, name) for name in endpoint.probes}
    changed = [name for name in endpoint.probes if before[name] != after[name]]
    assert not changed, (f"{endpoint.method} {path} as {who} was denied ({status}) "
                         f"but changed {changed}: {before} -> {after}")
    return response


# -- 0. the table covers the app --------------------------------------------------------------

def api_routes(app: Litestar) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if not route.path.startswith(API):
            continue
        if not isinstance(route, HTTPRoute):
            found.add((type(route).__name__, route.path))
            continue
        found |= {(str(method), route.path) for method in route.methods if method != "OPTIONS"}
    return found


def test_every_api_route_is_in_the_matrix(app: Litestar) -> None:
    routes = api_routes(app)
    table = {(e.method, e.template) for e in ENDPOINTS}
    assert len(table) == len(ENDPOINTS), "an endpoint is in the table twice"
    missing = sorted(routes - table)
    assert not missing, f"/api/v1 routes with no row in matrix_cases.ENDPOINTS: {missing}"
    stale = sorted(table - routes)
    assert not stale, f"matrix_cases.ENDPOINTS rows for routes the app no longer has: {stale}"
    lists = {e.template for e in ENDPOINTS if e.method == "GET" and not e.has_path_ids}
    assert lists == LIST_TEMPLATES, "every list endpoint needs its LIST_CASES row"


# -- control: the matrix's requests are ones the allowed actor gets through ------------------

@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
@pytest.mark.asyncio
async def test_allowed_actor_succeeds(client: Any, scene: Scene, endpoint: Endpoint) -> None:
    """Without this, a denial below could be a malformed request rather than a rule."""
    path, response = await send(client, scene, endpoint, scene.auth(endpoint.allowed_as))
    assert response.status_code == endpoint.success, describe(
        endpoint, path, endpoint.allowed_as, endpoint.success, response)


# -- 1-3. no, malformed, unknown or revoked credentials: 401 ---------------------------------

DEAD = "a token that once worked"
CREDENTIALS: dict[str, str | None] = {
    "no-header": None,
    "bearer-bangs": "Bearer !!",
    "basic": "Basic abc",
    "bearer-alone": "Bearer",
    "bearer-blank": "Bearer  ",
    "token-without-scheme": "cc_" + "A" * 43,
    "unknown-token": "Bearer cc_" + "A" * 43,
    # tokens that worked once (see matrix_cases.add_dead_tokens)
    "revoked-token": DEAD,
    "expired-token": DEAD,
    "deactivated-staff-token": DEAD,
}


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
@pytest.mark.asyncio
async def test_without_valid_credentials_is_401(client: Any, shared_scene: Scene,
                                                endpoint: Endpoint, credential: str) -> None:
    value = CREDENTIALS[credential]
    if value is DEAD:
        value = f"Bearer {shared_scene.dead_tokens[credential]}"
    headers = {} if value is None else {"Authorization": value}
    response = await assert_denied(client, shared_scene, endpoint, credential, headers, 401)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer"), (
        f"{endpoint.method} {endpoint.template} as {credential}: "
        f"WWW-Authenticate is {challenge!r}")


# -- 4. another clinic: 404 for this clinic's ids, only its own rows in lists -----------------

OTHER_CLINIC = ("admin", "coordinator")
WITH_IDS = [e for e in ENDPOINTS if e.has_path_ids]


@pytest.mark.parametrize("who", OTHER_CLINIC)
@pytest.mark.parametrize("endpoint", WITH_IDS, ids=lambda e: e.id)
@pytest.mark.asyncio
async def test_other_clinic_gets_404_for_this_clinics_ids(
        client: Any, scene: Scene, other_world: ClinicWorld, endpoint: Endpoint,
        who: str) -> None:
    await assert_denied(client, scene, endpoint, f"{who} of another clinic",
                        other_world.auth(who), 404, (other_world,))


def _list_params() -> list[Any]:
    return [pytest.param(case, who, id=f"{case.name}-{who}")
            for case in LIST_CASES for who in OTHER_CLINIC
            # coordinators may not read the audit trail at all (403, in the role matrix)
            if not (case.name.startswith("audit-events") and who == "coordinator")]


@pytest.mark.parametrize(("case", "who"), _list_params())
@pytest.mark.asyncio
async def test_other_clinic_lists_only_its_own_rows(
        client: Any, engine: AsyncEngine, scene: Scene, other_world: ClinicWorld,
        case: ListCase, who: str) -> None:
    mine = await build_scene(client, engine, other_world)
    # First try this clinic's plan, so that a trail of the attempt would show in a list.
    attempt = await client.get(scene.path(f"{API}/care-plans/{{plan_id}}"),
                               headers=other_world.auth(who))
    assert attempt.status_code == 404, attempt.text
    path = case.path(scene)
    response = await client.get(path, headers=other_world.auth(who))
    expected = 404 if case.not_found else 200
    assert response.status_code == expected, f"GET {path} as {who}: {response.text}"
    text = response.text.lower()
    seen = sorted(i for i in scene.known_ids if i in text)
    assert not seen, f"GET {path} as {who} of another clinic lists this clinic's ids {seen}"
    names = [s.name for s in scene.world.staff.values() if s.name.lower() in text]
    secrets = [v for v in scene.secrets.values() if v.lower() in text]
    assert not names and not secrets, f"GET {path} shows this clinic's {names} {secrets}"
    assert scene.custom_discipline not in text
    assert scene.world.slug not in text
    if case.not_found:
        return
    body = response.json()
    items = body["items"] if isinstance(body, dict) else body
    if case.empty:
        assert items == [], f"GET {path} as {who} of another clinic: {items}"
    if case.own_row:
        assert mine.ids[case.own_row] in text, f"GET {path} misses the caller's own rows"


# -- 5. a clinician not on the plan's team: 404 for the plan and its patient -------------------

@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.plan_scoped],
                         ids=lambda e: e.id)
@pytest.mark.asyncio
async def test_clinician_not_on_the_team_gets_404(client: Any, scene: Scene,
                                                  endpoint: Endpoint) -> None:
    await assert_denied(client, scene, endpoint, "outsider (physician on no team)",
                        scene.auth("outsider"), 404)


@pytest.mark.parametrize("path", [
    f"{API}/patients?limit=100", f"{API}/care-plans?limit=100",
    f"{API}/care-plans?member=me", f"{API}/tasks?limit=100",
    f"{API}/care-plans?patient_id={{patient_id}}", f"{API}/tasks?care_plan_id={{plan_id}}",
], ids=lambda p: p.removeprefix(API))
@pytest.mark.asyncio
async def test_clinician_not_on_the_team_lists_nothing_of_the_plan(
        client: Any, scene: Scene, path: str) -> None:
    path = scene.path(path)
    response = await client.get(path, headers=scene.auth("outsider"))
    assert response.status_code == 200, response.text
    seen = [key for key in ("patient_id", "plan_id", "task_id", "goal_id")
            if scene.ids[key] in response.text]
    assert not seen, f"GET {path} as the outsider lists the plan's {seen}: {response.text}"
    assert response.json()["items"] == []


# -- 6. the wrong role or discipline: 403 ------------------------------------------------------

@pytest.mark.parametrize(("who", "endpoint"), [
    pytest.param(who, endpoint, id=f"{who}-{endpoint.id}") for who, endpoint in FORBIDDEN])
@pytest.mark.asyncio
async def test_wrong_role_or_discipline_gets_403(client: Any, scene: Scene, who: str,
                                                 endpoint: Endpoint) -> None:
    await assert_denied(client, scene, endpoint, who, scene.auth(who), 403)


# -- another clinic's ids in a body: refused, nothing written ----------------------------------

FOREIGN_BODIES: list[tuple[str, str, str, Any]] = [
    # (name, who of the other clinic, endpoint id, body built from (this scene, theirs))
    ("plan-for-this-clinics-patient", "coordinator", "POST /care-plans",
     lambda s, m: {"patient_id": s.ids["patient_id"], "title": "Not yours"}),
    ("task-on-this-clinics-plan", "coordinator", "POST /tasks",
     lambda s, m: {"title": "Not yours", "care_plan_id": s.ids["plan_id"]}),
    ("task-for-this-clinics-staff", "coordinator", "POST /tasks",
     lambda s, m: {"title": "Not yours", "owner_id": s.ids["staff_id"]}),
    ("team-member-from-this-clinic", "coordinator", "POST /care-plans/{plan_id}/team",
     lambda s, m: {"staff_id": str(s.world.staff["outsider"].id)}),
    ("activity-for-this-clinics-goal", "physical_therapist",
     "POST /care-plans/{plan_id}/activities",
     lambda s, m: {"kind": "exercise", "description": "x", "goal_ids": [s.ids["goal_id"]]}),
    ("review-of-this-clinics-goal", "physical_therapist", "POST /care-plans/{plan_id}/reviews",
     lambda s, m: {"entries": [{"goal_id": s.ids["goal_id"], "level": 0}],
                   "participants": [{"kind": "patient"}]}),
    ("review-with-this-clinics-staff", "physical_therapist",
     "POST /care-plans/{plan_id}/reviews",
     lambda s, m: {"entries": [{"goal_id": m.ids["goal_id"], "level": 0}],
                   "participants": [{"kind": "patient"},
                                    {"kind": "staff", "staff_id": s.ids["staff_id"]}]}),
]


@pytest.mark.parametrize(("name", "who", "endpoint_id", "body"), FOREIGN_BODIES,
                         ids=[case[0] for case in FOREIGN_BODIES])
@pytest.mark.asyncio
async def test_other_clinics_ids_in_a_body_are_refused(
        client: Any, engine: AsyncEngine, scene: Scene, other_world: ClinicWorld,
        name: str, who: str, endpoint_id: str, body: Any) -> None:
    """The other clinic writes into its own plan, naming this clinic's resources."""
    mine = await build_scene(client, engine, other_world)
    endpoint = BY_ID[endpoint_id]
    path = mine.path(endpoint.template)
    probes = ("plans", "tasks", "plan", "reviews")
    before = [await probe(client, s, p) for s in (scene, mine) for p in probes]
    response = await client.request(endpoint.method, path, json=body(scene, mine),
                                    headers={**other_world.auth(who), "X-Request-ID": REQUEST_ID})
    assert response.status_code in (404, 422), describe(endpoint, path, who, 422, response)
    leaked = leaks(response, path, scene, (other_world,))
    assert not leaked, f"{endpoint.method} {path} as {who} of another clinic gives away {leaked}"
    after = [await probe(client, s, p) for s in (scene, mine) for p in probes]
    assert before == after, f"{endpoint.method} {path} was refused but wrote something"


# -- an Idempotency-Key replays only to whoever first used it -----------------------------------

@pytest.mark.parametrize(("first", "second", "endpoint_id", "status"), [
    pytest.param("coordinator", "coordinator of another clinic", "POST /patients", 201,
                 id="patient-create-across-clinics"),
    pytest.param("physical_therapist", "outsider", "POST /care-plans/{plan_id}/notes", 404,
                 id="note-by-a-clinician-not-on-the-team"),
    pytest.param("coordinator", "physician", "POST /care-plans", 403,
                 id="plan-create-by-a-clinician"),
])
@pytest.mark.asyncio
async def test_idempotency_key_replays_only_to_its_first_user(
        client: Any, scene: Scene, other_world: ClinicWorld, first: str, second: str,
        endpoint_id: str, status: int) -> None:
    endpoint = BY_ID[endpoint_id]
    key = {"Idempotency-Key": f"matrix-{uuid.uuid4().hex}"}
    path, created = await send(client, scene, endpoint, {**scene.auth(first), **key})
    assert created.status_code == endpoint.success, created.text
    headers = (other_world.auth("coordinator") if second.endswith("another clinic")
               else scene.auth(second))
    _, again = await send(client, scene, endpoint, {**headers, **key})
    assert again.status_code == status, describe(endpoint, path, second, status, again)
    assert "idempotent-replayed" not in again.headers, f"{second} got {first}'s answer replayed"
    assert created.json()["id"] not in again.text, f"{second} got {first}'s resource back"
