from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from domain.check_in import CheckIn, CheckInStatus
from domain.errors import NotFound
from service.db import tables as t
from service.db.repos.base import Repository, compare_and_set, from_row, to_row


class CheckInRepository(Repository):
    async def add(self, check_in: CheckIn) -> bool:
        """Insert unless a check-in with the same occurrence exists (False then)."""
        stmt = insert(t.check_ins).values(**to_row(check_in)).on_conflict_do_nothing(
            constraint="uq_check_ins_clinic_occurrence")
        return (await self.conn.execute(stmt)).rowcount == 1

    async def get(self, clinic_id: uuid.UUID, check_in_id: uuid.UUID) -> CheckIn:
        row = (await self.conn.execute(sa.select(t.check_ins).where(
            t.check_ins.c.id == check_in_id, t.check_ins.c.clinic_id == clinic_id))
        ).mappings().first()
        if row is None:
            raise NotFound("check-in")
        return from_row(row, CheckIn)

    async def by_occurrence(self, clinic_id: uuid.UUID, key: str, *,
                            for_update: bool = False) -> CheckIn | None:
        query = sa.select(t.check_ins).where(t.check_ins.c.clinic_id == clinic_id,
                                             t.check_ins.c.occurrence_key == key)
        row = (await self.conn.execute(query.with_for_update() if for_update else query)
               ).mappings().first()
        return None if row is None else from_row(row, CheckIn)

    async def count_for_plan(self, plan_id: uuid.UUID) -> int:
        return int(await self.conn.scalar(sa.select(sa.func.count()).where(
            t.check_ins.c.care_plan_id == plan_id)) or 0)

    async def last_due_for_plan(self, plan_id: uuid.UUID) -> dt.datetime | None:
        last: dt.datetime | None = await self.conn.scalar(
            sa.select(sa.func.max(t.check_ins.c.due_at)).where(
                t.check_ins.c.care_plan_id == plan_id))
        return last

    async def claim_due(self, now: dt.datetime, limit: int) -> list[CheckIn]:
        """Scheduled check-ins whose time has come, locked so that another worker skips
        them; the caller moves each on (queued, withheld, deferred) in this transaction."""
        rows = (await self.conn.execute(
            sa.select(t.check_ins)
            .where(t.check_ins.c.status == CheckInStatus.SCHEDULED.value,
                   t.check_ins.c.deliver_at <= now)
            .order_by(t.check_ins.c.deliver_at).limit(limit)
            .with_for_update(skip_locked=True))).mappings().all()
        return [from_row(r, CheckIn) for r in rows]

    async def save(self, check_in: CheckIn) -> None:
        values = to_row(check_in, exclude=("id", "clinic_id", "care_plan_id", "patient_id",
                                           "version", "created_at"))
        await compare_and_set(self.conn, t.check_ins, "check-in", check_in.id,
                              check_in.version, {**values, "updated_at": sa.func.now()})
