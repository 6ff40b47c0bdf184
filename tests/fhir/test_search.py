"""Search over the resource store, parameter by parameter, as an EHR sends it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import tables as t
from tests.factories import ClinicWorld, add_goal, create_plan
from tests.fhir.store_fixtures import delete, ids, link, put

pytestmark = pytest.mark.asyncio

BASE = "http://127.0.0.1:8000/fhir"
REQUEST_STATUS = "http://hl7.org/fhir/request-status"
CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
ROSA, PETER = uuid.uuid4(), uuid.uuid4()


def care_plan(plan_id: str, patient: uuid.UUID, status: str, **more: Any) -> dict[str, Any]:
    return {"resourceType": "CarePlan", "id": plan_id, "status": status, "intent": "plan",
            "subject": {"reference": f"Patient/{patient}"}, **more}


@pytest_asyncio.fixture
async def stored(engine: AsyncEngine, world: ClinicWorld) -> ClinicWorld:
    """Two patients, their plans, a goal, a team, a questionnaire: in `world`'s store."""
    clinic = world.id
    await put(engine, clinic, {
        "resourceType": "Patient", "id": str(PETER),
        "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
        "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
        "gender": "male", "birthDate": "1974-12-25"}, patient_id=PETER)
    await put(engine, clinic, {
        "resourceType": "Patient", "id": str(ROSA), "identifier": [{"value": "A-77"}],
        "name": [{"family": "Núñez", "given": ["José", "Rosa"]}],
        "gender": "female", "birthDate": "1968-04-12"}, patient_id=ROSA)
    await put(engine, clinic, care_plan(
        "cp-peter", PETER, "active",
        identifier=[{"system": "https://ehr.example/plans", "value": "P-1"}],
        category=[{"coding": [{"system": CATEGORY, "code": "assess-plan"}]},
                  {"coding": [{"system": "http://snomed.info/sct", "code": "734163000"}]}],
        goal=[{"reference": "Goal/walk"}], careTeam=[{"reference": "CareTeam/team-peter"}],
        period={"start": "2026-01-01", "end": "2026-03-31"}), patient_id=PETER)
    await put(engine, clinic, care_plan(
        "cp-rosa", ROSA, "draft",
        category=[{"coding": [{"system": CATEGORY, "code": "assess-plan"}]}]), patient_id=ROSA)
    await put(engine, clinic, {
        "resourceType": "Goal", "id": "walk", "lifecycleStatus": "active",
        "description": {"text": "Walk to the corner shop"},
        "subject": {"reference": f"Patient/{PETER}"}}, patient_id=PETER)
    await put(engine, clinic, {
        "resourceType": "CareTeam", "id": "team-peter", "status": "active",
        "subject": {"reference": f"Patient/{PETER}"},
        "participant": [{"member": {"reference": "Practitioner/dr-who"}}]}, patient_id=PETER)
    await put(engine, clinic, {
        "resourceType": "Questionnaire", "id": "peg", "status": "active", "name": "PEG",
        "title": "Pain, Enjoyment, General activity", "url": "https://concord.invalid/q/peg"})
    return world


async def find(client: Any, world: ClinicWorld, query: str, who: str = "coordinator",
               **headers: str) -> dict[str, Any]:
    response = await client.get(f"/fhir/{query}", headers={**world.auth(who), **headers})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    return body


async def found(client: Any, world: ClinicWorld, query: str, who: str = "coordinator") -> set[str]:
    return set(ids(await find(client, world, query, who)))


async def refused(client: Any, world: ClinicWorld, query: str, **headers: str) -> dict[str, Any]:
    response = await client.get(f"/fhir/{query}", headers={**world.auth("coordinator"),
                                                          **headers})
    assert response.status_code == 400, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


class TestTokens:
    async def test_code_system_and_code_no_system_and_system_only(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        assert await found(client, stored, "CarePlan?status=active") == {"cp-peter"}
        assert await found(client, stored, f"CarePlan?status={REQUEST_STATUS}|active") == {
            "cp-peter"}
        assert await found(client, stored, "CarePlan?status=|active") == set()
        assert await found(client, stored, "Patient?identifier=|A-77") == {str(ROSA)}
        assert await found(client, stored, "Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|"
                           ) == {str(PETER)}
        assert await found(client, stored, "Patient?identifier=12345") == {str(PETER)}
        assert await found(client, stored, "Patient?gender=female") == {str(ROSA)}

    async def test_a_comma_is_or_and_a_repeated_parameter_is_and(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        assert await found(client, stored, "CarePlan?status=active,draft") == {
            "cp-peter", "cp-rosa"}
        assert await found(client, stored, f"CarePlan?category={CATEGORY}|assess-plan"
                           "&category=734163000") == {"cp-peter"}

    async def test_not_and_missing(self, client: Any, stored: ClinicWorld) -> None:
        assert await found(client, stored, "CarePlan?status:not=active") == {"cp-rosa"}
        assert await found(client, stored, "CarePlan?goal:missing=true") == {"cp-rosa"}
        assert await found(client, stored, "CarePlan?goal:missing=false") == {"cp-peter"}

    async def test_id(self, client: Any, stored: ClinicWorld) -> None:
        assert await found(client, stored, "CarePlan?_id=cp-rosa,nope") == {"cp-rosa"}


class TestReferences:
    async def test_type_and_id_id_alone_absolute_and_type_modifier(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        for value in (f"Patient/{PETER}", str(PETER), f"{BASE}/Patient/{PETER}"):
            assert await found(client, stored, f"CarePlan?patient={value}") == {"cp-peter"}
            assert await found(client, stored, f"CarePlan?subject={value}") == {"cp-peter"}
        assert await found(client, stored, f"CarePlan?subject:Patient={ROSA}") == {"cp-rosa"}
        assert await found(client, stored, "CarePlan?goal=walk") == {"cp-peter"}
        assert await found(client, stored, "CareTeam?participant=Practitioner/dr-who") == {
            "team-peter"}
        assert await found(client, stored, f"CarePlan?subject=Group/{PETER}") == set()


class TestStrings:
    async def test_starts_with_ignoring_case_and_accents(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        assert await found(client, stored, "Patient?name=chal") == {str(PETER)}
        assert await found(client, stored, "Patient?family=nunez") == {str(ROSA)}
        assert await found(client, stored, "Patient?given=JOSE") == {str(ROSA)}
        assert await found(client, stored, "Patient?name=alm") == set()

    async def test_exact_and_contains(self, client: Any, stored: ClinicWorld) -> None:
        assert await found(client, stored, "Patient?family:exact=Chalmers") == {str(PETER)}
        assert await found(client, stored, "Patient?family:exact=chalmers") == set()
        assert await found(client, stored, "Patient?name:contains=ALM") == {str(PETER)}
        assert await found(client, stored, "Questionnaire?title:contains=enjoy") == {"peg"}
        assert await found(client, stored, "Questionnaire?name=p%25") == set()

    async def test_uri_is_exact(self, client: Any, stored: ClinicWorld) -> None:
        url = "https://concord.invalid/q/peg"
        assert await found(client, stored, f"Questionnaire?url={url}") == {"peg"}
        assert await found(client, stored, "Questionnaire?url=https://concord.invalid/q") == set()


class TestWhatIsServed:
    async def test_deleted_resources_never_match(
        self, client: Any, engine: AsyncEngine, stored: ClinicWorld
    ) -> None:
        await delete(engine, stored.id, "CarePlan", "cp-rosa")
        assert await found(client, stored, "CarePlan") == {"cp-peter"}

    async def test_another_clinic_sees_nothing(
        self, client: Any, stored: ClinicWorld, other_world: ClinicWorld
    ) -> None:
        bundle = await find(client, other_world, "CarePlan?status=active,draft")
        assert bundle["total"] == 0 and "entry" not in bundle
        assert await found(client, other_world, f"Patient?_id={PETER}") == set()

    async def test_a_clinician_sees_only_patients_of_their_teams(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        assert await found(client, stored, "CarePlan", who="physician") == set()
        assert "peg" in await found(client, stored, "Questionnaire", who="physician")

    async def test_the_bundle_carries_the_total_full_urls_and_match_mode(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        bundle = await find(client, stored, "CarePlan?status=active")
        assert bundle["total"] == 1
        entry = bundle["entry"][0]
        assert entry["fullUrl"] == f"{BASE}/CarePlan/cp-peter"
        assert entry["search"] == {"mode": "match"}
        assert entry["resource"]["meta"]["versionId"] == "1"
        assert link(bundle, "self") == f"{BASE}/CarePlan?status=active"
        assert link(bundle, "next") is None

    async def test_summary_count_gives_the_total_alone(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        bundle = await find(client, stored, "CarePlan?_summary=count")
        assert bundle["total"] == 2 and "entry" not in bundle

    async def test_post_search_takes_form_parameters(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        response = await client.post(
            "/fhir/CarePlan/_search", data={"status": "draft", "patient": str(ROSA)},
            headers=stored.auth("coordinator"))
        assert response.status_code == 200, response.text
        assert ids(response.json()) == ["cp-rosa"]

    async def test_unknown_types_are_not_supported(self, client: Any, world: ClinicWorld) -> None:
        response = await client.get("/fhir/Basic?code=x", headers=world.auth("coordinator"))
        assert response.status_code == 404
        assert response.json()["issue"][0]["code"] == "not-supported"

    async def test_a_search_notes_each_patient_resource_in_the_audit_trail(
        self, client: Any, engine: AsyncEngine, stored: ClinicWorld
    ) -> None:
        await find(client, stored, f"Patient?_id={PETER}")
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(
                t.audit_events.c.action, t.audit_events.c.resource_type,
                t.audit_events.c.resource_id, t.audit_events.c.patient_id,
            ).where(t.audit_events.c.clinic_id == stored.id))).all()
        assert [tuple(r) for r in rows] == [("search", "Patient", PETER, PETER)]


class TestInclude:
    async def test_include_goal_care_team_and_subject(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        bundle = await find(client, stored, "CarePlan?_id=cp-peter&_include=CarePlan:goal"
                            "&_include=CarePlan:care-team&_include=CarePlan:subject")
        assert ids(bundle) == ["cp-peter"]
        assert set(ids(bundle, "include")) == {"walk", "team-peter", str(PETER)}
        assert bundle["total"] == 1  # included resources are not counted

    async def test_include_with_a_target_type_and_revinclude(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        bundle = await find(client, stored, "CarePlan?_include=CarePlan:subject:Patient")
        assert set(ids(bundle, "include")) == {str(PETER), str(ROSA)}
        bundle = await find(client, stored, f"Patient?_id={PETER}&_revinclude=CarePlan:patient")
        assert ids(bundle) == [str(PETER)] and ids(bundle, "include") == ["cp-peter"]


class TestUnknownAndMalformed:
    async def test_unknown_parameters_are_ignored_and_left_out_of_self(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        bundle = await find(client, stored, "CarePlan?colour=blue&status=draft")
        assert ids(bundle) == ["cp-rosa"]
        assert link(bundle, "self") == f"{BASE}/CarePlan?status=draft"

    async def test_strict_handling_refuses_them_naming_the_parameter(
        self, client: Any, stored: ClinicWorld
    ) -> None:
        issue = await refused(client, stored, "CarePlan?colour=blue&status=draft",
                              Prefer="handling=strict")
        assert issue["expression"] == ["colour"] and issue["code"] == "not-supported"
        assert await found(client, stored, "CarePlan?status=draft") == {"cp-rosa"}

    @pytest.mark.parametrize(("query", "expression"), [
        ("Patient?birthdate=xx1974", "birthdate"),
        ("Patient?birthdate=1974-13-01", "birthdate"),
        ("Patient?_lastUpdated=gt2026-01-01T25:00", "_lastUpdated"),
        ("CarePlan?_count=abc", "_count"),
        ("CarePlan?_count=-1", "_count"),
        ("CarePlan?status=|", "status"),
        ("CarePlan?goal:missing=maybe", "goal:missing"),
        ("CarePlan?status:contains=act", "status:contains"),
        ("CarePlan?_cursor=not-ours", "_cursor"),
    ])
    async def test_malformed_values_are_400_naming_the_parameter(
        self, client: Any, world: ClinicWorld, query: str, expression: str
    ) -> None:
        issue = await refused(client, world, query)
        assert issue["expression"] == [expression], issue


@contextmanager
def statements(app_engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(app_engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(app_engine.sync_engine, "before_cursor_execute", record)


class TestStatements:
    async def test_a_search_with_includes_is_two_statements_whatever_it_finds(
        self, client: Any, app: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        for n in range(30):
            patient = uuid.uuid4()
            await put(engine, world.id, care_plan(f"plan-{n}", patient, "active",
                                                  goal=[{"reference": f"Goal/g-{n}"}]),
                      patient_id=patient)
            await put(engine, world.id, {"resourceType": "Goal", "id": f"g-{n}",
                                         "lifecycleStatus": "active",
                                         "description": {"text": "walk"},
                                         "subject": {"reference": f"Patient/{patient}"}},
                      patient_id=patient)
        with statements(app.state.engine) as seen:
            bundle = await find(client, world, "CarePlan?status=active&_count=25"
                                "&_include=CarePlan:goal")
        assert len(ids(bundle)) == 25 and len(ids(bundle, "include")) == 25
        assert len([s for s in seen if "fhir_resources" in s]) == 2



class TestConcordsOwnPlans:
    async def test_a_plan_made_over_the_api_is_found_by_its_team_not_by_others(
        self, client: Any, world: ClinicWorld
    ) -> None:
        plan = await create_plan(client, world)
        goal = await add_goal(client, world, plan["id"], "physical_therapist")
        query = (f"CarePlan?patient=Patient/{plan['patient_id']}&status=active"
                 "&_include=CarePlan:goal")
        bundle = await find(client, world, query, who="physician")
        assert ids(bundle) == [plan["id"]] and ids(bundle, "include") == [goal["id"]]
        assert await found(client, world, query, who="outsider") == set()
        assert await found(client, world, f"Goal?patient={plan['patient_id']}") == {goal["id"]}


class TestNothingAClientSendsIsA500:
    async def test_odd_values(self, client: Any, world: ClinicWorld) -> None:
        from fhir.search.query import encode_cursor

        auth = world.auth("admin")
        huge = encode_cursor([2**70])
        cases = {
            "/fhir/Patient?name=a%00b": 400,
            "/fhir/Patient?birthdate=ap0001-01-01": 200,
            "/fhir/Patient?birthdate=ap9999-12-31T23:59:59.999999-14:00": 400,
            "/fhir/Goal/%00": 404,
            f"/fhir/Goal/{'x' * 200}/_history": 404,
            "/fhir/Goal/a%20b/_history/1": 404,
            f"/fhir/Goal/_history?_cursor={huge}": 400,
            f"/fhir/AuditEvent?_cursor={huge}": 400,
            "/fhir/AuditEvent?_id=99999999999999999999999": 200,
            "/fhir/AuditEvent/99999999999999999999999": 404,
            f"/fhir/Patient/x/$everything?_cursor={encode_cursor([0, 'x', 'y', 'z'])}": 404,
        }
        for path, status in cases.items():
            response = await client.get(path, headers=auth)
            assert response.status_code == status, (path, response.text)
            assert response.json()["resourceType"] in ("Bundle", "OperationOutcome")
