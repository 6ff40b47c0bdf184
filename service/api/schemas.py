"""What crosses the internal API, as msgspec Structs: `XCreate` in, `XUpdate` (UNSET
means 'leave it') in, `XRead` out. Inputs refuse unknown fields so a typo is named, not
ignored."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain.activity import ActivityPatch, Frequency
from domain.care_plan import CarePlan, Note, PlanPatch, TeamMember
from domain.goal import Acceptance, GasLevels, Goal, GoalPatch, Measure
from domain.opioids.safety import OpioidSafety
from domain.patient import Consent, ContactPoint, Identifier, Patient, QuietHours
from domain.review import GoalReview, ReviewEntry, ReviewParticipant
from domain.task import TaskPatch
from domain.vocab import (
    PATIENT_PARTICIPANT,
    AcceptanceStatus,
    ActivityKind,
    ActivityStatus,
    Channel,
    GoalAchievement,
    GoalLifecycle,
    PlanStatus,
    Role,
    TaskKind,
    TaskPriority,
)
from service.usecases.patients import PatientPatch
from service.usecases.staff import StaffPatch


class Input(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


# -- patients -------------------------------------------------------------------------


class PatientCreate(Input):
    given_name: str
    family_name: str
    birth_date: dt.date
    time_zone: str = "UTC"
    language: str = "en"
    preferred_channel: Channel = Channel.EMAIL
    contact_points: list[ContactPoint] = msgspec.field(default_factory=list)
    identifiers: list[Identifier] = msgspec.field(default_factory=list)
    quiet_hours: QuietHours | None = None
    consent_to_messages: bool = False


class PatientUpdate(PatientPatch, kw_only=True, forbid_unknown_fields=True):
    pass


class PatientRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    given_name: str
    family_name: str
    birth_date: dt.date
    time_zone: str
    language: str
    preferred_channel: Channel
    contact_points: list[ContactPoint]
    identifiers: list[Identifier]
    quiet_hours: QuietHours | None
    consent: Consent
    version: int

    @classmethod
    def of(cls, patient: Patient) -> PatientRead:
        return msgspec.convert(patient, cls, from_attributes=True)


# -- staff, disciplines, tokens ----------------------------------------------------------


class StaffCreate(Input):
    name: str
    discipline: str
    role: Role = Role.CLINICIAN
    email: str | None = None


class StaffUpdate(StaffPatch, kw_only=True, forbid_unknown_fields=True):
    pass


class StaffRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    discipline: str
    role: Role
    email: str | None
    active: bool
    version: int


class DisciplineCreate(Input):
    code: str
    display: str


class TokenCreate(Input):
    label: str | None = None
    expires_at: dt.datetime | None = None


class TokenRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    staff_id: uuid.UUID
    role: Role
    label: str | None
    created_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenIssued(TokenRead, kw_only=True):
    token: str
    """The bearer token itself. Shown once: only its hash is kept."""


# -- care plans -------------------------------------------------------------------------


class CarePlanCreate(Input):
    patient_id: uuid.UUID
    title: str
    what_matters: str | None = None
    health_concerns: list[str] = msgspec.field(default_factory=list)
    period_start: dt.date | None = None
    period_end: dt.date | None = None


class CarePlanUpdate(PlanPatch, kw_only=True, forbid_unknown_fields=True):
    pass


class StatusChange(Input):
    status: PlanStatus


class NoteCreate(Input):
    text: str


class TeamMemberCreate(Input):
    staff_id: uuid.UUID
    lead: bool = False


class TeamMemberRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    staff_id: uuid.UUID
    name: str
    discipline: str
    lead: bool
    version: int
    etag: str


class GoalCreate(Input):
    description: str
    owners: list[str]
    expressed_by: str = PATIENT_PARTICIPANT
    lifecycle_status: GoalLifecycle = GoalLifecycle.PROPOSED
    achievement_status: GoalAchievement | None = None
    measure: Measure | None = None
    gas: GasLevels | None = None
    gas_weight: float = 1.0
    review_cadence_days: int = 28
    next_review_date: dt.date | None = None


class GoalUpdate(GoalPatch, kw_only=True, forbid_unknown_fields=True):
    pass


class AcceptanceCreate(Input):
    participant: str
    status: AcceptanceStatus
    reason: str | None = None


class GoalRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    care_plan_id: uuid.UUID
    description: str
    owners: list[str]
    expressed_by: str
    lifecycle_status: GoalLifecycle
    achievement_status: GoalAchievement | None
    measure: Measure | None
    gas: GasLevels | None
    gas_weight: float
    review_cadence_days: int
    next_review_date: dt.date | None
    acceptance: list[Acceptance]
    aligned: bool
    """True when the patient and every discipline on the team agree."""
    created_by: uuid.UUID | None
    created_at: dt.datetime | None
    version: int
    etag: str

    @classmethod
    def of(cls, goal: Goal, plan: CarePlan) -> GoalRead:
        acceptance = goal.acceptance_of(plan.participants)
        return cls(
            id=goal.id,
            care_plan_id=goal.care_plan_id,
            description=goal.description,
            owners=goal.owners,
            expressed_by=goal.expressed_by,
            lifecycle_status=goal.lifecycle_status,
            achievement_status=goal.achievement_status,
            measure=goal.measure,
            gas=goal.gas,
            gas_weight=goal.gas_weight,
            review_cadence_days=goal.review_cadence_days,
            next_review_date=goal.next_review_date,
            acceptance=acceptance,
            aligned=all(a.status is AcceptanceStatus.AGREE for a in acceptance),
            created_by=goal.created_by,
            created_at=goal.created_at,
            version=goal.version,
            etag=f'W/"{goal.version}"',
        )


class ActivityCreate(Input):
    kind: ActivityKind
    description: str
    discipline: str | None = None
    """Defaults to the discipline of the clinician adding it."""
    status: ActivityStatus = ActivityStatus.NOT_STARTED
    frequency: Frequency | None = None
    goal_ids: list[uuid.UUID] = msgspec.field(default_factory=list)


class ActivityUpdate(ActivityPatch, kw_only=True, forbid_unknown_fields=True):
    pass


class ActivityRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    care_plan_id: uuid.UUID
    discipline: str
    kind: ActivityKind
    description: str
    status: ActivityStatus
    frequency: Frequency | None
    goal_ids: list[uuid.UUID]
    created_by: uuid.UUID | None
    created_at: dt.datetime | None
    version: int
    etag: str


class ReviewEntryCreate(Input):
    goal_id: uuid.UUID
    level: int
    achievement_status: GoalAchievement | None = None
    note: str | None = None


class ReviewParticipantCreate(Input):
    kind: str
    staff_id: uuid.UUID | None = None


class ReviewCreate(Input):
    entries: list[ReviewEntryCreate]
    participants: list[ReviewParticipantCreate]
    reviewed_on: dt.date | None = None
    note: str | None = None
    patient_voice: str | None = None
    """What the patient said about their progress, in their words."""
    rho: float = 0.3


class ReviewRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    care_plan_id: uuid.UUID
    reviewed_on: dt.date
    entries: list[ReviewEntry]
    participants: list[ReviewParticipant]
    note: str | None
    patient_voice: str | None
    rho: float
    t_score: float | None
    recorded_by: uuid.UUID | None
    created_at: dt.datetime | None

    @classmethod
    def of(cls, review: GoalReview) -> ReviewRead:
        return msgspec.convert(review, cls, from_attributes=True)


class CarePlanRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    patient_id: uuid.UUID
    title: str
    status: PlanStatus
    period_start: dt.date | None
    period_end: dt.date | None
    what_matters: str | None
    health_concerns: list[str]
    notes: list[Note]
    team: list[TeamMemberRead]
    goals: list[GoalRead]
    activities: list[ActivityRead]
    latest_reviews: list[ReviewRead]
    opioid_safety: OpioidSafety | None
    """For plans with medications: the same opioid picture for every discipline."""
    created_by: uuid.UUID | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    version: int

    @classmethod
    def of(cls, plan: CarePlan, opioid_safety: OpioidSafety | None = None) -> CarePlanRead:
        return cls(
            id=plan.id,
            patient_id=plan.patient_id,
            title=plan.title,
            status=plan.status,
            period_start=plan.period_start,
            period_end=plan.period_end,
            what_matters=plan.what_matters,
            health_concerns=plan.health_concerns,
            notes=plan.notes,
            team=[member_read(m) for m in plan.team],
            goals=[GoalRead.of(g, plan) for g in plan.goals],
            activities=[activity_read(a) for a in plan.activities],
            latest_reviews=[ReviewRead.of(r) for r in plan.reviews],
            opioid_safety=opioid_safety,
            created_by=plan.created_by,
            created_at=plan.created_at,
            updated_at=plan.updated_at,
            version=plan.version,
        )


def member_read(member: TeamMember) -> TeamMemberRead:
    return TeamMemberRead(
        id=member.id,
        staff_id=member.staff_id,
        name=member.name,
        discipline=member.discipline,
        lead=member.lead,
        version=member.version,
        etag=f'W/"{member.version}"',
    )


def activity_read(activity: msgspec.Struct) -> ActivityRead:
    data = msgspec.structs.asdict(activity)
    return ActivityRead(**data, etag=f'W/"{data["version"]}"')


# -- tasks ------------------------------------------------------------------------------


class TaskCreate(Input):
    title: str
    kind: TaskKind = TaskKind.GENERAL
    priority: TaskPriority = TaskPriority.ROUTINE
    description: str | None = None
    care_plan_id: uuid.UUID | None = None
    goal_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    due_on: dt.date | None = None


class TaskUpdate(TaskPatch, kw_only=True, forbid_unknown_fields=True):
    pass
