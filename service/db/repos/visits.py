from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from service.db import tables as t
from service.db.repos.base import Repository, to_row


class Visit(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    care_plan_id: uuid.UUID
    patient_id: uuid.UUID
    clinician_id: uuid.UUID
    visited_at: dt.datetime
    recorded_by: uuid.UUID | None = None
    created_at: dt.datetime | None = None


class VisitRepository(Repository):
    async def add(self, visit: Visit) -> None:
        await self.conn.execute(t.visits.insert().values(**to_row(visit)))
