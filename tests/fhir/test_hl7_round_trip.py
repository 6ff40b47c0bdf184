"""Round trips of the official HL7 FHIR R4 examples: every CarePlan, MedicationStatement,
Goal and CareTeam example (and the Patients they are about), written as an EHR would and
read back. A read, and a search by `_id`, must return every element that was written.

The fixtures in tests/fixtures/hl7 are the examples as published, every element kept;
only references to what must exist on this server (Patient, Practitioner, Goal,
CareTeam, CarePlan) are placeholders `{{Type/example-id}}`, which `Clinic` fills with
resources it creates first in the test clinic. Contained resources stay contained."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.factories import ClinicWorld

pytestmark = pytest.mark.asyncio

FIXTURES = pathlib.Path(__file__).parents[1] / "fixtures" / "hl7"
FHIR = {"Content-Type": "application/fhir+json"}
PLACEHOLDER = re.compile(r"^\{\{(\w+)/([A-Za-z0-9\-.]+)\}\}$")

# The examples' practitioners, each played by a clinician of the test clinic (doctors
# by its physician; the nurses, the carer and the radiographer by other disciplines).
PRACTITIONERS = {
    "example": "physician", "f001": "physician", "f002": "physician", "f003": "physician",
    "f201": "physician", "f202": "psychologist", "f204": "physical_therapist",
    "13": "physical_therapist", "14": "physician",
}
# The one example Patient Concord can record (Patient-pat1 has no birth date) is the
# record of every patient the examples are about, each created on its own.
PATIENT_FIXTURE = "Patient-example.json"
# The medication statements' patient (pat1) is the patient of the GP visit plan
# (Patient/100) that example005 is based on: so the physician who records them is on
# the patient's care team, as a clinician must be to read a patient's record.
SAME_PATIENT = {"100": "pat1"}


@dataclass(frozen=True)
class Refused:
    status: int
    expression: str
    reason: str
    """Words the OperationOutcome's diagnostics must hold."""


ROUND_TRIPS = [
    "CarePlan-example.json",  # the author leads; CareTeam/example names nobody on staff
    "CarePlan-f001.json",  # completed: recorded as history through active
    "CarePlan-f002.json",
    "CarePlan-f003.json",
    "CarePlan-f201.json",  # a draft proposal
    "CarePlan-f202.json",  # active, its team contained in the plan
    "CarePlan-f203.json",  # completed, with a goal contained and cancelled
    "CarePlan-gpvisit.json",
    "CareTeam-example.json",
    "Goal-example.json",
    "Goal-stop-smoking.json",
    # None of the statements has an RxNorm-coded, structured dose Concord can count in
    # MME: each is kept as written, tagged not-in-mme with the reason.
    "MedicationStatement-example001.json",
    "MedicationStatement-example002.json",
    "MedicationStatement-example003.json",
    "MedicationStatement-example004.json",
    "MedicationStatement-example005.json",
    "MedicationStatement-example006.json",
    "MedicationStatement-example007.json",
    "Patient-example.json",
]
NO_LEAD = Refused(422, "CarePlan.status", "an active plan needs a lead on its care team")
REFUSED = {
    # An active plan is one the clinic works from, and Concord's rule is that someone on
    # its staff leads it: a plan nobody here answers for is the fragmented care Concord
    # exists to prevent. These name no practitioner of the clinic (integrate and
    # obesity-narrative name no one at all; preg only practitioners contained in it), so
    # Concord refuses them and says what would let it record them (an author or a
    # CareTeam participant on staff, or the plan sent as a draft) rather than record an
    # active plan without a lead, or a draft the EHR did not send.
    "CarePlan-integrate.json": NO_LEAD,
    "CarePlan-obesity-narrative.json": NO_LEAD,
    "CarePlan-preg.json": NO_LEAD,
    # Every patient record here carries a birth date: with the name, it is how staff tell
    # one patient from another (two identifiers, as patient-safety practice asks), and
    # Concord does not make one up.
    "Patient-pat1.json": Refused(422, "Patient.birthDate", "birth date"),
}


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def writer(resource_type: str) -> str:
    return "physician" if resource_type == "MedicationStatement" else "coordinator"


@dataclass
class Clinic:
    """The test clinic, creating on first use what a fixture's placeholders name."""

    client: Any
    world: ClinicWorld
    created: dict[str, str] = field(default_factory=dict)
    written: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def post(self, resource: dict[str, Any], who: str) -> Any:
        return await self.client.post(f"/fhir/{resource['resourceType']}", json=resource,
                                      headers={**self.world.auth(who), **FHIR})

    async def reference(self, kind: str, example_id: str) -> str:
        if kind == "Practitioner":
            return f"Practitioner/{self.world.staff[PRACTITIONERS[example_id]].id}"
        if kind == "Patient":
            example_id = SAME_PATIENT.get(example_id, example_id)
        key = f"{kind}/{example_id}"
        if key not in self.created:
            name = PATIENT_FIXTURE if kind == "Patient" else f"{kind}-{example_id}.json"
            resource = await self.fill(load(name))
            response = await self.post(resource, writer(kind))
            assert response.status_code == 201, f"{key}: {response.text}"
            self.created[key] = f"{kind}/{response.json()['id']}"
            self.written[self.created[key]] = resource
        return self.created[key]

    async def fill(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: await self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [await self.fill(v) for v in value]
        if isinstance(value, str) and (found := PLACEHOLDER.match(value)):
            return await self.reference(found.group(1), found.group(2))
        return value

    async def get(self, path: str, who: str = "coordinator") -> Any:
        response = await self.client.get(path, headers=self.world.auth(who))
        assert response.status_code == 200, f"{path}: {response.text}"
        return response.json()


def differences(written: Any, read: Any, path: str = "") -> list[str]:
    """Where `read` lacks or changes what `written` holds; lists element by element (what
    the server adds after them, as the members Concord's team gains, is not a loss). The
    server's own id and version (id, meta.versionId, meta.lastUpdated) excepted."""
    if isinstance(written, dict):
        if not isinstance(read, dict):
            return [f"{path}: read {read!r}"]
        found = []
        for key, value in written.items():
            if (path, key) == ("", "id") or \
                    (path == ".meta" and key in ("versionId", "lastUpdated")):
                continue
            found += differences(value, read[key], f"{path}.{key}") if key in read \
                else [f"{path}.{key} is missing"]
        return found
    if isinstance(written, list):
        if not isinstance(read, list) or len(read) < len(written):
            return [f"{path}: wrote {len(written)} items, read {read!r}"]
        return [d for i, item in enumerate(written)
                for d in differences(item, read[i], f"{path}[{i}]")]
    return [] if written == read else [f"{path}: wrote {written!r}, read {read!r}"]


async def created_from(client: Any, world: ClinicWorld, name: str) -> tuple[Clinic, Any]:
    """The example written (after what it references), and the server's answer."""
    clinic = Clinic(client, world)
    kind = name.split("-")[0]
    if kind == "MedicationStatement":
        await clinic.reference("CarePlan", "gpvisit")
    resource = await clinic.fill(load(name))
    response = await clinic.post(resource, writer(kind))
    clinic.written["written"] = resource
    return clinic, response


async def test_every_example_is_either_read_back_or_refused() -> None:
    assert sorted(ROUND_TRIPS + list(REFUSED)) == sorted(p.name for p in FIXTURES.glob("*.json"))


@pytest.mark.parametrize("name", ROUND_TRIPS)
async def test_an_official_example_reads_back_as_written(
    client: Any, world: ClinicWorld, name: str
) -> None:
    clinic, response = await created_from(client, world, name)
    assert response.status_code == 201, response.text
    resource, body = clinic.written.pop("written"), response.json()
    kind, who = resource["resourceType"], writer(resource["resourceType"])
    read = await clinic.get(f"/fhir/{kind}/{body['id']}", who)
    assert differences(resource, read) == []
    assert read["id"] == body["id"]
    assert read == body  # the create's answer is what a read gives
    found = await clinic.get(f"/fhir/{kind}?_id={body['id']}", who)
    assert [e["resource"] for e in found["entry"]] == [read]
    # and what it referenced, written first, still reads back as it was written
    for reference, written in clinic.written.items():
        assert differences(written, await clinic.get(f"/fhir/{reference}")) == [], reference


@pytest.mark.parametrize("name", sorted(REFUSED))
async def test_an_example_concord_cannot_record_is_refused_with_the_reason(
    client: Any, world: ClinicWorld, name: str
) -> None:
    """Why each is refused is written beside it in REFUSED: in each case the rule is
    Concord's for every plan or patient, whichever door it comes through, and the
    OperationOutcome names the element to change."""
    clinic, response = await created_from(client, world, name)
    refused = REFUSED[name]
    assert response.status_code == refused.status, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == [refused.expression]
    assert refused.reason in issue["diagnostics"]
    kind = name.split("-")[0]
    listed = await clinic.get(f"/fhir/{kind}")
    assert sorted(f"{kind}/{e['resource']['id']}" for e in listed.get("entry", [])) == \
        sorted(r for r in clinic.created.values() if r.startswith(f"{kind}/"))


async def test_a_completed_plan_is_recorded_as_history_with_its_team_and_activities(
    client: Any, world: ClinicWorld
) -> None:
    _, response = await created_from(client, world, "CarePlan-f001.json")
    assert response.status_code == 201, response.text
    plan = await Clinic(client, world).get(f"/api/v1/care-plans/{response.json()['id']}")
    assert plan["status"] == "completed"
    assert (plan["period_start"], plan["period_end"]) == ("2011-06-26", "2011-06-27")
    assert [(m["staff_id"], m["lead"]) for m in plan["team"]] == [
        (str(world.staff["physician"].id), True)]
    assert [(a["description"], a["status"], a["discipline"]) for a in plan["activities"]] == [
        ("Operation on heart", "completed", "physician")]
    assert plan["goals"] == []  # its goal is contained: part of the EHR's record as written


async def test_a_completed_plan_holding_an_open_goal_is_refused_naming_the_goal(
    client: Any, world: ClinicWorld
) -> None:
    """Completing a plan with open goals is refused through /api/v1 too; recording it
    as completed would close the goal on the EHR's behalf, a clinical fact nobody
    stated. The EHR is told which goal to send with its final status."""
    clinic = Clinic(client, world)
    plan = await clinic.fill(load("CarePlan-f001.json"))
    plan["goal"] = [{"reference": await clinic.reference("Goal", "example")}]  # on-hold
    response = await clinic.post(plan, "coordinator")
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["CarePlan.goal[0]"]
    assert "on-hold" in issue["diagnostics"]


async def test_careteam_participants_not_on_staff_are_kept_but_do_not_join_the_team(
    client: Any, world: ClinicWorld
) -> None:
    clinic, response = await created_from(client, world, "CarePlan-example.json")
    assert response.status_code == 201, response.text
    plan = await clinic.get(f"/api/v1/care-plans/{response.json()['id']}")
    # the patient and the contained dietician stay in the CareTeam; the author leads,
    # and the team the plan names shows her
    assert [(m["staff_id"], m["lead"]) for m in plan["team"]] == [
        (str(world.staff["physician"].id), True)]
    team = await clinic.get(f"/fhir/{clinic.created['CareTeam/example']}")
    assert [p["member"]["display"] for p in team["participant"]] == [
        "Peter James Chalmers", "Dorothy Dietition", world.staff["physician"].name]
    # the activity the patient performs is the lead's to follow
    assert [a["discipline"] for a in plan["activities"]] == ["physician"]


async def test_an_ehr_goals_status_date_is_not_taken_for_its_next_review(
    client: Any, world: ClinicWorld
) -> None:
    """Goal-example was put on hold on 2016-02-14 (its statusDate). Taken for a review
    date, it would be ten years overdue the moment the plan takes it in."""
    clinic, response = await created_from(client, world, "CarePlan-example.json")
    assert response.status_code == 201, response.text
    plan = await clinic.get(f"/api/v1/care-plans/{response.json()['id']}")
    goal = plan["goals"][0]
    assert goal["lifecycle_status"] == "on-hold"
    assert goal["owners"] == ["physician"]
    assert dt.date.fromisoformat(goal["next_review_date"]) > dt.datetime.now(dt.UTC).date()
    served = await clinic.get(f"/fhir/{clinic.created['Goal/example']}")
    assert served["statusDate"] == "2016-02-14"  # as the EHR wrote it


@pytest.mark.parametrize("status", ["on-hold", "revoked", "entered-in-error"])
async def test_a_plan_sent_in_any_status_concord_keeps_is_recorded_in_it(
    client: Any, world: ClinicWorld, status: str
) -> None:
    clinic = Clinic(client, world)
    plan = {**await clinic.fill(load("CarePlan-f201.json")), "status": status}
    response = await clinic.post(plan, "coordinator")
    assert response.status_code == 201, response.text
    assert response.json()["status"] == status
    recorded = await clinic.get(f"/api/v1/care-plans/{response.json()['id']}")
    assert recorded["status"] == status
    assert len(recorded["activities"]) == 2
