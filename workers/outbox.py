"""Delivery of the outbox. PostgreSQL says what is due; arq only wakes workers up.

- `relay_outbox` (cron, every minute and at startup) enqueues one `send_message` job per
  due message, with `_job_id=f"msg:{id}:{attempts}"` so that a tick repeated by a second
  worker adds nothing, while the next attempt gets a fresh id. Without Redis it drains.
- `send_message` claims its one message (skips it if it is sent, not due yet, or held by
  another worker), sends it through its channel and records the outcome.
- `drain_outbox` claims and sends in a loop, in this process (tests, Redis outages).

A claim is its own committed transaction, made before the provider is called: no row
lock or transaction is held across the network, and the lease tells every other worker
the message is taken. See ADR "outbox delivery"."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import msgspec
import structlog
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from domain.message import (
    Backoff,
    DeliveryFailed,
    Message,
    MessageStatus,
    after_failure,
    dead_reason,
    out_of_tries,
)
from domain.schedule import may_message
from service.db.uow import unit_of_work
from workers.channels import Channel, make_channel

log = structlog.get_logger("concord.worker.outbox")
SEND_JOB_TIMEOUT = 60
"""Seconds: the e-mail channel's 30 s for the whole SMTP conversation, plus the database."""
RECORD_SENT_RETRIES = (0.5, 1.0, 2.0, 4.0)
"""Seconds between tries to commit `sent` after the provider accepted: every second this
fails widens the window in which the message would be sent again."""


class OutboxConfig(msgspec.Struct, frozen=True, kw_only=True):
    lease: dt.timedelta = dt.timedelta(minutes=2)
    """How long a claim keeps other workers off: longer than any send may take."""
    batch: int = 10
    """Messages claimed (and sent concurrently) at a time by `drain_outbox`."""
    relay_limit: int = 1000
    fallback_limit: int = 200
    """Messages the relay sends itself when it cannot reach Redis."""
    backoff: Backoff = Backoff()


DEFAULT_CONFIG = OutboxConfig()


def _config(ctx: dict[str, Any]) -> OutboxConfig:
    config: OutboxConfig = ctx.get("outbox") or DEFAULT_CONFIG
    return config


def _channel(ctx: dict[str, Any], message: Message) -> Channel:
    """Channels are made on first use from the settings and kept in ctx (tests put their
    own in `ctx["channels"]`)."""
    channels: dict[str, Channel] = ctx.setdefault("channels", {})
    if message.channel.value not in channels:
        channels[message.channel.value] = make_channel(message.channel, ctx["settings"])
    return channels[message.channel.value]


async def relay_outbox(ctx: dict[str, Any]) -> int:
    """Wake a worker for every due message; returns how many jobs were new."""
    config = _config(ctx)
    async with unit_of_work(ctx["engine"]) as uow:
        due = await uow.messages.due(config.relay_limit)
    redis = ctx.get("redis")
    if redis is None:
        return await drain_outbox(ctx, config.fallback_limit)
    enqueued = 0
    try:
        for message_id, attempts in due:
            job = await redis.enqueue_job(
                "send_message", str(message_id), _job_id=f"msg:{message_id}:{attempts}"
            )
            enqueued += job is not None
    except (RedisError, OSError) as exc:
        log.warning("outbox_relay_without_redis", error=type(exc).__name__)
        return await drain_outbox(ctx, config.fallback_limit)
    log.info("outbox_relay", due=len(due), enqueued=enqueued)
    return enqueued


async def send_message(ctx: dict[str, Any], message_id: str) -> str:
    """Deliver one message if it is still to be delivered; returns what became of it."""
    async with unit_of_work(ctx["engine"]) as uow:
        message = await uow.messages.claim_one(uuid.UUID(message_id), _config(ctx).lease)
    if message is None:
        return "skipped"
    return (await _deliver(ctx, message)).value


async def drain_outbox(ctx: dict[str, Any], limit: int = 100) -> int:
    """Claim and deliver until nothing is due or `limit` messages were tried; returns how
    many were tried. Any number of these may run at once: SKIP LOCKED and the lease give
    each message to one of them."""
    config = _config(ctx)
    tried = 0
    while tried < limit:
        async with unit_of_work(ctx["engine"]) as uow:
            batch = await uow.messages.claim(min(config.batch, limit - tried), config.lease)
        if not batch:
            break
        outcomes = await asyncio.gather(*(_deliver(ctx, message) for message in batch),
                                        return_exceptions=True)
        for outcome in outcomes:  # the row stays leased; its lease expiry retries it
            if isinstance(outcome, BaseException):
                log.error("outbox_drain_error", error=type(outcome).__name__)
        tried += len(batch)
    return tried


async def _deliver(ctx: dict[str, Any], message: Message) -> MessageStatus:
    """Send a claimed message and record the outcome, each in its own commit."""
    if out_of_tries(message.attempts, message.max_attempts):
        failure = DeliveryFailed("LeaseExpired", permanent=False)
        return await _record_failure(ctx, message, failure)
    if not await _consented(ctx, message):
        # An opt-out is honoured from the moment it is given, even for a queued message.
        return await _record_failure(ctx, message, DeliveryFailed("ConsentWithdrawn",
                                                                  permanent=True))
    try:
        provider_id = await _channel(ctx, message).send(message)
    except DeliveryFailed as failure:
        return await _record_failure(ctx, message, failure)
    except Exception as exc:  # a bug must not leave the row `sending` until its lease ends
        log.error("message_send_error", message_id=str(message.id), error=type(exc).__name__)
        return await _record_failure(ctx, message, DeliveryFailed(type(exc).__name__,
                                                                  permanent=False))
    recorded = await _record_sent(ctx, message, provider_id)
    _log_outcome(message, MessageStatus.SENT, recorded)
    return MessageStatus.SENT


async def _consented(ctx: dict[str, Any], message: Message) -> bool:
    async with unit_of_work(ctx["engine"]) as uow:
        patient = await uow.patients.get(message.clinic_id, message.patient_id)
    allowed, _ = may_message(patient.consent, dt.datetime.now(dt.UTC))
    return allowed


async def _record_sent(ctx: dict[str, Any], message: Message, provider_id: str) -> bool:
    """Commit `sent` now that the provider has the message, retrying a failed commit for a
    few seconds (well inside the lease) before leaving it to the lease expiry."""
    for pause in RECORD_SENT_RETRIES:
        try:
            return await _mark_sent(ctx, message, provider_id)
        except (DBAPIError, OSError) as exc:
            log.warning("message_sent_not_recorded", message_id=str(message.id),
                        error=type(exc).__name__, retry_in=pause)
            await asyncio.sleep(pause)
    return await _mark_sent(ctx, message, provider_id)


async def _mark_sent(ctx: dict[str, Any], message: Message, provider_id: str) -> bool:
    async with unit_of_work(ctx["engine"]) as uow:
        recorded = await uow.messages.mark_sent(message.id, message.attempts, provider_id)
        if recorded:
            uow.audit(None, "send", "Message", message.id, message.patient_id,
                      clinic_id=message.clinic_id)
    return recorded


async def _record_failure(
    ctx: dict[str, Any], message: Message, failure: DeliveryFailed
) -> MessageStatus:
    attempts = message.attempts
    status = after_failure(attempts, message.max_attempts, failure.permanent)
    async with unit_of_work(ctx["engine"]) as uow:
        if status is MessageStatus.DEAD:
            reason = dead_reason(failure, min(attempts, message.max_attempts))
            recorded = await uow.messages.mark_dead(message.id, attempts, reason)
        else:
            delay = _config(ctx).backoff.delay(attempts)
            recorded = await uow.messages.mark_failed(message.id, attempts, failure.reason, delay)
    _log_outcome(message, status, recorded, error=failure.reason)
    return status


def _log_outcome(message: Message, status: MessageStatus, recorded: bool,
                 error: str | None = None) -> None:
    # Ids, kind and error class only: the address and the content are PHI.
    event = f"message_{status.value}" if recorded else "message_claim_lost"
    log.info(event, message_id=str(message.id), kind=message.kind,
             channel=message.channel.value, attempt=message.attempts, outcome=status.value,
             error=error)
