from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post

from domain.actor import Actor
from domain.check_in import CheckIn
from service.api.deps import idempotent, with_etag
from service.db.uow import UnitOfWork
from service.usecases import check_ins


class CheckInCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    care_plan_id: uuid.UUID
    due_at: dt.datetime
    """ISO 8601 with an offset; now or later."""
    send_now: bool = False
    """The patient is in the waiting room: skip the quiet-hours wait and the daily cap
    (never consent)."""
    clinician_id: uuid.UUID | None = None
    """The relationship to ask about; by default the team in turn."""


class CheckInController(Controller):
    path = "/check-ins"
    tags = ["check-ins"]

    @post("/", status_code=201)
    async def create(self, request: Request[Any, Any, Any], data: CheckInCreate,
                     uow: UnitOfWork, actor: Actor, now: dt.datetime) -> Response[CheckIn]:
        async def run() -> Response[Any]:
            check_in, created = await check_ins.request(
                uow, actor, data.care_plan_id, data.due_at, data.send_now, data.clinician_id,
                now)
            return with_etag(check_in, check_in.version, 201 if created else 200,
                             {"Location": f"/api/v1/check-ins/{check_in.id}"})
        return await idempotent(request, uow, actor, run)

    @get("/{check_in_id:uuid}")
    async def read(self, check_in_id: uuid.UUID, uow: UnitOfWork,
                   actor: Actor) -> Response[CheckIn]:
        check_in = await check_ins.get(uow, actor, check_in_id)
        return with_etag(check_in, check_in.version)
