"""Searching as an integrator does with fhirpy: by id, identifier, patient and subject,
status, category, date, code and _lastUpdated with prefixes; paging by the Bundle's
`next` links (fetch_all); _include and _revinclude; counting (_summary=count and fhirpy's
count())."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio

from tests.acceptance import samples
from tests.acceptance.bench import Bench, PlanIds
from tests.acceptance.integrator import plain


@dataclass(frozen=True)
class Clinic:
    """Two patients: one with the active plan (team, goal), one with a draft plan, a
    medication and a physiotherapy referral."""

    active: PlanIds
    active_plan: dict[str, Any]
    draft_patient: str
    draft_plan: dict[str, Any]
    medication: dict[str, Any]
    referral: dict[str, Any]


@pytest_asyncio.fixture
async def clinic(bench: Bench) -> Clinic:
    fhir = bench.it.fhir
    active = await bench.plan()
    other = await fhir.resource("Patient", **samples.patient(
        samples.mrn(), family="Okafor", given="Ngozi")).save()
    draft = await fhir.resource("CarePlan", **samples.care_plan(str(other.id))).save()
    medication = await fhir.resource(
        "MedicationStatement", **samples.medication_statement(str(other.id))).save()
    referral = await fhir.resource("ServiceRequest",
                                   **samples.service_request(str(other.id))).save()
    return Clinic(active=active, active_plan=await bench.read("CarePlan", active.plan),
                  draft_patient=str(other.id), draft_plan=plain(draft),
                  medication=plain(medication), referral=plain(referral))


async def ids(bench: Bench, resource_type: str, **params: Any) -> set[str]:
    found = await bench.it.fhir.resources(resource_type).search(**params).fetch_all()
    return {str(r.id) for r in found}


@pytest.mark.asyncio
async def test_by_id_and_by_identifier(bench: Bench, clinic: Clinic) -> None:
    active, draft = clinic.active.plan, clinic.draft_plan["id"]
    assert await ids(bench, "CarePlan", _id=active) == {active}
    assert await ids(bench, "CarePlan", _id=f"{active},{draft}") == {active, draft}
    [identifier] = clinic.draft_plan["identifier"]
    assert await ids(bench, "CarePlan",
                     identifier=f"{identifier['system']}|{identifier['value']}") == {draft}
    assert await ids(bench, "CarePlan", identifier=identifier["value"]) == {draft}
    patient = await bench.read("Patient", clinic.draft_patient)
    [mrn] = patient["identifier"]
    assert await ids(bench, "Patient", identifier=f"{samples.MRN}|{mrn['value']}") == {
        clinic.draft_patient}
    assert await ids(bench, "Patient", identifier=f"urn:other|{mrn['value']}") == set()


@pytest.mark.asyncio
async def test_by_patient_and_subject(bench: Bench, clinic: Clinic) -> None:
    patient, plan = clinic.active.patient, clinic.active.plan
    by_reference = bench.it.fhir.reference("Patient", patient)
    assert await ids(bench, "CarePlan", patient=by_reference) == {plan}
    assert await ids(bench, "CarePlan", patient=f"Patient/{patient}") == {plan}
    assert await ids(bench, "CarePlan", patient=patient) == {plan}
    assert await ids(bench, "CarePlan", patient=f"{bench.it.base}/Patient/{patient}") == {plan}
    assert await ids(bench, "CarePlan", subject=f"Patient/{patient}") == {plan}
    assert await ids(bench, "CarePlan", subject__Patient=patient) == {plan}
    assert await ids(bench, "Goal", patient=f"Patient/{patient}") == {clinic.active.goal}
    assert clinic.active.team in await ids(bench, "CareTeam", patient=f"Patient/{patient}")
    assert await ids(bench, "CarePlan", patient=f"Patient/{clinic.draft_patient}") == {
        clinic.draft_plan["id"]}


@pytest.mark.asyncio
async def test_by_status_and_category(bench: Bench, clinic: Clinic) -> None:
    active, draft = clinic.active.plan, clinic.draft_plan["id"]
    assert await ids(bench, "CarePlan", status="active") == {active}
    assert await ids(bench, "CarePlan", status="draft") == {draft}
    assert await ids(bench, "CarePlan", status="active,draft") == {active, draft}
    assert await ids(bench, "CarePlan", status__not="active") == {draft}
    assert await ids(bench, "CarePlan", status="completed") == set()
    [coding] = samples.ASSESS_PLAN["coding"]
    assert await ids(bench, "CarePlan", category="assess-plan") == {active, draft}
    assert await ids(bench, "CarePlan",
                     category=f"{coding['system']}|{coding['code']}") == {active, draft}
    assert await ids(bench, "CarePlan", category="encounter") == set()
    assert await ids(bench, "CarePlan", status="active", category="assess-plan") == {active}


@pytest.mark.asyncio
async def test_by_date_of_the_plans_period(bench: Bench, clinic: Clinic) -> None:
    """An active plan's period starts when it was activated (today) and has no end: the
    range [today, ever). A draft has none and never matches a date."""
    start = clinic.active_plan["period"]["start"]
    assert "end" not in clinic.active_plan["period"]
    day = dt.date.fromisoformat(start[:10])
    plan = clinic.active.plan
    # eq: the day must contain the whole period, which never ends
    assert await ids(bench, "CarePlan", date=day) == set()
    assert await ids(bench, "CarePlan", date__ge=day) == {plan}
    assert await ids(bench, "CarePlan", date__gt=day - dt.timedelta(days=30)) == {plan}
    assert await ids(bench, "CarePlan", date__lt=day + dt.timedelta(days=1)) == {plan}
    assert await ids(bench, "CarePlan", date__le=day - dt.timedelta(days=1)) == set()
    assert await ids(bench, "CarePlan", date__sa=day - dt.timedelta(days=1)) == {plan}
    assert await ids(bench, "CarePlan", date__eb=day + dt.timedelta(days=365)) == set()
    assert await ids(bench, "CarePlan", date__ge=day - dt.timedelta(days=1),
                     date__le=day + dt.timedelta(days=1)) == {plan}


@pytest.mark.asyncio
async def test_by_code(bench: Bench, clinic: Clinic) -> None:
    [naproxen] = samples.NAPROXEN["coding"]
    [physio] = samples.PHYSIOTHERAPY["coding"]
    medication, referral = clinic.medication["id"], clinic.referral["id"]
    assert await ids(bench, "MedicationStatement",
                     code=f"{naproxen['system']}|{naproxen['code']}") == {medication}
    assert await ids(bench, "MedicationStatement", code=naproxen["code"]) == {medication}
    assert await ids(bench, "MedicationStatement", code=f"{samples.SNOMED}|198013") == set()
    assert await ids(bench, "ServiceRequest",
                     code=f"{physio['system']}|{physio['code']}") == {referral}
    assert await ids(bench, "ServiceRequest", code="0000") == set()


@pytest.mark.asyncio
async def test_by_last_updated_with_prefixes(bench: Bench) -> None:
    """Two plans written in different seconds; fhirpy sends datetimes to the second."""
    fhir = bench.it.fhir
    patient = await bench.patient()
    earlier = plain(await fhir.resource("CarePlan", **samples.care_plan(patient)).save())
    await asyncio.sleep(1.1)
    later = plain(await fhir.resource("CarePlan", **samples.care_plan(patient)).save())
    first = dt.datetime.fromisoformat(earlier["meta"]["lastUpdated"]).replace(microsecond=0)
    second = dt.datetime.fromisoformat(later["meta"]["lastUpdated"]).replace(microsecond=0)
    assert second > first
    both = {earlier["id"], later["id"]}
    assert await ids(bench, "CarePlan", _lastUpdated=first) == {earlier["id"]}
    assert await ids(bench, "CarePlan", _lastUpdated__eq=first) == {earlier["id"]}
    assert await ids(bench, "CarePlan", _lastUpdated__gt=first) == {later["id"]}
    assert await ids(bench, "CarePlan", _lastUpdated__ge=first) == both
    assert await ids(bench, "CarePlan", _lastUpdated__lt=second) == {earlier["id"]}
    assert await ids(bench, "CarePlan", _lastUpdated__le=second) == both
    assert await ids(bench, "CarePlan", _lastUpdated__ne=first) == {later["id"]}
    assert await ids(bench, "CarePlan", _lastUpdated__sa=first) == {later["id"]}
    assert await ids(bench, "CarePlan", _lastUpdated__eb=second) == {earlier["id"]}
    # to the microsecond, as served (the '+' of the offset must arrive as '+')
    exact = earlier["meta"]["lastUpdated"]
    assert await ids(bench, "CarePlan", _lastUpdated__ge=exact) == both
    assert await ids(bench, "CarePlan", _lastUpdated__gt=exact) == {later["id"]}


@pytest.mark.asyncio
async def test_paging_follows_the_next_links(bench: Bench) -> None:
    patient = await bench.patient()
    fhir = bench.it.fhir
    made = set()
    for number in range(5):
        goal = await fhir.resource("Goal", **samples.goal(patient, f"Goal {number}")).save()
        made.add(str(goal.id))
    search = fhir.resources("Goal").search(patient=f"Patient/{patient}").limit(2)
    found = await search.fetch_all()
    assert [str(g.id) for g in found].count(str(found[0].id)) == 1
    assert {str(g.id) for g in found} == made and len(found) == 5
    first = plain(await search.fetch_raw())
    assert first["total"] == 5 and len(first["entry"]) == 2
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert links["next"].startswith(f"{bench.it.base}/Goal?")
    query = parse_qs(urlsplit(links["next"]).query)
    assert query["_count"] == ["2"] and query["patient"] == [f"Patient/{patient}"]
    pages = 1
    url = links.get("next")
    while url:
        page = plain(await fhir.execute(url, method="get"))
        assert page["total"] == 5
        pages += 1
        url = {link["relation"]: link["url"] for link in page["link"]}.get("next")
    assert pages == 3


@pytest.mark.asyncio
async def test_include_brings_the_plans_goal_team_and_patient(bench: Bench,
                                                               clinic: Clinic) -> None:
    ids_ = clinic.active
    search = (bench.it.fhir.resources("CarePlan").search(_id=ids_.plan)
              .include("CarePlan", "goal").include("CarePlan", "care-team")
              .include("CarePlan", "subject"))
    assert [str(r.id) for r in await search.fetch()] == [ids_.plan]
    bundle = plain(await search.fetch_raw())
    assert bundle["total"] == 1
    modes = {(e["resource"]["resourceType"], e["resource"]["id"]): e["search"]["mode"]
             for e in bundle["entry"]}
    assert modes == {("CarePlan", ids_.plan): "match", ("Goal", ids_.goal): "include",
                     ("CareTeam", ids_.team): "include", ("Patient", ids_.patient): "include"}


@pytest.mark.asyncio
async def test_revinclude_brings_the_patients_plans(bench: Bench, clinic: Clinic) -> None:
    search = (bench.it.fhir.resources("Patient").search(_id=clinic.active.patient)
              .revinclude("CarePlan", "subject"))
    bundle = plain(await search.fetch_raw())
    found = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]}
    assert found == {("Patient", "match"), ("CarePlan", "include")}


@pytest.mark.asyncio
async def test_the_plans_references_resolve(bench: Bench, clinic: Clinic) -> None:
    """fhirpy follows each reference of the plan to the resource it names."""
    fhir, world = bench.it.fhir, bench.it.world
    plan = await fhir.reference("CarePlan", clinic.active.plan).to_resource()
    patient = await plan["subject"].to_resource()
    assert patient["id"] == clinic.active.patient
    [goal] = [await reference.to_resource() for reference in plan["goal"]]
    assert goal["id"] == clinic.active.goal
    assert goal["description"]["text"] == "Walk my granddaughter to school"
    [team] = [await reference.to_resource() for reference in plan["careTeam"]]
    members = {str((await p["member"].to_resource())["id"]) for p in team["participant"]}
    # the patient is on the team too (MCC eCare Plan IG)
    assert members == {clinic.active.patient, str(world.staff["physician"].id),
                       str(world.staff["physical_therapist"].id)}


@pytest.mark.asyncio
async def test_counting(bench: Bench, clinic: Clinic) -> None:
    response = await bench.it.http.get("CarePlan", params={"_summary": "count"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "searchset" and body["total"] == 2 and "entry" not in body
    assert await bench.it.fhir.resources("CarePlan").count() == 2
    assert await bench.it.fhir.resources("CarePlan").search(status="draft").count() == 1
