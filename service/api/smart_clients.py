"""/api/v1/smart-clients: admins register the systems (EHRs) that may use the FHIR API
with SMART Backend Services, see them, and deactivate them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State

from domain.actor import Actor
from service.api.deps import idempotent, with_etag
from service.api.schemas import Input
from service.db.uow import UnitOfWork
from service.smart import registration
from service.smart.clients import SmartClient, SmartClientRepository
from service.smart.token import token_url


class SmartClientCreate(Input):
    name: str
    """The system, e.g. "Riverside EHR"; it acts as the staff member "System: <name>"."""
    scopes: str
    """The scopes it may be granted, space-separated: system/CarePlan.rs, system/*.read,
    system/*.cruds..."""
    jwks: dict[str, Any] | None = None
    """Its public keys as a JSON Web Key Set (RSA for RS384, EC P-384 for ES384), or..."""
    jwks_url: str | None = None
    """...an https URL that serves them (fetched when it asks for a token)."""


class SmartClientRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    client_id: str
    name: str
    staff_id: uuid.UUID
    """The staff row the client acts as, so the audit trail names it."""
    scopes: str
    jwks: dict[str, Any] | None
    jwks_url: str | None
    active: bool
    created_at: dt.datetime | None
    token_endpoint: str


def _read(client: SmartClient, state: State) -> SmartClientRead:
    return SmartClientRead(
        id=client.id,
        client_id=client.client_id,
        name=client.name,
        staff_id=client.staff_id,
        scopes=client.scopes,
        jwks=client.jwks,
        jwks_url=client.jwks_url,
        active=client.active,
        created_at=client.created_at,
        token_endpoint=token_url(state.settings.public_base_url),
    )


class SmartClientController(Controller):
    path = "/smart-clients"
    tags = ["smart"]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: SmartClientCreate,
        state: State,
        uow: UnitOfWork,
        actor: Actor,
    ) -> Response[SmartClientRead]:
        async def run() -> Response[Any]:
            created = await registration.register(
                uow,
                actor,
                name=data.name,
                scopes=data.scopes,
                jwks=data.jwks,
                jwks_url=data.jwks_url,
            )
            client = await SmartClientRepository(uow.conn).get(actor.clinic_id, created.id)
            return with_etag(
                _read(client, state),
                client.version,
                201,
                {"Location": f"/api/v1/smart-clients/{client.id}"},
            )

        return await idempotent(request, uow, actor, run)

    @get("/")
    async def find(self, state: State, uow: UnitOfWork, actor: Actor) -> list[SmartClientRead]:
        actor.require_admin()
        clients = await SmartClientRepository(uow.conn).list_for(actor.clinic_id)
        return [_read(client, state) for client in clients]

    @get("/{smart_client_id:uuid}")
    async def read(
        self, smart_client_id: uuid.UUID, state: State, uow: UnitOfWork, actor: Actor
    ) -> Response[SmartClientRead]:
        client = await SmartClientRepository(uow.conn).get(actor.clinic_id, smart_client_id)
        actor.require_admin()
        return with_etag(_read(client, state), client.version)

    @delete("/{smart_client_id:uuid}", status_code=200)
    async def deactivate(
        self, smart_client_id: uuid.UUID, state: State, uow: UnitOfWork, actor: Actor
    ) -> Response[SmartClientRead]:
        """Deactivate: no more tokens, and those it holds stop working. The record stays."""
        client = await registration.deactivate(uow, actor, smart_client_id)
        return with_etag(_read(client, state), client.version)
