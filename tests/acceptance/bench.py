"""What the scenarios of one test share: the integrator, the CapabilityStatement it was
served, and the resources it made (each made once per test, through the API as an EHR
would). Resources the EHR cannot write (Practitioner, Communication, Observation,
DetectedIssue) come from the clinic's own work: its staff, a check-in the worker sent,
a plan's opioids and a taper the physician drafted over /api/v1."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.acceptance import samples
from tests.acceptance.integrator import Integrator, plain
from tests.factories import create_plan, record_three_opioids
from workers.check_ins import dispatch_check_ins
from workers.outbox import drain_outbox

CHANGES: dict[str, tuple[str, Any]] = {
    "Patient": ("name", [{"use": "official", "family": "Rivera", "given": ["Ana María"]}]),
    "CarePlan": ("title", "Chronic low back pain plan (revised with the patient)"),
    "CareTeam": ("name", "Pain team (evenings)"),
    "Goal": ("description", {"text": "Walk my granddaughter to school and back"}),
    "MedicationStatement": ("dosage", [{"text": "one tablet once a day with food"}]),
    "Questionnaire": ("title", "Pain intensity (NRS)"),
    "QuestionnaireResponse": ("status", "amended"),
    "ServiceRequest": ("priority", "urgent"),
    "Subscription": ("reason", "Keep the EHR's copy of every care plan current"),
    "Task": ("description", "Book the first two physiotherapy sessions"),
}
"""Per writable type: a top-level element an update changes, and its new value."""


@dataclass(frozen=True)
class PlanIds:
    patient: str
    team: str
    goal: str
    plan: str


@dataclass
class Bench:
    it: Integrator
    capability: dict[str, Any]
    worker: dict[str, Any]
    """A worker's ctx (engine, settings with the mail sink's port) for the jobs a test
    runs in place of the arq worker."""
    _made: dict[str, dict[str, Any]] = field(default_factory=dict)
    _patient: str | None = None
    _plan: PlanIds | None = None
    _questionnaire_url: str | None = None

    # -- the CapabilityStatement --------------------------------------------------------

    def listed(self, resource_type: str, interaction: str) -> bool:
        for resource in self.capability["rest"][0]["resource"]:
            if resource["type"] == resource_type:
                return interaction in [i["code"] for i in resource["interaction"]]
        return False

    # -- resources made once per test ---------------------------------------------------

    async def patient(self) -> str:
        if self._patient is None:
            created = await self.it.fhir.resource(
                "Patient", **samples.patient(samples.mrn())).save()
            self._patient = str(created.id)
        return self._patient

    async def plan(self) -> PlanIds:
        """A patient's active plan, written one resource at a time (the transaction
        scenario writes the same in one Bundle): the Patient, a CareTeam of the clinic's
        physician (lead) and physical therapist, the patient's Goal, the CarePlan."""
        if self._plan is None:
            fhir, world = self.it.fhir, self.it.world
            patient = await fhir.resource("Patient", **samples.patient(samples.mrn())).save()
            team = await fhir.resource("CareTeam", **samples.care_team(
                str(patient.id), str(world.staff["physician"].id),
                str(world.staff["physical_therapist"].id))).save()
            goal = await fhir.resource("Goal", **samples.goal(str(patient.id))).save()
            plan = await fhir.resource("CarePlan", **{
                **samples.care_plan(str(patient.id), status="active"),
                "careTeam": [{"reference": f"CareTeam/{team.id}"}],
                "goal": [{"reference": f"Goal/{goal.id}"}]}).save()
            self._plan = PlanIds(patient=str(patient.id), team=str(team.id),
                                 goal=str(goal.id), plan=str(plan.id))
        return self._plan

    async def body(self, resource_type: str) -> dict[str, Any]:
        """A new resource of `resource_type` to create, about this test's patient."""
        if resource_type == "Patient":
            return samples.patient(samples.mrn(), family="Okafor", given="Ngozi")
        patient = await self.patient()
        if resource_type == "CarePlan":
            return samples.care_plan(patient)
        if resource_type == "CareTeam":
            return samples.care_team(patient, str(self.it.world.staff["physician"].id))
        if resource_type == "Goal":
            return samples.goal(patient)
        if resource_type == "MedicationStatement":
            return samples.medication_statement(patient)
        if resource_type == "Questionnaire":
            return samples.questionnaire(self.questionnaire_url())
        if resource_type == "QuestionnaireResponse":
            return samples.questionnaire_response(patient, self.questionnaire_url())
        if resource_type == "ServiceRequest":
            return samples.service_request(patient)
        if resource_type == "Subscription":
            # loopback, closed: were the worker to try it, it fails at once
            return samples.subscription("http://127.0.0.1:9/fhir-hooks/concord",
                                        f"CarePlan?patient=Patient/{patient}")
        if resource_type == "Task":
            return samples.task(patient)
        raise AssertionError(f"no sample {resource_type} to create")

    def questionnaire_url(self) -> str:
        if self._questionnaire_url is None:
            self._questionnaire_url = (f"https://ehr.example/fhir/Questionnaire/"
                                       f"pain-{uuid.uuid4().hex[:8]}")
        return self._questionnaire_url

    async def create(self, resource_type: str) -> dict[str, Any]:
        """A new resource, created with fhirpy; the server's answer as plain JSON."""
        saved = await self.it.fhir.resource(resource_type,
                                            **await self.body(resource_type)).save()
        created: dict[str, Any] = plain(saved)
        return created

    async def made(self, resource_type: str) -> dict[str, Any]:
        """One resource of `resource_type` as the server served it when it was made."""
        if resource_type not in self._made:
            if resource_type in CHANGES:
                self._made[resource_type] = await self.create(resource_type)
            elif resource_type == "Practitioner":
                self._made[resource_type] = await self.read(
                    "Practitioner", str(self.it.world.staff["physician"].id))
            elif resource_type == "Communication":
                self._made[resource_type] = await self.sent_message()
            else:
                raise AssertionError(f"no way to make a {resource_type}")
        return self._made[resource_type]

    async def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        resource: dict[str, Any] = plain(
            await self.it.fhir.reference(resource_type, resource_id).to_resource())
        return resource

    async def update(self, resource: dict[str, Any], *, key: str | None = None,
                     value: Any = None) -> dict[str, Any]:
        """Change `resource` (by its type's CHANGES unless told) with If-Match set to the
        version it carries; returns the new version as served."""
        resource_type = resource["resourceType"]
        if key is None:
            key, value = CHANGES[resource_type]
        versioned = self.it.fhirpy(**{"If-Match": f'W/"{resource["meta"]["versionId"]}"'})
        saved = await versioned.resource(resource_type, **{**resource, key: value}).save()
        updated: dict[str, Any] = plain(saved)
        return updated

    # -- what the clinic's own work produces --------------------------------------------

    async def sent_message(self) -> dict[str, Any]:
        """A check-in the clinic scheduled for its patient and the worker e-mailed: the
        FHIR Communication that records it."""
        async with self.it.staff_http("coordinator") as staff:
            plan = await create_plan(staff, self.it.world)
            response = await staff.post("/api/v1/check-ins", json={
                "care_plan_id": plan["id"], "due_at": dt.datetime.now(dt.UTC).isoformat(),
                "send_now": True})
            assert response.status_code == 201, response.text
        await dispatch_check_ins(self.worker)
        await drain_outbox(self.worker)
        found = await self.it.fhir.resources("Communication").search(
            subject=f"Patient/{plan['patient_id']}").fetch_all()
        assert len(found) == 1, "the sent check-in is one Communication"
        message: dict[str, Any] = plain(found[0])
        return message

    async def taper(self) -> PlanIds:
        """The plan's physician records three opioids (120 MME/day) and drafts a taper
        to nothing in ten weekly steps after three years' use: too fast, abrupt at the
        end, with no shared decision. Its guardrail hits are DetectedIssues."""
        ids = await self.plan()
        async with self.it.staff_http("physician") as physician:
            statements = await record_three_opioids(physician, self.it.world, ids.plan)
            start = dt.date.today() + dt.timedelta(days=7)
            response = await physician.post(f"/api/v1/care-plans/{ids.plan}/tapers", json={
                "opioid_since": (start - dt.timedelta(days=3 * 365)).isoformat(),
                "starts_on": start.isoformat(), "medication_statement_ids": statements,
                "steps": [{"date": (start + dt.timedelta(weeks=i)).isoformat(),
                           "daily_mme": 120 - 12 * (i + 1)} for i in range(10)]})
            assert response.status_code == 201, response.text
        return ids
