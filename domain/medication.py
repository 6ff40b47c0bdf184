"""What the patient takes, as the team and the EHR record it (FHIR MedicationStatement)."""

from __future__ import annotations

import datetime as dt
import enum
import math
import uuid
from typing import TYPE_CHECKING

import msgspec

from domain import patching
from domain.errors import Invalid, NotFound, NotYourDiscipline, StaleVersion
from domain.patient import require_text

if TYPE_CHECKING:
    from domain.actor import Actor
    from domain.care_plan import CarePlan


class StatementStatus(enum.StrEnum):
    """FHIR R4 MedicationStatement.status (http://hl7.org/fhir/R4/valueset-medication-statement-status.html)."""

    ACTIVE = "active"
    COMPLETED = "completed"
    ENTERED_IN_ERROR = "entered-in-error"
    INTENDED = "intended"
    STOPPED = "stopped"
    ON_HOLD = "on-hold"
    UNKNOWN = "unknown"
    NOT_TAKEN = "not-taken"


class ReportedBy(enum.StrEnum):
    """Who told us: FHIR MedicationStatement.informationSource, by kind."""

    PATIENT = "patient"
    CLINICIAN = "clinician"
    EHR = "ehr"


class Schedule(msgspec.Struct, kw_only=True):
    """`count` administrations every `period` `unit`s (FHIR Timing.repeat). As needed
    (PRN) doses carry the most the patient may take in a day, which is what MME counts."""

    count: int = 1
    period: float = 1
    unit: str = "d"
    as_needed: bool = False
    max_per_day: float | None = None
    """Most units (tablets, mL, patches...) a day when taken as needed."""

    def administrations_per_day(self) -> float:
        hours = {"h": 1.0, "d": 24.0, "wk": 168.0, "mo": 730.0}[self.unit]
        return self.count * 24.0 / (self.period * hours)

    def validate(self) -> None:
        if not 1 <= self.count <= 48:
            raise Invalid("schedule.count", "between 1 and 48")
        if not (math.isfinite(self.period) and 0 < self.period <= 365):
            raise Invalid("schedule.period", "greater than 0 and at most 365")
        if self.unit not in ("h", "d", "wk", "mo"):
            raise Invalid("schedule.unit", "one of h, d, wk, mo")
        if self.max_per_day is not None and not (
                math.isfinite(self.max_per_day) and 0 < self.max_per_day <= 1000):
            raise Invalid("schedule.max_per_day", "greater than 0 and at most 1000")


class MedicationStatement(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    care_plan_id: uuid.UUID
    patient_id: uuid.UUID
    rxnorm_code: str
    """RxNorm RXCUI of the product (SCD or SBD), e.g. an oxycodone 5 mg oral tablet."""
    display: str
    dose_quantity: float
    """How much per administration, in `dose_unit`s: 1 tablet, 5 mL, 1 patch."""
    dose_unit: str
    route: str = "oral"
    schedule: Schedule = msgspec.field(default_factory=Schedule)
    status: StatementStatus = StatementStatus.ACTIVE
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    reported_by: ReportedBy = ReportedBy.CLINICIAN
    source: str | None = None
    """The clinician's staff id, or the EHR's system and resource, that reported it."""
    note: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: int = 1

    def validate(self) -> None:
        if not self.rxnorm_code.isdigit() or len(self.rxnorm_code) > 10:
            raise Invalid("rxnorm_code", "an RxNorm RXCUI: digits only")
        require_text("display", self.display, max_length=500)
        if not (math.isfinite(self.dose_quantity) and 0 < self.dose_quantity <= 1000):
            raise Invalid("dose_quantity", "greater than 0 and at most 1000")
        require_text("dose_unit", self.dose_unit, max_length=40)
        require_text("route", self.route, max_length=40)
        self.schedule.validate()
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise Invalid("period_end", "the period ends before it starts")

    @property
    def is_active(self) -> bool:
        return self.status is StatementStatus.ACTIVE


class MedicationPatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    rxnorm_code: str | msgspec.UnsetType = msgspec.UNSET
    display: str | msgspec.UnsetType = msgspec.UNSET
    dose_quantity: float | msgspec.UnsetType = msgspec.UNSET
    dose_unit: str | msgspec.UnsetType = msgspec.UNSET
    route: str | msgspec.UnsetType = msgspec.UNSET
    schedule: Schedule | msgspec.UnsetType = msgspec.UNSET
    status: StatementStatus | msgspec.UnsetType = msgspec.UNSET
    period_start: dt.date | msgspec.UnsetType | None = msgspec.UNSET
    period_end: dt.date | msgspec.UnsetType | None = msgspec.UNSET
    note: str | msgspec.UnsetType | None = msgspec.UNSET


PRESCRIBING_DISCIPLINES = frozenset({"physician"})
"""Who on the team records and changes medications; every discipline on the team reads
them (opioid safety is visible to the whole team)."""


def require_prescriber(plan: CarePlan, actor: Actor) -> None:
    plan.require_visible(actor)
    if actor.manages_plans or actor.discipline in PRESCRIBING_DISCIPLINES:
        return
    raise NotYourDiscipline("medications are recorded by the team's physician or a coordinator")


def find(plan: CarePlan, statement_id: uuid.UUID) -> MedicationStatement:
    found = next((m for m in plan.medications if m.id == statement_id), None)
    if found is None:
        raise NotFound("medication statement")
    return found


def record(plan: CarePlan, actor: Actor, statement: MedicationStatement,
           now: dt.datetime) -> None:
    require_prescriber(plan, actor)
    plan.require_open("record a medication")
    statement.validate()
    statement.created_at = statement.updated_at = now
    plan.medications.append(statement)


def update(plan: CarePlan, actor: Actor, statement_id: uuid.UUID, patch: MedicationPatch,
           expected: int, now: dt.datetime) -> MedicationStatement:
    statement = find(plan, statement_id)
    require_prescriber(plan, actor)
    plan.require_open("change a medication")
    if statement.version != expected:
        raise StaleVersion("medication statement", expected, statement.version)
    patching.apply(statement, patch)
    statement.validate()
    statement.version += 1
    statement.updated_at = now
    return statement
