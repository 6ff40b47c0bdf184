"""Delivery of subscription notifications: per subscription, strictly in `seq` order, one
at a time, each until it is accepted (a 2xx).

A worker claims a subscription (FOR UPDATE SKIP LOCKED, then a lease committed before
anything is sent), so no two workers ever send for the same subscription at once, and
never the next event before the previous one was accepted: a receiver sees each
resource's changes in order. The outcome of each attempt is written under the claim
only. A failure waits with exponential backoff and full jitter (domain.message.Backoff),
capped, for ever: after `error_after` failures in a row the subscription's status
becomes `error`, it keeps being retried at the cap, and the next success makes it
`active` again, so a receiver that is down for an hour misses nothing.

Delivery is at least once: a worker that dies after the receiver accepted and before
the outcome was written leaves the event to be sent again when its lease runs out, with
the same X-Concord-Event-Id, which a receiver uses to drop the repeat."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable

import httpx
import msgspec
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.message import Backoff
from fhir.subscriptions import notify
from fhir.subscriptions.registry import publish_state
from service.db.repos.subscriptions import (
    DELIVERING,
    Pending,
    SubscriptionRepository,
    SubscriptionRow,
)
from service.db.uow import unit_of_work

log = structlog.get_logger("concord.worker.subscriptions")
Clock = Callable[[], dt.datetime]
ERROR_MAX = 300


class DeliveryConfig(msgspec.Struct, frozen=True, kw_only=True):
    lease: dt.timedelta = dt.timedelta(minutes=3)
    """How long a claim keeps other workers off: longer than the longest timeout."""
    claim_batch: int = 20
    """Subscriptions claimed (and delivered concurrently) at a time."""
    per_claim: int = 100
    """Events delivered for one subscription before its claim is given back."""
    rounds: int = 10
    backoff: Backoff = Backoff(base=dt.timedelta(seconds=10), cap=dt.timedelta(minutes=5))
    min_delay: dt.timedelta = dt.timedelta(seconds=1)
    """Full jitter may draw almost nothing: never retry a failing endpoint sooner."""
    error_after: int = 5
    """Failures in a row after which the subscription's status is `error`."""
    timeout: float = 10.0
    """Seconds for one request, unless the subscription asks (backport-timeout)."""


DEFAULT_CONFIG = DeliveryConfig()


def clock_of(now: dt.datetime | None) -> Clock:
    """A fixed time (tests move it) or the real one."""
    return (lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC))


async def deliver_due(engine: AsyncEngine, fhir_base: str, *, now: dt.datetime | None = None,
                      config: DeliveryConfig = DEFAULT_CONFIG,
                      client: httpx.AsyncClient | None = None,
                      clinic_id: uuid.UUID | None = None) -> int:
    """Claim subscriptions (every clinic's, or one's) with a due notification, deliver
    what they have in order, and send the heartbeats that are due; returns how many
    events were delivered. Any number of these may run at once, in any number of
    processes."""
    clock = clock_of(now)
    owned = client is None
    http = client or httpx.AsyncClient(follow_redirects=False)
    delivered = 0
    try:
        for _ in range(config.rounds):
            async with unit_of_work(engine) as uow:
                claims = await SubscriptionRepository(uow.conn).claim(
                    clock(), config.lease, config.claim_batch, clinic_id)
            outcomes = await asyncio.gather(
                *(_deliver(engine, fhir_base, claim, clock, config, http) for claim in claims),
                return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    # The claim stays until its lease ends; then another worker retries.
                    log.error("subscription_delivery_error", error=type(outcome).__name__)
                else:
                    delivered += outcome
            if len(claims) < config.claim_batch:
                break
        await _heartbeats(engine, fhir_base, clock, config, http, clinic_id)
    finally:
        if owned:
            await http.aclose()
    return delivered


async def _deliver(engine: AsyncEngine, fhir_base: str,
                   claim: tuple[uuid.UUID, str, uuid.UUID], clock: Clock,
                   config: DeliveryConfig, http: httpx.AsyncClient) -> int:
    clinic_id, subscription_id, lease_id = claim
    delivered = 0
    try:
        for _ in range(config.per_claim):
            now = clock()
            async with unit_of_work(engine) as uow:
                repo = SubscriptionRepository(uow.conn)
                subscription = await repo.holds(clinic_id, subscription_id, lease_id,
                                                now + config.lease)
                pending = None
                if subscription is not None and subscription.status in DELIVERING:
                    pending = await repo.head(clinic_id, subscription_id)
            if subscription is None or pending is None:
                break
            request = notify.build(subscription, pending, fhir_base, now)
            error = await send(http, request, subscription.timeout_seconds or config.timeout)
            if not await _record(engine, subscription, pending, lease_id, error, clock(),
                                 config):
                break
            if error is not None:
                break
            delivered += 1
    finally:
        await _release(engine, clinic_id, subscription_id, lease_id, clock())
    return delivered


async def send(http: httpx.AsyncClient, request: notify.Outgoing, seconds: float) -> str | None:
    """None when the receiver accepted (2xx); else what went wrong, for people to read (no
    URL, no content)."""
    try:
        response = await http.request(request.method, request.url, content=request.body,
                                      headers=request.headers, timeout=seconds)
    except httpx.TimeoutException as exc:
        return f"{type(exc).__name__}: no answer from the endpoint within {seconds:g} s"
    except httpx.ConnectError as exc:
        return f"{type(exc).__name__}: could not connect to the endpoint"
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: the request to the endpoint failed"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()[:ERROR_MAX]


async def _record(engine: AsyncEngine, subscription: SubscriptionRow, pending: Pending,
                  lease_id: uuid.UUID, error: str | None, now: dt.datetime,
                  config: DeliveryConfig) -> bool:
    """Write the attempt's outcome if the claim is still ours; False if it was lost."""
    clinic_id, subscription_id = subscription.clinic_id, subscription.id
    async with unit_of_work(engine) as uow:
        repo = SubscriptionRepository(uow.conn)
        current = await repo.holds(clinic_id, subscription_id, lease_id, now + config.lease)
        if current is None:
            log.warning("subscription_claim_lost", subscription_id=subscription_id,
                        event_number=pending.event_number)
            return False
        if error is None:
            await repo.mark_sent(pending.notification_id, now)
            await repo.update(clinic_id, subscription_id, {
                "attempts": 0, "last_error": None, "last_delivered_at": now,
                "status": "active" if current.status == "error" else current.status})
        else:
            delay = max(config.backoff.delay(pending.attempts + 1), config.min_delay)
            await repo.mark_failed(pending.notification_id, error, now + delay)
            failures = current.attempts + 1
            failing = current.status == "active" and failures >= config.error_after
            await repo.update(clinic_id, subscription_id, {
                "attempts": failures, "last_error": error,
                "status": "error" if failing else current.status})
    log.info("subscription_notification_sent" if error is None
             else "subscription_notification_failed",
             subscription_id=subscription_id, event_number=pending.event_number,
             attempt=pending.attempts + 1, error=error)
    return True


async def _release(engine: AsyncEngine, clinic_id: uuid.UUID, subscription_id: str,
                   lease_id: uuid.UUID, now: dt.datetime) -> None:
    """Give the claim back and show the delivery state on the stored Subscription."""
    async with unit_of_work(engine) as uow:
        await publish_state(uow, clinic_id, subscription_id, now)
        await SubscriptionRepository(uow.conn).release(clinic_id, subscription_id, lease_id)


async def _heartbeats(engine: AsyncEngine, fhir_base: str, clock: Clock,
                      config: DeliveryConfig, http: httpx.AsyncClient,
                      clinic: uuid.UUID | None) -> None:
    async with unit_of_work(engine) as uow:
        claims = await SubscriptionRepository(uow.conn).claim_heartbeats(
            clock(), config.lease, config.claim_batch, clinic)
    for clinic_id, subscription_id, lease_id in claims:
        now = clock()
        async with unit_of_work(engine) as uow:
            subscription = await SubscriptionRepository(uow.conn).get(clinic_id,
                                                                      subscription_id)
        if subscription is not None and subscription.lease_id == lease_id:
            error = await send(http, notify.heartbeat(subscription, fhir_base, now),
                               subscription.timeout_seconds or config.timeout)
            log.info("subscription_heartbeat", subscription_id=subscription_id, error=error)
            async with unit_of_work(engine) as uow:
                repo = SubscriptionRepository(uow.conn)
                if await repo.holds(clinic_id, subscription_id, lease_id, now + config.lease):
                    await repo.update(clinic_id, subscription_id, {"last_heartbeat_at": now})
        await _release(engine, clinic_id, subscription_id, lease_id, clock())
