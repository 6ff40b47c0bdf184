from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from domain.errors import NotFound
from domain.task import Task
from domain.transitions import TASK_OPEN
from domain.vocab import TaskStatus
from service.db import tables as t
from service.db.repos.base import Repository, compare_and_set, from_row, to_row


class TaskRepository(Repository):
    async def get(self, clinic_id: uuid.UUID, task_id: uuid.UUID) -> Task:
        row = (
            (
                await self.conn.execute(
                    sa.select(t.tasks).where(
                        t.tasks.c.id == task_id, t.tasks.c.clinic_id == clinic_id
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("task")
        return from_row(row, Task)

    async def add(self, task: Task, dedupe_key: str | None = None) -> bool:
        """Insert; with a `dedupe_key` a second task about the same thing is not opened
        (returns False)."""
        stmt = insert(t.tasks).values(
            **to_row(task, exclude=("updated_at",)), dedupe_key=dedupe_key
        )
        if dedupe_key is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
        added: bool = (await self.conn.execute(stmt)).rowcount == 1
        if added:
            self.touched.tasks.add(task.id)
        return added

    async def save(self, task: Task) -> None:
        self.touched.tasks.add(task.id)
        values = to_row(task, exclude=("id", "clinic_id", "version", "created_at"))
        await compare_and_set(self.conn, t.tasks, "task", task.id, task.version, values)

    async def complete_by_key(self, dedupe_key: str, reason: str, now: dt.datetime) -> int:
        """Complete the open task opened for `dedupe_key` (a hit, a due review)."""
        return await self._complete(t.tasks.c.dedupe_key == dedupe_key, reason, now)

    async def complete_prefix(self, prefix: str, reason: str, now: dt.datetime) -> int:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return await self._complete(t.tasks.c.dedupe_key.like(escaped + "%"), reason, now)

    async def _complete(self, where: sa.ColumnElement[bool], reason: str,
                        now: dt.datetime) -> int:
        result = await self.conn.execute(
            t.tasks.update()
            .where(where, t.tasks.c.status.in_([s.value for s in TASK_OPEN]))
            .values(status=TaskStatus.COMPLETED.value, status_reason=reason, updated_at=now,
                    version=t.tasks.c.version + 1)
            .returning(t.tasks.c.id))
        done = list(result.scalars())
        self.touched.tasks.update(done)
        return len(done)
