from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import Parameter

from domain.actor import Actor
from domain.care_plan import CarePlan
from domain.errors import Invalid
from domain.vocab import PlanStatus
from service.api.deps import expected_version, idempotent, page_limit, with_etag
from service.api.schemas import (
    CarePlanCreate,
    CarePlanRead,
    CarePlanUpdate,
    NoteCreate,
    StatusChange,
)
from service.db import queries
from service.db.queries import Page, PlanSummary
from service.db.uow import UnitOfWork
from service.usecases import care_plans, opioids


class CarePlanController(Controller):
    path = "/care-plans"
    tags = ["care plans"]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: CarePlanCreate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[CarePlanRead]:
        async def run() -> Response[Any]:
            plan = CarePlan(
                id=uuid.uuid4(),
                clinic_id=actor.clinic_id,
                patient_id=data.patient_id,
                title=data.title,
                what_matters=data.what_matters,
                health_concerns=data.health_concerns,
                period_start=data.period_start,
                period_end=data.period_end,
            )
            await care_plans.create(uow, actor, plan, now)
            return with_etag(
                CarePlanRead.of(plan),
                plan.version,
                201,
                {"Location": f"/api/v1/care-plans/{plan.id}"},
            )

        return await idempotent(request, uow, actor, run)

    @get("/")
    async def find(
        self,
        uow: UnitOfWork,
        actor: Actor,
        limit: int | None = None,
        cursor: str | None = None,
        patient_id: uuid.UUID | None = None,
        status: PlanStatus | None = None,
        member: str | None = Parameter(default=None, description="`me`: plans whose team I am on"),
        review_due_before: dt.date | None = None,
    ) -> Page[PlanSummary]:
        if member not in (None, "me"):
            raise Invalid("member", "only `me` is supported")
        page = await queries.care_plans(
            uow.conn,
            actor,
            limit=page_limit(limit),
            cursor=cursor,
            patient_id=patient_id,
            status=status,
            member_me=member == "me",
            review_due_before=review_due_before,
        )
        for p in page.items:
            uow.audit(actor, "search", "CarePlan", p.id, p.patient_id)
        return page

    @get("/{plan_id:uuid}")
    async def read(
        self, plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor, now: dt.datetime
    ) -> Response[CarePlanRead]:
        plan = await care_plans.get(uow, actor, plan_id)
        safety = opioids.safety_of(plan, now.date()) if plan.medications else None
        return with_etag(CarePlanRead.of(plan, safety), plan.version)

    @patch("/{plan_id:uuid}")
    async def update(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        data: CarePlanUpdate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[CarePlanRead]:
        plan = await care_plans.update(uow, actor, plan_id, data, expected_version(request), now)
        return with_etag(CarePlanRead.of(plan), plan.version)

    @post("/{plan_id:uuid}/status", status_code=200)
    async def transition(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        data: StatusChange,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[CarePlanRead]:
        plan = await care_plans.transition(
            uow, actor, plan_id, data.status, expected_version(request), now
        )
        return with_etag(CarePlanRead.of(plan), plan.version)

    @post("/{plan_id:uuid}/notes", status_code=201)
    async def add_note(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        data: NoteCreate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[CarePlanRead]:
        async def run() -> Response[Any]:
            plan = await care_plans.add_note(uow, actor, plan_id, data.text, now)
            return with_etag(CarePlanRead.of(plan), plan.version, 201)

        return await idempotent(request, uow, actor, run)
