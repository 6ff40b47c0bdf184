"""Code systems the domain speaks.

Plan, goal and task statuses are the FHIR R4 value sets, so that the FHIR boundary maps
them one to one: RequestStatus (http://hl7.org/fhir/R4/valueset-request-status.html),
GoalLifecycleStatus (http://hl7.org/fhir/R4/valueset-goal-status.html), Goal achievement
(http://hl7.org/fhir/R4/valueset-goal-achievement.html), CarePlanActivityStatus
(http://hl7.org/fhir/R4/valueset-care-plan-activity-status.html) and TaskStatus
(http://hl7.org/fhir/R4/valueset-task-status.html).
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    CLINICIAN = "clinician"


STANDARD_DISCIPLINES: dict[str, str] = {
    "physician": "Physician",
    "physical_therapist": "Physical therapist",
    "psychologist": "Psychologist",
    "acupuncturist": "Acupuncturist",
}
"""Disciplines every clinic has; clinics add their own beside them."""

NON_CLINICAL_DISCIPLINE = "administration"
"""Discipline of coordinators and admins who do not practise a clinical discipline."""


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ON_HOLD = "on-hold"
    REVOKED = "revoked"
    COMPLETED = "completed"
    ENTERED_IN_ERROR = "entered-in-error"


class GoalLifecycle(enum.StrEnum):
    PROPOSED = "proposed"
    PLANNED = "planned"
    ACCEPTED = "accepted"
    ACTIVE = "active"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered-in-error"
    REJECTED = "rejected"


class GoalAchievement(enum.StrEnum):
    IN_PROGRESS = "in-progress"
    IMPROVING = "improving"
    WORSENING = "worsening"
    NO_CHANGE = "no-change"
    ACHIEVED = "achieved"
    SUSTAINING = "sustaining"
    NOT_ACHIEVED = "not-achieved"
    NO_PROGRESS = "no-progress"
    NOT_ATTAINABLE = "not-attainable"


class ActivityStatus(enum.StrEnum):
    NOT_STARTED = "not-started"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    STOPPED = "stopped"
    UNKNOWN = "unknown"
    ENTERED_IN_ERROR = "entered-in-error"


class ActivityKind(enum.StrEnum):
    """What an activity is, in the terms of FHIR's CarePlanActivityKind plus the
    integrative-pain practice the team shares."""

    EXERCISE = "exercise"
    EDUCATION = "education"
    THERAPY_SESSION = "therapy-session"
    PROCEDURE = "procedure"
    MEDICATION_REVIEW = "medication-review"
    SELF_MANAGEMENT = "self-management"
    REFERRAL = "referral"
    OTHER = "other"


class AcceptanceStatus(enum.StrEnum):
    """Goal acceptance as in the FHIR goal-acceptance extension's status
    (http://hl7.org/fhir/ValueSet/goal-acceptance-status), with `pending` for 'has not
    yet said'."""

    AGREE = "agree"
    DISAGREE = "disagree"
    PENDING = "pending"


class TaskStatus(enum.StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class TaskKind(enum.StrEnum):
    GENERAL = "general"
    REVIEW_DUE = "review-due"
    ALLIANCE_DROP = "alliance-drop"
    REVISIT_GOALS = "revisit-goals"
    TAPER_GUARDRAIL = "taper-guardrail"


class TaskPriority(enum.StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class ContactSystem(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"


PATIENT_PARTICIPANT = "patient"
"""The participant code that stands for the patient's own voice on a goal or review."""
