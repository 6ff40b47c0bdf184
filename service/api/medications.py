"""`care-plans/{id}/medications`: the medication list the whole team sees."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post

from domain.actor import Actor
from domain.medication import (
    MedicationPatch,
    MedicationStatement,
    ReportedBy,
    Schedule,
    StatementStatus,
)
from service.api.deps import expected_version, idempotent, with_etag
from service.api.opioid_views import MedicationRead, medication_read
from service.db.uow import UnitOfWork
from service.usecases import care_plans, medications

PLAN = "/care-plans/{plan_id:uuid}"


class MedicationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    rxnorm_code: str
    display: str
    dose_quantity: float
    dose_unit: str
    route: str = "oral"
    schedule: Schedule = msgspec.field(default_factory=Schedule)
    status: StatementStatus = StatementStatus.ACTIVE
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    reported_by: ReportedBy = ReportedBy.CLINICIAN
    source: str | None = None
    note: str | None = None


class MedicationUpdate(MedicationPatch, kw_only=True, forbid_unknown_fields=True):
    pass


class MedicationController(Controller):
    path = PLAN + "/medications"
    tags = ["medications"]

    @get("/")
    async def find(self, plan_id: uuid.UUID, uow: UnitOfWork,
                   actor: Actor) -> list[MedicationRead]:
        plan = await care_plans.get(uow, actor, plan_id)
        return [medication_read(m) for m in plan.medications]

    @post("/", status_code=201)
    async def create(self, request: Request[Any, Any, Any], plan_id: uuid.UUID,
                     data: MedicationCreate, uow: UnitOfWork, actor: Actor,
                     now: dt.datetime) -> Response[MedicationRead]:
        async def run() -> Response[Any]:
            source = data.source
            if source is None and data.reported_by is ReportedBy.CLINICIAN:
                source = str(actor.staff_id)
            statement = MedicationStatement(
                id=uuid.uuid4(), care_plan_id=plan_id, patient_id=uuid.UUID(int=0),
                rxnorm_code=data.rxnorm_code, display=data.display,
                dose_quantity=data.dose_quantity, dose_unit=data.dose_unit, route=data.route,
                schedule=data.schedule, status=data.status, period_start=data.period_start,
                period_end=data.period_end, reported_by=data.reported_by, source=source,
                note=data.note)
            await medications.record(uow, actor, plan_id, statement, now)
            return with_etag(medication_read(statement), statement.version, 201, {
                "Location": f"/api/v1/care-plans/{plan_id}/medications/{statement.id}"})
        return await idempotent(request, uow, actor, run)

    @get("/{medication_id:uuid}")
    async def read(self, plan_id: uuid.UUID, medication_id: uuid.UUID, uow: UnitOfWork,
                   actor: Actor) -> Response[MedicationRead]:
        statement = await medications.get(uow, actor, plan_id, medication_id)
        return with_etag(medication_read(statement), statement.version)

    @patch("/{medication_id:uuid}")
    async def update(self, request: Request[Any, Any, Any], plan_id: uuid.UUID,
                     medication_id: uuid.UUID, data: MedicationUpdate, uow: UnitOfWork,
                     actor: Actor, now: dt.datetime) -> Response[MedicationRead]:
        statement = await medications.update(uow, actor, plan_id, medication_id, data,
                                             expected_version(request), now)
        return with_etag(medication_read(statement), statement.version)
