"""`import-fhir`: Synthea patient Bundles, FHIR Bulk Data NDJSON and other Bundles loaded
into a clinic through the FHIR write path, once; what was loaded is read back over HTTP
as a client would."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actor import Actor
from service.bulk.loader import Options, import_files
from service.bulk.report import Summary
from service.db import tables as t
from service.settings import Settings
from tests.factories import ClinicWorld

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "import"
SYNTHEA = FIXTURES / "synthea"
BUNDLE = SYNTHEA / "Marisol482_Quillfeather917_4f8e6c1a-2b7d-4e3f-9a10-5c6d7e8f9a01.json"
BASE = "http://testserver.local/fhir"
SYNTHEA_CREATED = {"Patient": 1, "CareTeam": 1, "Goal": 2, "CarePlan": 1}
SYNTHEA_SKIPPED = {"Encounter": 1, "Condition": 1, "Observation": 1, "MedicationRequest": 1,
                   "Claim": 1, "Practitioner": 1, "PractitionerRole": 1}


def admin(world: ClinicWorld) -> Actor:
    staff = world.staff["admin"]
    return Actor(clinic_id=world.id, staff_id=staff.id, role=staff.role,
                 discipline=staff.discipline)


async def load(
    engine: AsyncEngine, world: ClinicWorld, tmp_path: Path, *paths: Path,
    lead: str | None = "physician",
) -> tuple[Summary, Path]:
    rejects = tmp_path / "rejects.ndjson"
    options = Options(base=BASE, rejects=rejects,
                      lead=world.staff[lead].id if lead else None)
    summary = await import_files(engine, admin(world), list(paths), options, io.StringIO())
    return summary, rejects


async def get(client: Any, world: ClinicWorld, path: str) -> Any:
    response = await client.get(path, headers=world.auth("coordinator"))
    assert response.status_code == 200, response.text
    return response.json()


async def patient_id(client: Any, world: ClinicWorld, family: str) -> str:
    found = await get(client, world, f"/api/v1/patients?family_name={family}")
    assert len(found["items"]) == 1, found
    return str(found["items"][0]["id"])


async def plan_of(client: Any, world: ClinicWorld, patient: str) -> dict[str, Any]:
    plans = await get(client, world, f"/api/v1/care-plans?patient_id={patient}")
    assert len(plans["items"]) == 1, plans
    plan: dict[str, Any] = await get(client, world, f"/api/v1/care-plans/{plans['items'][0]['id']}")
    return plan


async def versions(engine: AsyncEngine, world: ClinicWorld) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(t.fhir_versions)
                                  .where(t.fhir_versions.c.clinic_id == world.id))
    return int(count or 0)


def rejects_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_a_synthea_patient_becomes_a_patient_with_a_plan_its_goals_and_its_team(
    engine: AsyncEngine, client: Any, world: ClinicWorld, tmp_path: Path
) -> None:
    summary, rejects = await load(engine, world, tmp_path, SYNTHEA)
    assert summary.created == SYNTHEA_CREATED
    assert summary.skipped == SYNTHEA_SKIPPED
    assert summary.unchanged == {} and summary.rejected == {}
    assert summary.files == 2 and summary.resources == 12
    assert not rejects.exists()

    patient = await patient_id(client, world, "Quillfeather917")
    seen = await get(client, world, f"/api/v1/patients/{patient}")
    assert (seen["given_name"], seen["birth_date"]) == ("Marisol482", "1971-03-09")
    plan = await plan_of(client, world, patient)
    assert plan["status"] == "active"
    # the EHR's practitioner is not Concord staff: the --lead clinician leads the team
    assert [(m["staff_id"], m["lead"]) for m in plan["team"]] == [
        (str(world.staff["physician"].id), True)]
    assert sorted(g["description"] for g in plan["goals"]) == [
        "Sleep through the night most nights", "Walk the dog around the block without stopping"]
    assert sorted(a["description"] for a in plan["activities"]) == [
        "Exercise therapy", "Recommendation to rest (procedure)"]

    # references to what Concord does not keep say what they were, by display
    served = await get(client, world, f"/fhir/CarePlan/{plan['id']}")
    assert served["subject"] == {"reference": f"Patient/{patient}"}
    assert served["addresses"] == [{"display": "Chronic low back pain (finding)"}]
    assert served["encounter"] == {"display": "Encounter for problem (procedure)"}
    # the EHR's care team as it sent it, its practitioner and organization by display,
    # and the lead who makes it a Concord team
    teams = await get(client, world, f"/fhir/CareTeam?subject=Patient/{patient}")
    [team] = [e["resource"] for e in teams["entry"] if e["resource"]["id"] != plan["id"]]
    assert [p["member"] for p in team["participant"]] == [
        {"reference": f"Patient/{patient}", "display": "Ms. Marisol482 Quillfeather917"},
        {"display": "Dr. Bertram44 Okonkwo901"},
        {"display": "WORCESTER PAIN AND SPINE"},
        {"reference": f"Practitioner/{world.staff['physician'].id}"},
    ]
    assert team["managingOrganization"] == [{"display": "WORCESTER PAIN AND SPINE"}]
    goal = await get(client, world, f"/fhir/Goal/{plan['goals'][0]['id']}")
    assert goal["addresses"] == [{"display": "Chronic low back pain (finding)"}]
    assert goal["subject"] == {"reference": f"Patient/{patient}"}
    # the patient keeps every identifier the EHR gave, so the next import finds them
    fhir_patient = await get(client, world, f"/fhir/Patient/{patient}")
    assert {i["system"] for i in fhir_patient["identifier"]} == {
        "https://github.com/synthetichealth/synthea", "http://hospital.smarthealthit.org"}


async def test_a_second_run_of_the_same_files_changes_nothing(
    engine: AsyncEngine, client: Any, world: ClinicWorld, tmp_path: Path
) -> None:
    paths = (SYNTHEA, FIXTURES / "bulk", FIXTURES / "collection.json")
    first, _ = await load(engine, world, tmp_path, *paths)
    assert first.rejected == {}
    written = await versions(engine, world)
    patients = await get(client, world, "/api/v1/patients")

    again, rejects = await load(engine, world, tmp_path, *paths)
    assert again.created == {}
    assert again.unchanged == first.created
    assert again.skipped == first.skipped
    assert again.rejected == {} and not rejects.exists()
    assert await versions(engine, world) == written
    assert await get(client, world, "/api/v1/patients") == patients


async def test_a_patient_already_here_is_matched_by_identifier_not_created_twice(
    engine: AsyncEngine, client: Any, world: ClinicWorld, tmp_path: Path
) -> None:
    await load(engine, world, tmp_path, BUNDLE)
    # the same person again, from another export with its own resource ids
    person = json.loads(BUNDLE.read_text())["entry"][0]
    new_id = str(uuid.uuid4())
    person["fullUrl"], person["resource"]["id"] = f"urn:uuid:{new_id}", new_id
    again = tmp_path / "again.json"
    again.write_text(json.dumps({"resourceType": "Bundle", "type": "transaction",
                                 "entry": [person]}))
    summary, _ = await load(engine, world, tmp_path, again)
    assert summary.unchanged == {"Patient": 1} and summary.created == {}
    assert await patient_id(client, world, "Quillfeather917")


async def test_one_bad_synthea_patient_is_rejected_whole_and_the_others_are_imported(
    engine: AsyncEngine, client: Any, world: ClinicWorld, tmp_path: Path
) -> None:
    bad = json.loads(BUNDLE.read_text().replace("4f8e6c1a", "5e5e5e5e")
                     .replace("Quillfeather917", "Quillfeather918"))
    assert bad["entry"][6]["resource"]["resourceType"] == "Goal"
    bad["entry"][6]["resource"]["lifecycleStatus"] = "dreaming"
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "bad.json").write_text(json.dumps(bad))
    shutil.copy(BUNDLE, folder / "good.json")

    summary, rejects = await load(engine, world, tmp_path, folder)
    assert summary.created == SYNTHEA_CREATED
    assert summary.rejected == {"Bundle": 1}
    [rejected] = rejects_of(rejects)
    assert rejected["file"] == str((folder / "bad.json").resolve())
    assert rejected["expression"] == "Bundle.entry[6].resource.lifecycleStatus"
    assert rejected["reason"]
    assert rejected["resource"] == bad
    found = await get(client, world, "/api/v1/patients?family_name=Quillfeather918")
    assert found["items"] == []  # nothing of the rejected patient was written
    assert await patient_id(client, world, "Quillfeather917")


async def test_bulk_ndjson_loads_in_reference_order_and_a_bad_line_is_rejected_alone(
    engine: AsyncEngine, client: Any, world: ClinicWorld, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    shutil.copytree(FIXTURES / "bulk", folder)
    with (folder / "Goal.ndjson").open("a") as goals:
        goals.write(json.dumps({"resourceType": "Goal", "id": "g-3",
                                "lifecycleStatus": "dreaming",
                                "subject": {"reference": "Patient/p-1002"},
                                "description": {"text": "Swim again"}}) + "\n")
        goals.write("{not json\n")

    summary, rejects = await load(engine, world, tmp_path, folder)
    assert summary.created == {"Patient": 2, "Goal": 2, "CareTeam": 1, "CarePlan": 1}
    assert summary.skipped == {"Condition": 1}
    assert summary.rejected == {"Goal": 1, "(unreadable)": 1}
    bad_goal, bad_line = sorted(rejects_of(rejects), key=lambda r: r["entry"])
    assert (bad_goal["entry"], bad_goal["expression"]) == ("line 3", "Goal.lifecycleStatus")
    assert bad_goal["resource"]["id"] == "g-3"
    assert bad_line["entry"] == "line 4" and bad_line["reason"].startswith("not JSON")

    # CarePlan.ndjson is read first, yet its patient, team and goal were there for it
    patient = await patient_id(client, world, "Thornbury")
    plan = await plan_of(client, world, patient)
    assert [g["description"] for g in plan["goals"]] == ["Garden for an hour on Saturdays"]
    assert [(m["staff_id"], m["lead"]) for m in plan["team"]] == [
        (str(world.staff["physician"].id), True)]
    served = await get(client, world, f"/fhir/CarePlan/{plan['id']}")
    assert served["author"] == {"display": "Dr. Imani Okafor"}
    other = await patient_id(client, world, "Vasquez-Lind")
    assert await get(client, world, f"/api/v1/care-plans?patient_id={other}") == {
        "items": [], "next_cursor": None}


async def test_types_concord_does_not_keep_are_skipped_and_counted(
    engine: AsyncEngine, client: Any, world: ClinicWorld, tmp_path: Path
) -> None:
    summary, _ = await load(engine, world, tmp_path, FIXTURES / "collection.json")
    assert summary.created == {"Patient": 1, "Goal": 1}
    assert summary.skipped == {"Observation": 1, "Organization": 1}
    assert summary.rejected == {}
    patient = await patient_id(client, world, "Halvorsen")
    goals = await get(client, world, f"/fhir/Goal?subject=Patient/{patient}")
    [goal] = [e["resource"] for e in goals["entry"]]
    assert goal["description"] == {"text": "Play cards with friends on Thursdays"}
    assert goal["outcomeReference"] == [{"display": "PEG score"}]


async def test_a_plan_and_its_service_request_that_refer_to_each_other_both_load(
    engine: AsyncEngine, client: Any, world: ClinicWorld, tmp_path: Path
) -> None:
    # CarePlan.activity.reference -> ServiceRequest, ServiceRequest.basedOn -> CarePlan
    resources: list[dict[str, Any]] = [
        {"resourceType": "ServiceRequest", "id": "sr-1", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/p-9"}, "code": {"text": "Physical therapy"},
         "basedOn": [{"reference": "CarePlan/cp-9"}]},
        {"resourceType": "CarePlan", "id": "cp-9", "status": "draft", "intent": "plan",
         "subject": {"reference": "Patient/p-9"}, "careTeam": [{"reference": "CareTeam/t-9"}],
         "activity": [{"reference": {"reference": "ServiceRequest/sr-1"}}]},
        {"resourceType": "CareTeam", "id": "t-9", "subject": {"reference": "Patient/p-9"}},
        {"resourceType": "Patient", "id": "p-9", "name": [{"family": "Nakagawa", "given": ["Ren"]}],
         "birthDate": "1990-01-01"},
    ]
    collection = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": r} for r in resources]}
    (tmp_path / "plan.json").write_text(json.dumps(collection))
    summary, _ = await load(engine, world, tmp_path, tmp_path / "plan.json")
    assert summary.created == {"Patient": 1, "CareTeam": 1, "ServiceRequest": 1, "CarePlan": 1}
    plan = await plan_of(client, world, await patient_id(client, world, "Nakagawa"))
    [activity] = plan["activities"]
    assert activity["description"] == "Physical therapy"
    request = await get(client, world, f"/fhir/ServiceRequest/{activity['id']}")
    assert request["basedOn"] == [{"reference": f"CarePlan/{plan['id']}"}]


async def test_the_command_imports_files_and_reports_without_patient_data(
    settings: Settings, world: ClinicWorld, tmp_path: Path
) -> None:
    assert settings.database_url
    env = {**os.environ, "DATABASE_URL": settings.database_url,
           "CONCORD_HOME": str(tmp_path / "home")}
    rejects = tmp_path / "rejects.ndjson"

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["uv", "run", "python", "-m", "service", "import-fhir", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)

    done = command(str(SYNTHEA), "--clinic", world.slug, "--lead",
                   str(world.staff["physician"].id), "--rejects", str(rejects))
    assert done.returncode == 0, done.stderr
    assert re.search(r"created +5  \(CarePlan 1, CareTeam 1, Goal 2, Patient 1\)", done.stdout)
    assert re.search(r"skipped +7  \(Claim 1, Condition 1, Encounter 1", done.stdout)
    assert re.search(r"rejected +0", done.stdout)
    assert "file 1/2" in done.stderr and "file 2/2" in done.stderr
    for output in (done.stdout, done.stderr):
        assert "Quillfeather" not in output and "1971-03-09" not in output
    assert not rejects.exists()

    unknown = command(str(SYNTHEA), "--clinic", f"no-such-{uuid.uuid4().hex[:6]}")
    assert unknown.returncode == 2
    missing = command(str(tmp_path / "nowhere"), "--clinic", world.slug)
    assert missing.returncode == 2
