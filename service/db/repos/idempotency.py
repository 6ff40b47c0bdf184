"""Idempotency keys: the first request with a key does the work; a repeat gets its
stored response. The key row is written in the request's own transaction, so a
concurrent repeat waits on it and a rolled-back first attempt leaves nothing behind."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from service.db import tables as t
from service.db.repos.base import Repository


class StoredResponse(msgspec.Struct, kw_only=True):
    request_hash: bytes
    status_code: int
    body: bytes
    headers: dict[str, str]


class IdempotencyRepository(Repository):
    async def claim(
        self, clinic_id: uuid.UUID, staff_id: uuid.UUID, key: str, request_hash: bytes
    ) -> StoredResponse | None:
        """None when this request owns the key; otherwise the first request's response."""
        claimed = await self.conn.execute(
            insert(t.idempotency_keys)
            .values(clinic_id=clinic_id, staff_id=staff_id, key=key, request_hash=request_hash)
            .on_conflict_do_nothing()
        )
        if claimed.rowcount == 1:
            return None
        row = (
            (
                await self.conn.execute(
                    sa.select(
                        t.idempotency_keys.c.request_hash,
                        t.idempotency_keys.c.status_code,
                        t.idempotency_keys.c.body,
                        t.idempotency_keys.c.headers,
                    ).where(
                        t.idempotency_keys.c.clinic_id == clinic_id,
                        t.idempotency_keys.c.staff_id == staff_id,
                        t.idempotency_keys.c.key == key,
                    )
                )
            )
            .mappings()
            .one()
        )
        return StoredResponse(
            request_hash=bytes(row["request_hash"]),
            status_code=row["status_code"] or 409,
            body=bytes(row["body"] or b""),
            headers=row["headers"] or {},
        )

    async def complete(
        self,
        clinic_id: uuid.UUID,
        staff_id: uuid.UUID,
        key: str,
        status_code: int,
        body: bytes,
        headers: dict[str, Any],
    ) -> None:
        await self.conn.execute(
            t.idempotency_keys.update()
            .where(
                t.idempotency_keys.c.clinic_id == clinic_id,
                t.idempotency_keys.c.staff_id == staff_id,
                t.idempotency_keys.c.key == key,
            )
            .values(status_code=status_code, body=body, headers=headers)
        )
