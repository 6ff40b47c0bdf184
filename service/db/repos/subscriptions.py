"""FHIR subscriptions and their outbox of notifications: the rows delivery works from
(the Subscription resource itself lives in the FHIR store), the change feed read for
matching, the claims delivery workers take, and the read side for /api/v1."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from fhir.store.repository import Version
from service.db import tables as t
from service.db.queries import Page, decode_cursor, encode_cursor
from service.db.repos.base import Repository, from_row

s = t.fhir_subscriptions.c
n = t.subscription_notifications.c
v = t.fhir_versions.c
_TZ = sa.DateTime(timezone=True)
DELIVERING = ("active", "error")
"""Statuses in which a subscription is matched and delivered (error keeps retrying)."""
PENDING, SENT = "pending", "sent"


class SubscriptionRow(msgspec.Struct, kw_only=True):
    clinic_id: uuid.UUID
    id: str
    status: str
    criteria: dict[str, Any]
    endpoint: str
    secret: str | None
    headers: list[list[str]]
    payload: str
    topic: str | None
    timeout_seconds: int | None
    heartbeat_seconds: int | None
    ends_at: dt.datetime | None
    cursor_seq: int
    events_since_start: int
    attempts: int
    last_error: str | None
    last_delivered_at: dt.datetime | None
    last_heartbeat_at: dt.datetime | None
    lease_id: uuid.UUID | None
    lease_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


# One row of the change feed (fhir_versions), as the store reads it for vread.
Change = Version


class Pending(msgspec.Struct, kw_only=True):
    """The oldest undelivered notification of a subscription, with its change."""

    notification_id: int
    event_number: int
    attempts: int
    change: Change


class SubscriptionView(msgspec.Struct, kw_only=True):
    """What /api/v1 shows of a subscription: never its secret, only whether it has one."""

    id: str
    status: str
    criteria: str
    topic: str | None
    endpoint: str
    payload: str
    signed: bool
    events_since_start: int
    pending: int
    attempts: int
    last_error: str | None
    last_delivered_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    ends_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class EventView(msgspec.Struct, kw_only=True):
    event_number: int
    seq: int
    focus: str
    """`Type/id/_history/version` of the change."""
    method: str
    occurred_at: dt.datetime
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    sent_at: dt.datetime | None


_CHANGE_COLUMNS = (v.seq, v.resource_type, v.id, v.version_id, v.last_updated, v.method,
                   v.patient_id, v.resource)


class SubscriptionRepository(Repository):
    # -- the subscription rows ----------------------------------------------------------------

    async def get(self, clinic_id: uuid.UUID, subscription_id: str, *,
                  for_update: bool = False) -> SubscriptionRow | None:
        query = sa.select(t.fhir_subscriptions).where(s.clinic_id == clinic_id,
                                                      s.id == subscription_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else from_row(row, SubscriptionRow)

    async def insert(self, values: dict[str, Any]) -> None:
        await self.conn.execute(sa.insert(t.fhir_subscriptions).values(**values))

    async def update(self, clinic_id: uuid.UUID, subscription_id: str,
                     values: dict[str, Any]) -> None:
        await self.conn.execute(
            sa.update(t.fhir_subscriptions)
            .where(s.clinic_id == clinic_id, s.id == subscription_id)
            .values(**values, updated_at=sa.func.clock_timestamp()))

    async def delete(self, clinic_id: uuid.UUID, subscription_id: str) -> None:
        """The row and, by cascade, its undelivered notifications."""
        await self.conn.execute(sa.delete(t.fhir_subscriptions).where(
            s.clinic_id == clinic_id, s.id == subscription_id))

    async def retry_now(self, clinic_id: uuid.UUID, subscription_id: str,
                        now: dt.datetime) -> None:
        """Make the oldest undelivered notification due (the endpoint was just changed)."""
        await self.conn.execute(
            sa.update(t.subscription_notifications)
            .where(n.clinic_id == clinic_id, n.subscription_id == subscription_id,
                   n.status == PENDING, n.next_attempt_at > now)
            .values(next_attempt_at=now))

    # -- the change feed ------------------------------------------------------------------

    async def last_seq(self) -> int:
        """The newest change committed so far, in any clinic."""
        found = (await self.conn.execute(sa.select(sa.func.max(v.seq)))).scalar()
        return int(found or 0)

    async def settled_seq(self, wait: float = 2.0, poll: float = 0.05) -> int | None:
        """The highest `seq` up to which the change feed is final: no transaction still
        open can add a change at or below it. None if that could not be known within
        `wait` seconds (a long transaction is open): try again later.

        Changes commit out of `seq` order (a transaction takes its number at insert and
        may commit after a later one), so reading up to the newest visible `seq` could
        step over one that appears a moment later, and it would never be notified. The
        store writes fhir_resources before fhir_versions, so a transaction already has
        its transaction id when it takes a `seq`; every `seq` at or below the newest
        visible one was therefore taken by a transaction whose id is below this
        snapshot's xmax. Once the oldest running transaction's id is at or above that
        xmax, all of them have ended."""
        row = (await self.conn.execute(sa.text(
            "SELECT coalesce(max(seq), 0) AS seq, "
            "pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax "
            "FROM fhir_versions"))).one()
        horizon, xmax = int(row.seq), int(row.xmax)
        deadline = time.monotonic() + wait
        while True:
            oldest = (await self.conn.execute(sa.text(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))).scalar()
            if oldest is not None and int(oldest) >= xmax:
                return horizon
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(poll)

    async def matchable(self, upto: int, limit: int,
                        clinic_id: uuid.UUID | None = None) -> list[tuple[uuid.UUID, str]]:
        """Subscriptions with changes to read at or below `upto`."""
        rows = (await self.conn.execute(
            sa.select(s.clinic_id, s.id)
            .where(s.status.in_(DELIVERING), s.cursor_seq < upto, *_of(clinic_id))
            .order_by(s.cursor_seq).limit(limit))).all()
        return [(r.clinic_id, r.id) for r in rows]

    async def lock_for_matching(self, clinic_id: uuid.UUID,
                                subscription_id: str) -> SubscriptionRow | None:
        """The row, unless another matcher holds it (it is doing this work already)."""
        row = (await self.conn.execute(
            sa.select(t.fhir_subscriptions)
            .where(s.clinic_id == clinic_id, s.id == subscription_id,
                   s.status.in_(DELIVERING))
            .with_for_update(skip_locked=True))).mappings().first()
        return None if row is None else from_row(row, SubscriptionRow)

    async def changes(self, clinic_id: uuid.UUID, resource_type: str, after: int, upto: int,
                      limit: int) -> list[Change]:
        rows = (await self.conn.execute(
            sa.select(*_CHANGE_COLUMNS)
            .where(v.clinic_id == clinic_id, v.seq > after, v.seq <= upto,
                   v.resource_type == resource_type)
            .order_by(v.seq).limit(limit))).mappings().all()
        return [from_row(r, Change) for r in rows]

    async def versions(self, clinic_id: uuid.UUID, resource_type: str,
                       wanted: list[tuple[str, int]]) -> dict[tuple[str, int], Any]:
        """The resource (None for a delete) of each (id, version_id) asked for."""
        if not wanted:
            return {}
        rows = (await self.conn.execute(
            sa.select(v.id, v.version_id, v.resource)
            .where(v.clinic_id == clinic_id, v.resource_type == resource_type,
                   sa.tuple_(v.id, v.version_id).in_(wanted)))).all()
        return {(r.id, r.version_id): r.resource for r in rows}

    async def add_notifications(self, clinic_id: uuid.UUID, subscription_id: str,
                                events: list[tuple[int, int]], now: dt.datetime) -> None:
        """(seq, event number) pairs; a pair already there stays as it is."""
        if not events:
            return
        await self.conn.execute(
            insert(t.subscription_notifications)
            .values([{"clinic_id": clinic_id, "subscription_id": subscription_id,
                      "seq": seq, "event_number": number, "status": PENDING,
                      "next_attempt_at": now} for seq, number in events])
            .on_conflict_do_nothing(constraint="uq_subscription_notifications_event"))

    async def advance(self, clinic_id: uuid.UUID, subscription_id: str, cursor: int,
                      events_since_start: int) -> None:
        await self.conn.execute(
            sa.update(t.fhir_subscriptions)
            .where(s.clinic_id == clinic_id, s.id == subscription_id)
            .values(cursor_seq=sa.func.greatest(s.cursor_seq, cursor),
                    events_since_start=events_since_start))

    async def ended(self, now: dt.datetime,
                    clinic_id: uuid.UUID | None = None) -> list[tuple[uuid.UUID, str]]:
        """Subscriptions whose `end` has come and that are not off yet."""
        rows = (await self.conn.execute(
            sa.select(s.clinic_id, s.id)
            .where(s.status.in_(DELIVERING), s.ends_at.is_not(None), s.ends_at <= now,
                   *_of(clinic_id)))).all()
        return [(r.clinic_id, r.id) for r in rows]

    # -- delivery claims --------------------------------------------------------------------

    async def claim(self, now: dt.datetime, lease: dt.timedelta, limit: int,
                    clinic_id: uuid.UUID | None = None
                    ) -> list[tuple[uuid.UUID, str, uuid.UUID]]:
        """Take up to `limit` subscriptions whose oldest undelivered notification is due
        and that no other worker holds: (clinic, id, lease id). The caller commits the
        claim before it sends anything."""
        rows = (await self.conn.execute(sa.text(
            """
            SELECT s.clinic_id, s.id
            FROM fhir_subscriptions s
            CROSS JOIN LATERAL (
                SELECT q.next_attempt_at FROM subscription_notifications q
                WHERE q.clinic_id = s.clinic_id AND q.subscription_id = s.id
                  AND q.status = 'pending'
                ORDER BY q.seq LIMIT 1
            ) head
            WHERE s.status IN ('active', 'error')
              AND (s.lease_until IS NULL OR s.lease_until < :now)
              AND head.next_attempt_at <= :now
              AND (CAST(:clinic AS uuid) IS NULL OR s.clinic_id = :clinic)
            ORDER BY head.next_attempt_at
            LIMIT :limit
            FOR UPDATE OF s SKIP LOCKED
            """), {"now": now, "limit": limit, "clinic": clinic_id})).all()
        return await self._lease([(r.clinic_id, r.id) for r in rows], now + lease)

    async def _lease(self, keys: list[tuple[uuid.UUID, str]], until: dt.datetime
                     ) -> list[tuple[uuid.UUID, str, uuid.UUID]]:
        claimed: list[tuple[uuid.UUID, str, uuid.UUID]] = []
        for clinic_id, subscription_id in keys:
            lease_id = uuid.uuid4()
            await self.conn.execute(
                sa.update(t.fhir_subscriptions)
                .where(s.clinic_id == clinic_id, s.id == subscription_id)
                .values(lease_id=lease_id, lease_until=until))
            claimed.append((clinic_id, subscription_id, lease_id))
        return claimed

    async def holds(self, clinic_id: uuid.UUID, subscription_id: str, lease_id: uuid.UUID,
                    until: dt.datetime) -> SubscriptionRow | None:
        """The subscription if `lease_id` is still its claim, with the lease extended to
        `until`, locked for this transaction; None if the claim was lost."""
        row = (await self.conn.execute(
            sa.update(t.fhir_subscriptions)
            .where(s.clinic_id == clinic_id, s.id == subscription_id, s.lease_id == lease_id)
            .values(lease_until=until)
            .returning(t.fhir_subscriptions))).mappings().first()
        return None if row is None else from_row(row, SubscriptionRow)

    async def release(self, clinic_id: uuid.UUID, subscription_id: str,
                      lease_id: uuid.UUID) -> None:
        await self.conn.execute(
            sa.update(t.fhir_subscriptions)
            .where(s.clinic_id == clinic_id, s.id == subscription_id, s.lease_id == lease_id)
            .values(lease_id=None, lease_until=None))

    async def head(self, clinic_id: uuid.UUID, subscription_id: str) -> Pending | None:
        row = (await self.conn.execute(
            sa.select(n.id.label("notification_id"), n.event_number, n.attempts,
                      *_CHANGE_COLUMNS)
            .join(t.fhir_versions, v.seq == n.seq)
            .where(n.clinic_id == clinic_id, n.subscription_id == subscription_id,
                   n.status == PENDING)
            .order_by(n.seq).limit(1))).mappings().first()
        if row is None:
            return None
        change = from_row(row, Change)
        return Pending(notification_id=row["notification_id"], event_number=row["event_number"],
                       attempts=row["attempts"], change=change)

    async def mark_sent(self, notification_id: int, now: dt.datetime) -> bool:
        result = await self.conn.execute(
            sa.update(t.subscription_notifications)
            .where(n.id == notification_id, n.status == PENDING)
            .values(status=SENT, sent_at=now, attempts=n.attempts + 1, last_error=None))
        return bool(result.rowcount)

    async def mark_failed(self, notification_id: int, error: str,
                          next_attempt_at: dt.datetime) -> bool:
        result = await self.conn.execute(
            sa.update(t.subscription_notifications)
            .where(n.id == notification_id, n.status == PENDING)
            .values(attempts=n.attempts + 1, last_error=error,
                    next_attempt_at=next_attempt_at))
        return bool(result.rowcount)

    async def claim_heartbeats(self, now: dt.datetime, lease: dt.timedelta, limit: int,
                               clinic_id: uuid.UUID | None = None
                               ) -> list[tuple[uuid.UUID, str, uuid.UUID]]:
        """Take topic-based subscriptions with a heartbeat period, nothing to deliver, and
        no contact (an event or a heartbeat) for a whole period: (clinic, id, lease id)."""
        last_contact = sa.func.greatest(s.last_delivered_at, s.last_heartbeat_at,
                                        s.created_at)
        period = s.heartbeat_seconds * sa.text("interval '1 second'")
        pending = sa.exists().where(n.clinic_id == s.clinic_id, n.subscription_id == s.id,
                                    n.status == PENDING)
        rows = (await self.conn.execute(
            sa.select(s.clinic_id, s.id)
            .where(s.status.in_(DELIVERING), s.heartbeat_seconds.is_not(None),
                   s.topic.is_not(None), ~pending,
                   sa.or_(s.lease_until.is_(None), s.lease_until < now),
                   last_contact + period <= now, *_of(clinic_id))
            .limit(limit).with_for_update(skip_locked=True))).all()
        return await self._lease([(r.clinic_id, r.id) for r in rows], now + lease)

    # -- the read side ----------------------------------------------------------------------

    def _view_query(self) -> sa.Select[Any]:
        head = (sa.select(n.next_attempt_at)
                .where(n.clinic_id == s.clinic_id, n.subscription_id == s.id,
                       n.status == PENDING)
                .order_by(n.seq).limit(1).scalar_subquery())
        pending = (sa.select(sa.func.count())
                   .where(n.clinic_id == s.clinic_id, n.subscription_id == s.id,
                          n.status == PENDING).scalar_subquery())
        return sa.select(
            s.id, s.status, s.criteria["text"].astext.label("criteria"), s.topic, s.endpoint,
            s.payload, s.secret.is_not(None).label("signed"), s.events_since_start,
            pending.label("pending"), s.attempts, s.last_error, s.last_delivered_at,
            head.label("next_attempt_at"), s.ends_at, s.created_at, s.updated_at)

    async def find(self, clinic_id: uuid.UUID, *, limit: int,
                   cursor: str | None) -> Page[SubscriptionView]:
        """Oldest first, keyset-paged on (created_at, id)."""
        query = self._view_query().where(s.clinic_id == clinic_id)
        if cursor is not None:
            created_at, after = decode_cursor(cursor, dt.datetime, str)
            query = query.where(sa.tuple_(s.created_at, s.id)
                                > sa.tuple_(sa.literal(created_at, _TZ), sa.literal(after)))
        rows = (await self.conn.execute(
            query.order_by(s.created_at, s.id).limit(limit + 1))).mappings().all()
        items = [from_row(r, SubscriptionView) for r in rows[:limit]]
        more = len(rows) > limit
        next_cursor = encode_cursor(items[-1].created_at, items[-1].id) if more else None
        return Page(items=items, next_cursor=next_cursor)

    async def view(self, clinic_id: uuid.UUID, subscription_id: str
                   ) -> SubscriptionView | None:
        row = (await self.conn.execute(self._view_query().where(
            s.clinic_id == clinic_id, s.id == subscription_id))).mappings().first()
        return None if row is None else from_row(row, SubscriptionView)

    async def events(self, clinic_id: uuid.UUID, subscription_id: str,
                     limit: int) -> list[EventView]:
        """The newest notifications first."""
        focus = (v.resource_type + "/" + v.id + "/_history/"
                 + sa.cast(v.version_id, sa.String))
        rows = (await self.conn.execute(
            sa.select(n.event_number, n.seq, focus.label("focus"), v.method,
                      v.last_updated.label("occurred_at"), n.status, n.attempts,
                      sa.case((n.status == PENDING, n.next_attempt_at),
                              else_=None).label("next_attempt_at"),
                      n.last_error, n.sent_at)
            .join(t.fhir_versions, v.seq == n.seq)
            .where(n.clinic_id == clinic_id, n.subscription_id == subscription_id)
            .order_by(n.seq.desc()).limit(limit))).mappings().all()
        return [from_row(r, EventView) for r in rows]


def _of(clinic_id: uuid.UUID | None) -> tuple[sa.ColumnElement[bool], ...]:
    """One clinic's subscriptions only, or everyone's."""
    return () if clinic_id is None else (s.clinic_id == clinic_id,)
