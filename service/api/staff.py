from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post

from domain.actor import Actor
from domain.staff import Discipline, Staff
from service.api.deps import expected_version, idempotent, page_limit, with_etag
from service.api.schemas import (
    DisciplineCreate,
    StaffCreate,
    StaffRead,
    StaffUpdate,
    TokenCreate,
    TokenIssued,
    TokenRead,
)
from service.db import queries
from service.db.queries import Page
from service.db.uow import UnitOfWork
from service.usecases import staff as staff_cases


def _read(staff: Staff) -> StaffRead:
    return msgspec.convert(staff, StaffRead, from_attributes=True)


class StaffController(Controller):
    path = "/staff"
    tags = ["staff"]

    @post("/", status_code=201)
    async def create(
        self, request: Request[Any, Any, Any], data: StaffCreate, uow: UnitOfWork, actor: Actor
    ) -> Response[StaffRead]:
        async def run() -> Response[Any]:
            staff = Staff(
                id=uuid.uuid4(),
                clinic_id=actor.clinic_id,
                name=data.name,
                discipline=data.discipline,
                role=data.role,
                email=data.email,
            )
            await staff_cases.create(uow, actor, staff)
            return with_etag(
                _read(staff), staff.version, 201, {"Location": f"/api/v1/staff/{staff.id}"}
            )

        return await idempotent(request, uow, actor, run)

    @get("/")
    async def find(
        self,
        uow: UnitOfWork,
        actor: Actor,
        limit: int | None = None,
        cursor: str | None = None,
        discipline: str | None = None,
        active: bool | None = None,
    ) -> Page[StaffRead]:
        page = await queries.staff(
            uow.conn,
            actor.clinic_id,
            limit=page_limit(limit),
            cursor=cursor,
            discipline=discipline,
            active=active,
        )
        return Page(items=[_read(s) for s in page.items], next_cursor=page.next_cursor)

    @get("/{staff_id:uuid}")
    async def read(self, staff_id: uuid.UUID, uow: UnitOfWork, actor: Actor) -> Response[StaffRead]:
        staff = await uow.staff.get(actor.clinic_id, staff_id)
        return with_etag(_read(staff), staff.version)

    @patch("/{staff_id:uuid}")
    async def update(
        self,
        request: Request[Any, Any, Any],
        staff_id: uuid.UUID,
        data: StaffUpdate,
        uow: UnitOfWork,
        actor: Actor,
    ) -> Response[StaffRead]:
        staff = await staff_cases.update(uow, actor, staff_id, data, expected_version(request))
        return with_etag(_read(staff), staff.version)

    @post("/{staff_id:uuid}/tokens", status_code=201)
    async def issue_token(
        self,
        request: Request[Any, Any, Any],
        staff_id: uuid.UUID,
        data: TokenCreate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[TokenIssued]:
        # Never replayed from the idempotency store: that would keep the secret at rest.
        record, secret = await staff_cases.issue_token_as(
            uow, actor, staff_id, data.label, data.expires_at, now
        )
        body = TokenIssued(id=record.id, staff_id=record.staff_id, role=record.role,
                           label=record.label, created_at=now, expires_at=record.expires_at,
                           revoked_at=None, token=secret)
        return Response(body, status_code=201, headers={"Cache-Control": "no-store"})

    @get("/{staff_id:uuid}/tokens")
    async def list_tokens(
        self, staff_id: uuid.UUID, uow: UnitOfWork, actor: Actor
    ) -> list[TokenRead]:
        await uow.staff.get(actor.clinic_id, staff_id)
        actor.require_admin()
        records = await uow.tokens.list_for(actor.clinic_id, staff_id)
        return [msgspec.convert(r, TokenRead, from_attributes=True) for r in records]

    @delete("/{staff_id:uuid}/tokens/{token_id:uuid}", status_code=200)
    async def revoke_token(
        self, staff_id: uuid.UUID, token_id: uuid.UUID, uow: UnitOfWork, actor: Actor
    ) -> TokenRead:
        await uow.staff.get(actor.clinic_id, staff_id)
        actor.require_admin()
        record = await uow.tokens.revoke(actor.clinic_id, staff_id, token_id)
        return msgspec.convert(record, TokenRead, from_attributes=True)


class DisciplineController(Controller):
    path = "/disciplines"
    tags = ["staff"]

    @get("/")
    async def find(self, uow: UnitOfWork, actor: Actor) -> list[Discipline]:
        return await uow.clinics.disciplines(actor.clinic_id)

    @post("/", status_code=201)
    async def create(
        self, request: Request[Any, Any, Any], data: DisciplineCreate, uow: UnitOfWork, actor: Actor
    ) -> Response[Discipline]:
        async def run() -> Response[Any]:
            discipline = await staff_cases.add_discipline(
                uow, actor, Discipline(code=data.code, display=data.display)
            )
            return Response(discipline, status_code=201)

        return await idempotent(request, uow, actor, run)
