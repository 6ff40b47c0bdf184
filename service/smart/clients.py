"""The registry of SMART clients and the ledger of assertion ids already used."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from domain.errors import NotFound
from service.db import tables as t
from service.db.repos.base import Repository, from_row, to_row


class SmartClient(msgspec.Struct, kw_only=True):
    """A system registered by a clinic's admin. It acts as the staff row `staff_id`
    (a coordinator named "System: <name>"), so the audit trail names it."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    client_id: str
    name: str
    staff_id: uuid.UUID
    scopes: str
    """The scopes it may be granted, space-separated `system/` scopes."""
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None
    active: bool = True
    version: int = 1
    created_at: dt.datetime | None = None


class SmartClientRepository(Repository):
    async def add(self, client: SmartClient) -> None:
        await self.conn.execute(t.smart_clients.insert().values(**to_row(client)))

    async def get(self, clinic_id: uuid.UUID, client_row_id: uuid.UUID) -> SmartClient:
        row = (
            (
                await self.conn.execute(
                    sa.select(t.smart_clients).where(
                        t.smart_clients.c.id == client_row_id,
                        t.smart_clients.c.clinic_id == clinic_id,
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("SMART client")
        return from_row(row, SmartClient)

    async def by_client_id(self, client_id: str) -> SmartClient | None:
        row = (
            (
                await self.conn.execute(
                    sa.select(t.smart_clients).where(t.smart_clients.c.client_id == client_id)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else from_row(row, SmartClient)

    async def list_for(self, clinic_id: uuid.UUID) -> list[SmartClient]:
        rows = await self.conn.execute(
            sa.select(t.smart_clients)
            .where(t.smart_clients.c.clinic_id == clinic_id)
            .order_by(t.smart_clients.c.created_at, t.smart_clients.c.id)
        )
        return [from_row(r, SmartClient) for r in rows.mappings()]

    async def deactivate(self, clinic_id: uuid.UUID, client_row_id: uuid.UUID) -> SmartClient:
        """Idempotent: a client already inactive is returned as it is."""
        row = (
            (
                await self.conn.execute(
                    t.smart_clients.update()
                    .where(
                        t.smart_clients.c.id == client_row_id,
                        t.smart_clients.c.clinic_id == clinic_id,
                        t.smart_clients.c.active,
                    )
                    .values(active=False, version=t.smart_clients.c.version + 1)
                    .returning(*t.smart_clients.c)
                )
            )
            .mappings()
            .first()
        )
        return await self.get(clinic_id, client_row_id) if row is None else from_row(
            row, SmartClient
        )


class AssertionLedger(Repository):
    """Each assertion id (`jti`) is good for one token (RFC 7523 §3, SMART backend services).
    Ids are kept until their assertion expires; after that the assertion itself is refused."""

    async def claim(self, client_id: str, jti: str, expires_at: dt.datetime) -> bool:
        """False when the id was used before. A concurrent claim of the same id waits on
        the primary key until the first commits, then finds it taken."""
        result = await self.conn.execute(
            insert(t.smart_assertions)
            .values(client_id=client_id, jti=jti, expires_at=expires_at)
            .on_conflict_do_nothing()
        )
        return result.rowcount == 1

    async def forget_expired(self, client_id: str, before: dt.datetime) -> None:
        await self.conn.execute(
            t.smart_assertions.delete().where(
                t.smart_assertions.c.client_id == client_id,
                t.smart_assertions.c.expires_at < before,
            )
        )
