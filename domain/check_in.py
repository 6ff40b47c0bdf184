"""Alliance check-ins: when one is due, whom it asks about, and what happens to it.

A check-in asks the patient how the work with one clinician is going (the alliance is with
a person, not a clinic) together with the PEG pain scale. Its occurrence key says what it
is (plan and local due date), so scheduling it twice keeps one."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import msgspec

from domain import schedule
from domain.actor import Actor
from domain.care_plan import CarePlan
from domain.errors import IllegalTransition, Invalid
from domain.patient import Patient
from domain.vocab import PlanStatus

PEG = "https://concord.invalid/fhir/Questionnaire/peg"
ALLIANCE_PULSE = "https://concord.invalid/fhir/Questionnaire/concord-alliance-pulse"
DEFAULT_QUESTIONNAIRES = (PEG, ALLIANCE_PULSE)
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the past a `due_at` may be and still count as "now"."""


class CheckInStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    """Its message is in the outbox."""
    ANSWERED = "answered"
    WITHHELD = "withheld"
    """Not sent: no consent, no way to reach the patient."""
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class CheckIn(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    care_plan_id: uuid.UUID
    patient_id: uuid.UUID
    due_at: dt.datetime
    deliver_at: dt.datetime
    occurrence_key: str
    clinician_id: uuid.UUID | None = None
    send_now: bool = False
    status: CheckInStatus = CheckInStatus.SCHEDULED
    status_reason: str | None = None
    questionnaires: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_QUESTIONNAIRES))
    message_id: uuid.UUID | None = None
    answered_at: dt.datetime | None = None
    requested_by: uuid.UUID | None = None
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


def clinician_in_turn(plan: CarePlan, previous_check_ins: int) -> uuid.UUID | None:
    """Check-ins go round the team in the order members joined, one relationship each."""
    clinicians = [m for m in plan.team if m.discipline != "administration"]
    if not clinicians:
        return None
    return clinicians[previous_check_ins % len(clinicians)].staff_id


def request(plan: CarePlan, patient: Patient, actor: Actor, *, due_at: dt.datetime,
            send_now: bool, clinician_id: uuid.UUID | None, previous_check_ins: int,
            now: dt.datetime) -> CheckIn:
    """A check-in asked for by staff: due now or later; `send_now` (the patient is in the
    waiting room) skips the quiet-hours wait and the daily cap, never consent."""
    plan.require_visible(actor)
    if plan.status is not PlanStatus.ACTIVE:
        raise IllegalTransition(f"check-ins need an active plan; this one is {plan.status.value}")
    if due_at.tzinfo is None:
        raise Invalid("due_at", "an ISO 8601 date-time with its offset, e.g. 2026-11-21T15:00:00Z")
    if due_at < now - CLOCK_SKEW:
        raise Invalid("due_at", "now or later")
    if clinician_id is not None and plan.member(clinician_id) is None:
        raise Invalid("clinician_id", "not on this plan's care team")
    due = due_at.astimezone(dt.UTC)
    local_day = schedule.local_date(due, patient.time_zone)
    return CheckIn(
        id=uuid.uuid4(), clinic_id=plan.clinic_id, care_plan_id=plan.id,
        patient_id=plan.patient_id, due_at=due,
        deliver_at=schedule.deliver_at(due, patient.time_zone, patient.quiet_hours,
                                       send_now=send_now),
        occurrence_key=schedule.check_in_occurrence(plan.id, local_day),
        clinician_id=clinician_id or clinician_in_turn(plan, previous_check_ins),
        send_now=send_now, requested_by=actor.staff_id, created_at=now, updated_at=now)
