from __future__ import annotations

import uuid

from litestar import Controller, get

from domain.actor import Actor
from service.api.deps import page_limit
from service.db import queries
from service.db.queries import AuditEvent, Page
from service.db.uow import UnitOfWork


class AuditController(Controller):
    path = "/audit-events"
    tags = ["audit"]

    @get("/")
    async def find(
        self,
        uow: UnitOfWork,
        actor: Actor,
        patient_id: uuid.UUID | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[AuditEvent]:
        """Who read or changed what, oldest first. Admins only. Reading the trail is
        itself recorded."""
        if patient_id is not None:
            await uow.patients.get(actor.clinic_id, patient_id)  # another clinic's: 404
        actor.require_admin()
        page = await queries.audit_events(
            uow.conn,
            actor.clinic_id,
            limit=page_limit(limit, 500),
            cursor=cursor,
            patient_id=patient_id,
        )
        uow.audit(actor, "read", "AuditEvent", None, patient_id)
        return page
