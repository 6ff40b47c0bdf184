"""Writing as an integrator: version-aware updates (If-Match from the ETag or from
meta.versionId; a stale one is 412, a lost update impossible), what a create answers
(Location, ETag, Prefer), conditional create with If-None-Exist, and the plan staying one
plan whichever door a change comes through.

fhirpy's save() sends no If-Match and its create() sends no If-None-Exist (its
get_or_create() puts the search in the POST's query string, which FHIR R4 does not
define); both headers are sent by a fhirpy client built with them (extra_headers).
Statuses and headers fhirpy does not expose are read with raw httpx."""

from __future__ import annotations

import pytest
from fhirpy.base.exceptions import MultipleResourcesFound, OperationOutcome

from tests.acceptance import samples
from tests.acceptance.bench import Bench
from tests.acceptance.integrator import FHIR_JSON, outcome_of, plain

pytestmark = pytest.mark.asyncio


async def test_an_update_carries_if_match_from_the_etag_or_from_meta_version_id(
        bench: Bench) -> None:
    ids = await bench.plan()
    raw = await bench.it.http.get(f"CarePlan/{ids.plan}")
    assert raw.headers["etag"] == 'W/"1"'
    plan = raw.json()
    from_etag = bench.it.fhirpy(**{"If-Match": raw.headers["etag"]})
    saved = await from_etag.resource("CarePlan", **{**plan, "title": "Plan, second draft"}).save()
    assert saved["meta"]["versionId"] == "2"

    current = await bench.read("CarePlan", ids.plan)
    from_meta = bench.it.fhirpy(**{"If-Match": f'W/"{current["meta"]["versionId"]}"'})
    saved = await from_meta.resource("CarePlan", **{**current, "title": "Plan, agreed"}).save()
    assert saved["meta"]["versionId"] == "3"
    after = await bench.it.http.get(f"CarePlan/{ids.plan}")
    assert after.headers["etag"] == 'W/"3"' and after.json()["title"] == "Plan, agreed"

    async with bench.it.staff_http("coordinator") as staff:
        seen = await staff.get(f"/api/v1/care-plans/{ids.plan}")
    assert seen.json()["title"] == "Plan, agreed", "one plan, whichever door"


async def test_of_two_sessions_that_read_the_same_version_only_the_first_saves(
        bench: Bench) -> None:
    ids = await bench.plan()
    first_read = await bench.read("CarePlan", ids.plan)
    second_read = await bench.read("CarePlan", ids.plan)
    stamp = {"If-Match": f'W/"{first_read["meta"]["versionId"]}"'}
    await bench.it.fhirpy(**stamp).resource(
        "CarePlan", **{**first_read, "title": "Physician's wording"}).save()
    with pytest.raises(MultipleResourcesFound) as refused:  # fhirpy's name for a 412
        await bench.it.fhirpy(**stamp).resource(
            "CarePlan", **{**second_read, "title": "Therapist's wording"}).save()
    issue = outcome_of(refused.value)["issue"][0]
    assert issue["code"] == "conflict" and issue["expression"] == ["meta.versionId"]
    raw = await bench.it.http.put(f"CarePlan/{ids.plan}", json=second_read,
                                  headers={**stamp, "Content-Type": FHIR_JSON})
    assert raw.status_code == 412, raw.text
    assert (await bench.read("CarePlan", ids.plan))["title"] == "Physician's wording"


async def test_an_update_without_if_match_is_refused_and_changes_nothing(bench: Bench) -> None:
    """fhirpy's plain save() sends no If-Match. Versioned updates are required here: the
    server refuses, naming If-Match. (R4 lets such a server answer 412; this one answers
    428 Precondition Required, RFC 6585.)"""
    plan = await bench.read("CarePlan", (await bench.plan()).plan)
    with pytest.raises(OperationOutcome) as refused:
        await bench.it.fhir.resource("CarePlan", **{**plan, "title": "Blind write"}).save()
    assert outcome_of(refused.value)["issue"][0]["expression"] == ["If-Match"]
    raw = await bench.it.http.put(f"CarePlan/{plan['id']}", json=plan,
                                  headers={"Content-Type": FHIR_JSON})
    assert raw.status_code in (412, 428), raw.text
    assert await bench.read("CarePlan", plan["id"]) == plan


async def test_a_create_answers_with_location_and_etag(bench: Bench) -> None:
    body = samples.patient(samples.mrn())
    response = await bench.it.http.post("Patient", json=body,
                                        headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == (
        f"{bench.it.base}/Patient/{created['id']}/_history/1")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["content-type"].startswith(FHIR_JSON)
    assert created["identifier"] == body["identifier"]


async def test_prefer_return_operation_outcome_answers_with_one(bench: Bench) -> None:
    outcome = await bench.it.http.post("Patient", json=samples.patient(samples.mrn()),
                                       headers={"Content-Type": FHIR_JSON,
                                                "Prefer": "return=OperationOutcome"})
    assert outcome.status_code == 201, outcome.text
    assert outcome.json()["resourceType"] == "OperationOutcome"
    assert outcome.headers["location"].startswith(f"{bench.it.base}/Patient/")


async def test_prefer_return_minimal_answers_with_no_body(bench: Bench) -> None:
    """R4 http.html#ops: with return=minimal the server returns no body; the Location
    and ETag say what was made."""
    minimal = await bench.it.http.post("Patient", json=samples.patient(samples.mrn()),
                                       headers={"Content-Type": FHIR_JSON,
                                                "Prefer": "return=minimal"})
    assert minimal.status_code == 201, minimal.text
    assert minimal.headers["location"].startswith(f"{bench.it.base}/Patient/")
    assert minimal.content == b"", f"the body is {minimal.content!r}"


async def test_conditional_create_with_if_none_exist(bench: Bench) -> None:
    number = samples.mrn()
    condition = {"If-None-Exist": f"identifier={samples.MRN}|{number}"}
    conditional = bench.it.fhirpy(**condition)
    first = await conditional.resource("Patient", **samples.patient(number)).save()
    again = await conditional.resource("Patient", **samples.patient(number)).save()
    assert again.id == first.id, "the second create finds the first and makes nothing"
    found = await bench.it.fhir.resources("Patient").search(
        identifier=f"{samples.MRN}|{number}").fetch_all()
    assert [p.id for p in found] == [first.id]
    raw = await bench.it.http.post("Patient", json=samples.patient(number),
                                   headers={**condition, "Content-Type": FHIR_JSON})
    assert raw.status_code == 200 and raw.json()["id"] == first.id

    await bench.it.fhir.resource("Patient", **samples.patient(number, given="Ana B")).save()
    two = await bench.it.http.post("Patient", json=samples.patient(number),
                                   headers={**condition, "Content-Type": FHIR_JSON})
    assert two.status_code == 412, two.text
    assert two.json()["issue"][0]["code"] == "conflict"


async def test_a_change_the_clinic_makes_shows_in_what_the_ehr_reads(bench: Bench) -> None:
    """The coordinator renames the plan in Concord: the EHR reads the new title, a new
    version, and the elements it wrote that Concord does not model, unchanged."""
    ids = await bench.plan()
    before = await bench.read("CarePlan", ids.plan)
    async with bench.it.staff_http("coordinator") as staff:
        current = await staff.get(f"/api/v1/care-plans/{ids.plan}")
        renamed = await staff.patch(f"/api/v1/care-plans/{ids.plan}",
                                    json={"title": "Back pain: walking and sleep"},
                                    headers={"If-Match": current.headers["etag"]})
        assert renamed.status_code == 200, renamed.text
    after = await bench.read("CarePlan", ids.plan)
    assert after["title"] == "Back pain: walking and sleep"
    assert int(after["meta"]["versionId"]) == int(before["meta"]["versionId"]) + 1
    assert after["identifier"] == before["identifier"]
    assert after["category"] == before["category"]


async def test_the_team_the_plan_refers_to_shows_who_is_on_it(bench: Bench) -> None:
    """The EHR wrote the plan with its CareTeam; the coordinator then adds the
    psychologist in Concord. Following CarePlan.careTeam, the EHR must find her: the plan
    has one team, and the one it points at is the current one."""
    ids = await bench.plan()
    psychologist = bench.it.world.staff["psychologist"].id
    async with bench.it.staff_http("coordinator") as staff:
        added = await staff.post(f"/api/v1/care-plans/{ids.plan}/team",
                                 json={"staff_id": str(psychologist), "lead": False})
        assert added.status_code == 201, added.text
    plan = await bench.it.fhir.reference("CarePlan", ids.plan).to_resource()
    members = set()
    for reference in plan["careTeam"]:
        team = await reference.to_resource()
        members |= {p["member"]["reference"] for p in team["participant"]}
    assert f"Practitioner/{psychologist}" in members, (
        f"CarePlan.careTeam is {plain(plan['careTeam'])}; the team Concord keeps is "
        f"CareTeam/{ids.plan}")


async def test_the_ehr_rewords_a_goal_of_the_plan_and_the_team_sees_it(bench: Bench) -> None:
    """A Goal the plan took in is Concord's: its update goes through the plan's rules and
    the team reads the new words over /api/v1."""
    ids = await bench.plan()
    goal = await bench.read("Goal", ids.goal)
    words = {"text": "Walk my granddaughter to school, twice a week"}
    updated = await bench.update(goal, key="description", value=words)
    assert updated["description"] == words
    assert updated["meta"]["versionId"] == str(int(goal["meta"]["versionId"]) + 1)
    async with bench.it.staff_http("coordinator") as staff:
        plan = (await staff.get(f"/api/v1/care-plans/{ids.plan}")).json()
    assert [g["description"] for g in plan["goals"]] == [words["text"]]
    with pytest.raises(MultipleResourcesFound):
        await bench.update(goal, key="description", value={"text": "An older wording"})
