"""The demo clinic: one clinician of each standard discipline, a coordinator, an admin,
and patients with active shared plans. Written through the use cases, so the demo data
obeys the same rules as everything else."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.activity import Activity, Frequency
from domain.actor import Actor
from domain.care_plan import CarePlan
from domain.goal import Acceptance, GasLevels, Goal, Measure
from domain.medication import MedicationStatement, Schedule
from domain.patient import Consent, ContactPoint, Identifier, Patient, QuietHours
from domain.staff import Discipline, Staff
from domain.vocab import (
    NON_CLINICAL_DISCIPLINE,
    STANDARD_DISCIPLINES,
    AcceptanceStatus,
    ActivityKind,
    ActivityStatus,
    ContactSystem,
    GoalLifecycle,
    PlanStatus,
    Role,
)
from service.db.uow import UnitOfWork, unit_of_work
from service.usecases import care_plans, medications, patients

DEMO_SLUG = "demo"
DEMO_STAFF = [
    ("Dr. Amara Okafor", "physician", Role.CLINICIAN),
    ("Luis Ferreira, DPT", "physical_therapist", Role.CLINICIAN),
    ("Dr. Hannah Weiss, PhD", "psychologist", Role.CLINICIAN),
    ("Mei Lin Chen, LAc", "acupuncturist", Role.CLINICIAN),
    ("Jordan Blake", NON_CLINICAL_DISCIPLINE, Role.COORDINATOR),
    ("Priya Raman", NON_CLINICAL_DISCIPLINE, Role.ADMIN),
]
GIVEN = [
    "Maria",
    "James",
    "Aisha",
    "Robert",
    "Sofia",
    "Daniel",
    "Grace",
    "Miguel",
    "Ruth",
    "Tomas",
    "Nadia",
    "Samuel",
    "Elena",
    "Kwame",
    "Linda",
    "Omar",
]
FAMILY = [
    "Garcia",
    "Johnson",
    "Nguyen",
    "Williams",
    "Haddad",
    "Brown",
    "Kowalski",
    "Mensah",
    "Rossi",
    "Silva",
    "Cohen",
    "Patel",
    "Okoro",
    "Larsen",
    "Moreau",
    "Tanaka",
]
WHAT_MATTERS = [
    "Being able to pick up my granddaughter without my back seizing up.",
    "Getting back to my garden and sleeping through the night.",
    "Going back to work part time without paying for it for three days after.",
    "Walking my dog around the block every morning.",
]
GOALS = [
    (
        "physical_therapist",
        "Walk to the corner shop and back without stopping",
        Measure(description="minutes walked without stopping", target="20", unit="min"),
        (
            "cannot walk 5 minutes",
            "walks 5 minutes",
            "walks 20 minutes",
            "walks 30 minutes",
            "walks 45 minutes",
        ),
    ),
    (
        "psychologist",
        "Notice when the pain makes me want to cancel plans, and go anyway",
        Measure(description="social activities kept per week", target="2"),
        (
            "keeps none",
            "keeps 1 every other week",
            "keeps 2 a week",
            "keeps 3 a week",
            "keeps 4 or more a week",
        ),
    ),
    (
        "physician",
        "Sleep at least six hours most nights",
        Measure(description="nights a week with 6+ hours of sleep", target="5"),
        ("0-1 nights", "2-3 nights", "5 nights", "6 nights", "every night"),
    ),
]
ACTIVITIES = [
    (
        "physical_therapist",
        ActivityKind.EXERCISE,
        "Graded walking programme",
        Frequency(count=5, period=1, unit="wk"),
    ),
    (
        "psychologist",
        ActivityKind.THERAPY_SESSION,
        "CBT for chronic pain sessions",
        Frequency(count=1, period=1, unit="wk"),
    ),
    (
        "acupuncturist",
        ActivityKind.PROCEDURE,
        "Acupuncture for low back pain",
        Frequency(count=1, period=2, unit="wk"),
    ),
    (
        "physician",
        ActivityKind.MEDICATION_REVIEW,
        "Medication review and sleep hygiene",
        Frequency(count=1, period=1, unit="mo"),
    ),
]


def _statement(rxcui: str, display: str, quantity: float, unit: str, schedule: Schedule,
               route: str = "oral") -> MedicationStatement:
    return MedicationStatement(id=uuid.UUID(int=0), care_plan_id=uuid.UUID(int=0),
                               patient_id=uuid.UUID(int=0), rxnorm_code=rxcui, display=display,
                               dose_quantity=quantity, dose_unit=unit, schedule=schedule,
                               route=route)


# RXCUIs from the shipped opioid table (domain/opioids/data, CDC value sets).
MEDICATIONS: list[list[MedicationStatement]] = [
    [_statement("1049621", "oxycodone hydrochloride 5 MG Oral Tablet", 1, "tablet",
                Schedule(count=4)),
     _statement("245134", "72 HR fentanyl 0.025 MG/HR Transdermal System", 1, "patch",
                Schedule(count=1, period=72, unit="h"), route="transdermal")],
    [_statement("857002", "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet",
                1, "tablet", Schedule(count=1, period=6, unit="h", as_needed=True,
                                      max_per_day=4))],
    [],
]


async def demo_exists(engine: AsyncEngine) -> bool:
    async with unit_of_work(engine) as uow:
        return await uow.clinics.id_by_slug(DEMO_SLUG) is not None


async def seed_clinic(engine: AsyncEngine, slug: str, name: str) -> tuple[uuid.UUID, list[Staff]]:
    clinic_id = uuid.uuid4()
    async with unit_of_work(engine) as uow:
        await uow.clinics.add(clinic_id, slug, name)
        for code, display in {
            **STANDARD_DISCIPLINES,
            NON_CLINICAL_DISCIPLINE: "Administration",
        }.items():
            await uow.clinics.add_discipline(clinic_id, Discipline(code=code, display=display))
        staff = [
            Staff(
                id=uuid.uuid4(),
                clinic_id=clinic_id,
                name=n,
                discipline=d,
                role=r,
                email=f"{n.split()[-1].lower().strip(',.')}@{slug}.clinic.invalid",
            )
            for n, d, r in DEMO_STAFF
        ]
        for member in staff:
            await uow.staff.add(member)
    return clinic_id, staff


async def seed_patients(
    engine: AsyncEngine,
    clinic_id: uuid.UUID,
    staff: list[Staff],
    count: int,
    *,
    start: int = 0,
    batch: int = 50,
) -> None:
    coordinator = next(s for s in staff if s.role is Role.COORDINATOR)
    clinicians = {s.discipline: s for s in staff if s.role is Role.CLINICIAN}
    now = dt.datetime.now(dt.UTC)
    for offset in range(start, start + count, batch):
        async with unit_of_work(engine) as uow:
            for index in range(offset, min(offset + batch, start + count)):
                await _seed_patient(uow, index, clinic_id, coordinator, clinicians, now)


def _actor(staff: Staff) -> Actor:
    return Actor(
        clinic_id=staff.clinic_id, staff_id=staff.id, role=staff.role, discipline=staff.discipline
    )


async def _seed_patient(
    uow: UnitOfWork,
    index: int,
    clinic_id: uuid.UUID,
    coordinator: Staff,
    clinicians: dict[str, Staff],
    now: dt.datetime,
) -> None:
    rng = random.Random(index)
    given, family = GIVEN[index % len(GIVEN)], FAMILY[(index * 7) % len(FAMILY)]
    patient = Patient(
        id=uuid.uuid4(),
        clinic_id=clinic_id,
        given_name=given,
        family_name=family,
        birth_date=dt.date(1950 + rng.randrange(45), rng.randrange(1, 13), rng.randrange(1, 28)),
        time_zone=rng.choice(["America/New_York", "America/Chicago", "America/Los_Angeles"]),
        language="es" if index % 4 == 3 else "en",
        contact_points=[
            ContactPoint(
                system=ContactSystem.EMAIL,
                value=f"{given.lower()}.{family.lower()}{index}@example.org",
            )
        ],
        identifiers=[Identifier(system="urn:concord:demo:mrn", value=f"MRN{index:06d}")],
        quiet_hours=QuietHours(start=dt.time(21, 0), end=dt.time(8, 0)),
        consent=Consent(messages=True, given_at=now),
    )
    coord = _actor(coordinator)
    await patients.create(uow, coord, patient, now)
    plan = CarePlan(
        id=uuid.uuid4(),
        clinic_id=clinic_id,
        patient_id=patient.id,
        title="Integrative chronic pain plan",
        what_matters=WHAT_MATTERS[index % len(WHAT_MATTERS)],
        health_concerns=["Chronic low back pain", "Poor sleep"],
    )
    await care_plans.create(uow, coord, plan, now)
    for discipline in ("physician", "physical_therapist", "psychologist", "acupuncturist"):
        await care_plans.add_member(
            uow, coord, plan.id, clinicians[discipline].id, discipline == "physician", now
        )
    goal_ids = {}
    for discipline, description, measure, levels in GOALS:
        goal = Goal(
            id=uuid.uuid4(),
            care_plan_id=plan.id,
            description=description,
            owners=[discipline],
            lifecycle_status=GoalLifecycle.ACTIVE,
            measure=measure,
            gas=GasLevels(
                much_less=levels[0],
                less=levels[1],
                expected=levels[2],
                more=levels[3],
                much_more=levels[4],
            ),
            review_cadence_days=28,
            next_review_date=now.date() + dt.timedelta(days=rng.randrange(-3, 28)),
        )
        clinician = _actor(clinicians[discipline])
        await care_plans.add_goal(uow, clinician, plan.id, goal, now)
        await care_plans.record_acceptance(
            uow,
            clinician,
            plan.id,
            goal.id,
            Acceptance(participant="patient", status=AcceptanceStatus.AGREE),
            goal.version,
            now,
        )
        goal_ids[discipline] = goal.id
    for discipline, kind, description, frequency in ACTIVITIES:
        linked = [goal_ids[discipline]] if discipline in goal_ids else []
        await care_plans.add_activity(
            uow,
            _actor(clinicians[discipline]),
            plan.id,
            Activity(
                id=uuid.uuid4(),
                care_plan_id=plan.id,
                discipline=discipline,
                kind=kind,
                description=description,
                status=ActivityStatus.IN_PROGRESS,
                frequency=frequency,
                goal_ids=linked,
            ),
            now,
        )
    physician = _actor(clinicians["physician"])
    for medication in MEDICATIONS[index % len(MEDICATIONS)]:
        statement = msgspec.structs.replace(
            medication, id=uuid.uuid4(), care_plan_id=plan.id, patient_id=patient.id,
            period_start=now.date() - dt.timedelta(days=rng.randrange(30, 900)),
            source=str(physician.staff_id))
        await medications.record(uow, physician, plan.id, statement, now)
    loaded = await uow.care_plans.get(clinic_id, plan.id)
    await care_plans.transition(uow, coord, plan.id, PlanStatus.ACTIVE, loaded.version, now)
