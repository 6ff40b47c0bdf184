"""Builders for test data, written through the same repositories and use cases as the
application, never by hand-written SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.staff import Discipline, Staff
from domain.vocab import NON_CLINICAL_DISCIPLINE, STANDARD_DISCIPLINES, Role
from service.db.uow import unit_of_work
from service.usecases.staff import issue_token

ROSTER: list[tuple[str, str, Role]] = [
    ("admin", NON_CLINICAL_DISCIPLINE, Role.ADMIN),
    ("coordinator", NON_CLINICAL_DISCIPLINE, Role.COORDINATOR),
    ("physician", "physician", Role.CLINICIAN),
    ("physical_therapist", "physical_therapist", Role.CLINICIAN),
    ("psychologist", "psychologist", Role.CLINICIAN),
    ("acupuncturist", "acupuncturist", Role.CLINICIAN),
    ("outsider", "physician", Role.CLINICIAN),
]


@dataclass
class ClinicWorld:
    id: uuid.UUID
    slug: str
    staff: dict[str, Staff] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


async def make_clinic(engine: AsyncEngine, slug: str) -> ClinicWorld:
    world = ClinicWorld(id=uuid.uuid4(), slug=slug)
    async with unit_of_work(engine) as uow:
        await uow.clinics.add(world.id, slug, f"Clinic {slug}")
        for code, display in {
            **STANDARD_DISCIPLINES,
            NON_CLINICAL_DISCIPLINE: "Administration",
        }.items():
            await uow.clinics.add_discipline(world.id, Discipline(code=code, display=display))
        for name, discipline, role in ROSTER:
            staff = Staff(
                id=uuid.uuid4(),
                clinic_id=world.id,
                name=f"{name} of {slug}",
                discipline=discipline,
                role=role,
            )
            await uow.staff.add(staff)
            world.staff[name] = staff
            _, world.tokens[name] = await issue_token(uow, world.id, staff, "test", None)
    return world


PATIENT: dict[str, Any] = {
    "given_name": "Rosa",
    "family_name": "Delgado",
    "birth_date": "1968-04-12",
    "time_zone": "America/Chicago",
    "language": "es",
    "contact_points": [{"system": "email", "value": "rosa@example.org"}],
    "quiet_hours": {"start": "21:00:00", "end": "08:00:00"},
    "consent_to_messages": True,
}

GAS = {
    "minus_2": "cannot walk 5 minutes",
    "minus_1": "walks 5 minutes",
    "zero": "walks 20 minutes",
    "plus_1": "walks 30 minutes",
    "plus_2": "walks 45 minutes",
}


CLINICIANS = ("physician", "physical_therapist", "psychologist", "acupuncturist")


async def create_plan(client: Any, world: ClinicWorld, *, activate: bool = True) -> dict[str, Any]:
    """Over the API, as a coordinator: a patient, a plan, and a team of the four standard
    disciplines with the physician leading. Returns the plan as last read."""
    coordinator = world.auth("coordinator")
    patient = await client.post("/api/v1/patients", json=PATIENT, headers=coordinator)
    assert patient.status_code == 201, patient.text
    plan = await client.post(
        "/api/v1/care-plans",
        headers=coordinator,
        json={
            "patient_id": patient.json()["id"],
            "title": "Chronic low back pain plan",
            "what_matters": "Picking up my granddaughter again",
        },
    )
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["id"]
    for who in CLINICIANS:
        added = await client.post(
            f"/api/v1/care-plans/{plan_id}/team",
            headers=coordinator,
            json={"staff_id": str(world.staff[who].id), "lead": who == "physician"},
        )
        assert added.status_code == 201, added.text
    current = await client.get(f"/api/v1/care-plans/{plan_id}", headers=coordinator)
    if activate:
        current = await client.post(
            f"/api/v1/care-plans/{plan_id}/status",
            json={"status": "active"},
            headers={**coordinator, "If-Match": current.headers["etag"]},
        )
        assert current.status_code == 200, current.text
    body: dict[str, Any] = current.json()
    return body


async def add_goal(
    client: Any,
    world: ClinicWorld,
    plan_id: str,
    who: str,
    description: str = "Walk to the corner shop and back",
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/care-plans/{plan_id}/goals",
        headers=world.auth(who),
        json={
            "description": description,
            "owners": [who],
            "gas": GAS,
            "lifecycle_status": "active",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# -- medications: RXCUIs from the shipped opioid table (CDC value sets) --------------------

OXYCODONE_5_TABLET = "1049621"  # oxycodone hydrochloride 5 MG Oral Tablet
FENTANYL_25_PATCH = "245134"  # 72 HR fentanyl 0.025 MG/HR Transdermal System
HYDROCODONE_APAP_5_325 = "857002"  # acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet

OXYCODONE_4_A_DAY: dict[str, Any] = {
    "rxnorm_code": OXYCODONE_5_TABLET, "display": "oxycodone hydrochloride 5 MG Oral Tablet",
    "dose_quantity": 1, "dose_unit": "tablet", "schedule": {"count": 4, "period": 1, "unit": "d"}}
FENTANYL_25_EVERY_72_H: dict[str, Any] = {
    "rxnorm_code": FENTANYL_25_PATCH, "display": "72 HR fentanyl 0.025 MG/HR Transdermal System",
    "route": "transdermal", "dose_quantity": 1, "dose_unit": "patch",
    "schedule": {"count": 1, "period": 72, "unit": "h"}}
HYDROCODONE_AS_NEEDED_6: dict[str, Any] = {
    "rxnorm_code": HYDROCODONE_APAP_5_325,
    "display": "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet",
    "dose_quantity": 1, "dose_unit": "tablet",
    "schedule": {"count": 1, "period": 4, "unit": "h", "as_needed": True, "max_per_day": 6}}
THREE_OPIOIDS = (OXYCODONE_4_A_DAY, FENTANYL_25_EVERY_72_H, HYDROCODONE_AS_NEEDED_6)
"""CDC 2022 factors: oxycodone 5 mg x 4/day x 1.5 = 30; fentanyl 25 mcg/h x 2.4 = 60;
hydrocodone 5 mg x at most 6/day (as needed: the maximum counts) x 1 = 30; 120 MME/day."""


async def record_medication(client: Any, world: ClinicWorld, plan_id: str,
                            body: dict[str, Any]) -> Any:
    """Record as the team's physician; returns the 201 response."""
    response = await client.post(f"/api/v1/care-plans/{plan_id}/medications",
                                 headers=world.auth("physician"), json=body)
    assert response.status_code == 201, response.text
    return response


async def record_three_opioids(client: Any, world: ClinicWorld, plan_id: str) -> list[str]:
    return [(await record_medication(client, world, plan_id, body)).json()["id"]
            for body in THREE_OPIOIDS]
