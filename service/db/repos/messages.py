"""The outbox. Schedulers `enqueue` inside their business transaction; workers `claim`
rows with FOR UPDATE SKIP LOCKED and a lease (committed before they talk to the provider),
then record the outcome. Every outcome write is guarded by the attempt number it claimed,
so a worker whose lease ran out and was taken over cannot overwrite the new claim.

Times come from the database clock (`clock_timestamp()`), so leases and due times compare
on one clock whichever worker wrote them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from domain.errors import NotFound, StaleVersion
from domain.message import Channel, Message, MessageStatus
from service.db import tables as t
from service.db.queries import Page, decode_cursor, encode_cursor
from service.db.repos.base import Repository, from_row

m = t.messages.c
_TZ = sa.DateTime(timezone=True)
_ENQUEUED = ("id", "clinic_id", "patient_id", "care_plan_id", "kind", "channel", "recipient",
             "subject", "body_text", "body_html", "idempotency_key", "max_attempts")


class MessageSummary(msgspec.Struct, kw_only=True):
    """A list row: what happened to a message, without its content or address."""

    id: uuid.UUID
    patient_id: uuid.UUID
    care_plan_id: uuid.UUID | None
    kind: str
    channel: Channel
    status: MessageStatus
    attempts: int
    max_attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    sent_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


_SUMMARY = [getattr(m, f) for f in MessageSummary.__struct_fields__]


def _now() -> sa.ColumnElement[dt.datetime]:
    return sa.func.clock_timestamp(type_=_TZ)


# Written as literals, exactly as the partial indexes' predicates: with bound parameters a
# prepared statement's generic plan could not prove it may use those indexes.
_WAITING = sa.text("messages.status IN ('queued','failed')")
_LEASED = sa.text("messages.status = 'sending'")


def _claimable() -> sa.ColumnElement[bool]:
    now = _now()
    return sa.or_(
        sa.and_(_WAITING, m.next_attempt_at <= now),
        sa.and_(_LEASED, m.lease_until < now),
    )


class MessageRepository(Repository):
    async def any_for_patient_since(self, patient_id: uuid.UUID, since: dt.datetime) -> bool:
        """Whether the patient has been written to (or is about to be) since `since`:
        the one-message-a-day rule asks it."""
        return bool(await self.conn.scalar(sa.select(sa.exists().where(
            m.patient_id == patient_id, m.created_at >= since, m.status != "dead"))))

    async def enqueue(self, message: Message) -> bool:
        """Write the message unless this clinic already has one with its idempotency key;
        True when it is new. Call it inside the transaction that decided to send it."""
        values: dict[str, Any] = {f: getattr(message, f) for f in _ENQUEUED}
        values["channel"] = message.channel.value
        if message.next_attempt_at is not None:
            values["next_attempt_at"] = message.next_attempt_at
        stmt = (
            insert(t.messages)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["clinic_id", "idempotency_key"])
        )
        return (await self.conn.execute(stmt)).rowcount == 1

    async def get(self, clinic_id: uuid.UUID, message_id: uuid.UUID) -> Message:
        row = (
            await self.conn.execute(
                sa.select(t.messages).where(m.id == message_id, m.clinic_id == clinic_id)
            )
        ).mappings().first()
        if row is None:
            raise NotFound("message")
        return from_row(row, Message)

    async def due(self, limit: int) -> list[tuple[uuid.UUID, int]]:
        """(id, attempts) of claimable messages, oldest due first; no lock (the relay only
        wakes workers, the claim decides)."""
        rows = await self.conn.execute(
            sa.select(m.id, m.attempts).where(_claimable())
            .order_by(m.next_attempt_at).limit(limit)
        )
        return [(r.id, r.attempts) for r in rows]

    async def claim(self, limit: int, lease: dt.timedelta) -> list[Message]:
        """Take up to `limit` claimable messages: status `sending`, one more attempt, leased
        until now + `lease`. Rows another transaction holds are skipped, not waited for."""
        return await self._take(sa.true(), limit, lease)

    async def claim_one(self, message_id: uuid.UUID, lease: dt.timedelta) -> Message | None:
        """Claim this message if it is claimable and nobody holds it; else None."""
        taken = await self._take(m.id == message_id, 1, lease)
        return taken[0] if taken else None

    async def _take(
        self, which: sa.ColumnElement[bool], limit: int, lease: dt.timedelta
    ) -> list[Message]:
        due = (
            sa.select(m.id)
            .where(which, _claimable())
            .order_by(m.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        rows = await self.conn.execute(
            t.messages.update()
            .where(m.id.in_(sa.select(due.c.id)))
            .values(
                status=MessageStatus.SENDING.value,
                attempts=m.attempts + 1,
                lease_until=_now() + sa.literal(lease, sa.Interval()),
                updated_at=_now(),
                version=m.version + 1,
            )
            .returning(*t.messages.c)
        )
        return [from_row(r, Message) for r in rows.mappings()]

    async def mark_sent(self, message_id: uuid.UUID, attempt: int, provider_id: str) -> bool:
        """False when this claim is no longer the current one (taken over, or finished)."""
        self.touched.messages.add(message_id)
        return await self._finish(
            message_id, attempt, status=MessageStatus.SENT.value,
            provider_message_id=provider_id[:200], sent_at=_now(),
        )

    async def mark_failed(
        self, message_id: uuid.UUID, attempt: int, error: str, retry_in: dt.timedelta
    ) -> bool:
        """Back to waiting: due again `retry_in` from now (the database's now)."""
        return await self._finish(
            message_id, attempt, status=MessageStatus.FAILED.value, last_error=error[:200],
            next_attempt_at=_now() + sa.literal(retry_in, sa.Interval()),
        )

    async def mark_dead(self, message_id: uuid.UUID, attempt: int, reason: str) -> bool:
        return await self._finish(
            message_id, attempt, status=MessageStatus.DEAD.value, last_error=reason[:200]
        )

    async def _finish(self, message_id: uuid.UUID, attempt: int, **values: Any) -> bool:
        # Still ours if nobody claimed it since: an expired lease alone does not void
        # the outcome (we did send, or did fail), a newer attempt number does.
        result = await self.conn.execute(
            t.messages.update()
            .where(m.id == message_id, m.status == MessageStatus.SENDING.value,
                   m.attempts == attempt)
            .values(**values, lease_until=None, updated_at=_now(), version=m.version + 1)
        )
        return result.rowcount == 1

    async def save_requeued(self, message: Message) -> Message:
        """Write what `Message.requeue` decided, if nobody changed the row since it was
        read (compare-and-set on the version); due now."""
        row = (
            await self.conn.execute(
                t.messages.update()
                .where(m.id == message.id, m.clinic_id == message.clinic_id,
                       m.version == message.version - 1)
                .values(status=message.status.value, max_attempts=message.max_attempts,
                        lease_until=None, next_attempt_at=_now(), updated_at=_now(),
                        version=message.version)
                .returning(*t.messages.c)
            )
        ).mappings().first()
        if row is None:
            current = await self.get(message.clinic_id, message.id)
            raise StaleVersion("message", message.version - 1, current.version)
        return from_row(row, Message)

    async def find(
        self,
        clinic_id: uuid.UUID,
        *,
        limit: int,
        cursor: str | None,
        status: MessageStatus | None = None,
        patient_id: uuid.UUID | None = None,
    ) -> Page[MessageSummary]:
        """Oldest first, keyset-paged on (created_at, id) like every other list."""
        query = sa.select(*_SUMMARY).where(m.clinic_id == clinic_id)
        if status is not None:
            query = query.where(m.status == status.value)
        if patient_id is not None:
            query = query.where(m.patient_id == patient_id)
        if cursor is not None:
            created_at, after = decode_cursor(cursor, dt.datetime, uuid.UUID)
            query = query.where(
                sa.tuple_(m.created_at, m.id)
                > sa.tuple_(sa.literal(created_at, _TZ), sa.literal(after, m.id.type))
            )
        rows = (
            await self.conn.execute(query.order_by(m.created_at, m.id).limit(limit + 1))
        ).mappings().all()
        items = [from_row(r, MessageSummary) for r in rows[:limit]]
        more = len(rows) > limit
        next_cursor = encode_cursor(items[-1].created_at, items[-1].id) if more else None
        return Page(items=items, next_cursor=next_cursor)
