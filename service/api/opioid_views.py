"""How medications and opioid safety read over the API."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain.medication import MedicationStatement, ReportedBy, Schedule, StatementStatus


class MedicationRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    care_plan_id: uuid.UUID
    patient_id: uuid.UUID
    rxnorm_code: str
    display: str
    dose_quantity: float
    dose_unit: str
    route: str
    schedule: Schedule
    status: StatementStatus
    period_start: dt.date | None
    period_end: dt.date | None
    reported_by: ReportedBy
    source: str | None
    note: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    version: int
    etag: str


def medication_read(statement: MedicationStatement) -> MedicationRead:
    data = msgspec.structs.asdict(statement)
    return MedicationRead(**data, etag=f'W/"{statement.version}"')
