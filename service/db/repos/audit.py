from __future__ import annotations

import uuid

import msgspec

from service.db import tables as t
from service.db.repos.base import Repository


class AuditEntry(msgspec.Struct, kw_only=True, frozen=True):
    clinic_id: uuid.UUID
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    client_address: str | None
    request_id: str | None


class AuditRepository(Repository):
    async def record(self, entries: list[AuditEntry]) -> None:
        if entries:
            await self.conn.execute(
                t.audit_events.insert(), [msgspec.structs.asdict(e) for e in entries]
            )
