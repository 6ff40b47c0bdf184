"""`ehr-connections`: where a clinic's EHR is and how Concord signs in to it (SMART
Backend Services), and how the sync with it is going.

Admins register, change and deactivate connections; coordinators and admins read them.
The private key goes in and never comes out: a read shows its public half, which is what
the EHR registers for Concord's client."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post

from domain.actor import Actor
from fhir.client import public_jwk
from service.api.deps import expected_version, idempotent, with_etag
from service.db.queries import Page
from service.db.repos.ehr import EhrConnection, Skip
from service.db.uow import UnitOfWork
from service.usecases import ehr
from service.usecases.ehr import DEFAULT_SCOPES, ConnectionPatch


class EhrConnectionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    base_url: str
    """The EHR's FHIR R4 base, e.g. https://ehr.example/fhir/R4."""
    identifier_system: str
    """The identifier system (e.g. the EHR's MRN system) both sides know a patient by."""
    token_url: str | None = None
    client_id: str | None = None
    private_key: dict[str, Any] | None = None
    """A private JWK: RSA (2048 bits or more, RS384) or EC P-384 (ES384), with a `kid`."""
    scopes: str = DEFAULT_SCOPES


class EhrConnectionUpdate(ConnectionPatch, kw_only=True, forbid_unknown_fields=True):
    pass


class SkippedResource(msgspec.Struct, kw_only=True):
    source: str
    version_id: str | None
    patient_id: uuid.UUID | None
    reason: str
    seen_at: dt.datetime


class EhrConnectionRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    base_url: str
    token_url: str | None
    client_id: str | None
    public_key: dict[str, Any] | None
    scopes: str
    identifier_system: str
    active: bool
    medications_watermark: dt.datetime | None
    """The latest meta.lastUpdated read from the EHR."""
    push_cursor_seq: int
    last_polled_at: dt.datetime | None
    last_pushed_at: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime | None
    version: int
    skipped: list[SkippedResource] | None = None
    """EHR resources the pull did not record, and why (the latest 100; on reads of one)."""


def _read(connection: EhrConnection, skips: list[Skip] | None = None) -> EhrConnectionRead:
    return EhrConnectionRead(
        id=connection.id, name=connection.name, base_url=connection.base_url,
        token_url=connection.token_url, client_id=connection.client_id,
        public_key=public_jwk(connection.private_key) if connection.private_key else None,
        scopes=connection.scopes, identifier_system=connection.identifier_system,
        active=connection.active, medications_watermark=connection.medications_watermark,
        push_cursor_seq=connection.push_cursor_seq, last_polled_at=connection.last_polled_at,
        last_pushed_at=connection.last_pushed_at, last_error=connection.last_error,
        created_at=connection.created_at, version=connection.version,
        skipped=None if skips is None else [
            msgspec.convert(s, SkippedResource, from_attributes=True) for s in skips])


class EhrConnectionController(Controller):
    path = "/ehr-connections"
    tags = ["ehr"]

    @post("/", status_code=201)
    async def create(self, request: Request[Any, Any, Any], data: EhrConnectionCreate,
                     uow: UnitOfWork, actor: Actor) -> Response[EhrConnectionRead]:
        """Register a connection (admins). The sync starts with the next scheduled run."""
        async def run() -> Response[Any]:
            connection = EhrConnection(
                id=uuid.uuid4(), clinic_id=actor.clinic_id, name=data.name,
                base_url=data.base_url, token_url=data.token_url, client_id=data.client_id,
                private_key=data.private_key, scopes=data.scopes,
                identifier_system=data.identifier_system)
            stored = await ehr.register(uow, actor, connection)
            return with_etag(_read(stored, []), stored.version, 201, {
                "Location": f"/api/v1/ehr-connections/{stored.id}"})
        return await idempotent(request, uow, actor, run)

    @get("/")
    async def find(self, uow: UnitOfWork, actor: Actor) -> Page[EhrConnectionRead]:
        return Page(items=[_read(c) for c in await ehr.find(uow, actor)])

    @get("/{connection_id:uuid}")
    async def read(self, connection_id: uuid.UUID, uow: UnitOfWork,
                   actor: Actor) -> Response[EhrConnectionRead]:
        connection, skips = await ehr.get(uow, actor, connection_id)
        return with_etag(_read(connection, skips), connection.version)

    @patch("/{connection_id:uuid}")
    async def update(self, request: Request[Any, Any, Any], connection_id: uuid.UUID,
                     data: EhrConnectionUpdate, uow: UnitOfWork,
                     actor: Actor) -> Response[EhrConnectionRead]:
        """Rename, change scopes, rotate the key, or deactivate (`"active": false`: the
        sync stops; links and watermarks are kept for a reactivation). If-Match needed."""
        connection = await ehr.update(uow, actor, connection_id, data,
                                      expected_version(request))
        return with_etag(_read(connection), connection.version)
