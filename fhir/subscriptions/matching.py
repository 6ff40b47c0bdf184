"""Matching: the store's change feed (fhir_versions, in `seq` order) against each active
subscription, turned into notification rows (the outbox delivery works from).

Per subscription and batch, one transaction reads the changes after its cursor, keeps
those its criteria match, writes one notification per match (UNIQUE per subscription
and `seq`: a repeat writes nothing), numbers them on from the subscription's count, and
moves the cursor. Only changes at or below the settled horizon are read, so one that
commits late is never stepped over (see SubscriptionRepository.settled_seq)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from fhir.subscriptions.criteria import Criteria
from fhir.subscriptions.registry import criteria_of, publish_state
from service.db.repos.subscriptions import Change, SubscriptionRepository
from service.db.uow import unit_of_work

log = structlog.get_logger("concord.worker.subscriptions")
BATCH = 500
"""Changes read per transaction."""
SUBSCRIPTIONS = 500
"""Subscriptions matched per pass."""


async def match_changes(engine: AsyncEngine, *, now: dt.datetime | None = None,
                        batch: int = BATCH, clinic_id: uuid.UUID | None = None) -> int:
    """One pass over every subscription (or one clinic's) with changes to read; returns
    how many notifications it wrote. Safe to run in any number of workers at once: a
    subscription being matched elsewhere is skipped."""
    now = now or dt.datetime.now(dt.UTC)
    await _switch_off_ended(engine, now, clinic_id)
    async with unit_of_work(engine) as uow:
        repo = SubscriptionRepository(uow.conn)
        horizon = await repo.settled_seq()
        if horizon is None:
            log.info("subscription_matching_waits_for_open_transactions")
            return 0
        due = await repo.matchable(horizon, SUBSCRIPTIONS, clinic_id)
    written = 0
    for clinic, subscription_id in due:
        written += await _match_one(engine, clinic, subscription_id, horizon, now, batch)
    return written


async def _match_one(engine: AsyncEngine, clinic_id: uuid.UUID, subscription_id: str,
                     horizon: int, now: dt.datetime, batch: int) -> int:
    written = 0
    while True:
        async with unit_of_work(engine) as uow:
            repo = SubscriptionRepository(uow.conn)
            row = await repo.lock_for_matching(clinic_id, subscription_id)
            if row is None or row.cursor_seq >= horizon:
                return written
            criteria = criteria_of(row)
            changes = await repo.changes(clinic_id, criteria.resource_type, row.cursor_seq,
                                         horizon, batch)
            previous = await repo.versions(
                clinic_id, criteria.resource_type,
                [(c.id, c.version_id - 1) for c in changes
                 if c.method != "create" and c.version_id > 1])
            matched = [c.seq for c in changes if _notifies(criteria, c, previous)]
            number = row.events_since_start
            events = [(seq, number + i + 1) for i, seq in enumerate(matched)]
            await repo.add_notifications(clinic_id, subscription_id, events, now)
            full = len(changes) == batch
            cursor = changes[-1].seq if full else horizon
            await repo.advance(clinic_id, subscription_id, cursor, number + len(events))
        written += len(events)
        if events:
            log.info("subscription_events", subscription_id=subscription_id,
                     events=len(events), last_event=number + len(events))
        if not full:
            return written


def _notifies(criteria: Criteria, change: Change,
              previous: dict[tuple[str, int], Any]) -> bool:
    before = previous.get((change.id, change.version_id - 1))
    return criteria.notifies(change.method, before if isinstance(before, dict) else None,
                             change.resource)


async def _switch_off_ended(engine: AsyncEngine, now: dt.datetime,
                            clinic: uuid.UUID | None) -> None:
    """R4 Subscription.end: the server turns the subscription off then."""
    async with unit_of_work(engine) as uow:
        ended = await SubscriptionRepository(uow.conn).ended(now, clinic)
    for clinic_id, subscription_id in ended:
        async with unit_of_work(engine) as uow:
            # The resource's lock first, as the write path takes them.
            await uow.store.current(clinic_id, "Subscription", subscription_id,
                                    for_update=True)
            await SubscriptionRepository(uow.conn).update(clinic_id, subscription_id,
                                                          {"status": "off"})
            await publish_state(uow, clinic_id, subscription_id, now)
