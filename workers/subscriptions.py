"""FHIR subscriptions in the worker: match the change feed, deliver the notifications.

`run_subscriptions` is a cron job each minute that keeps polling for most of that minute
(a change is notified within seconds); `match_subscriptions` and
`deliver_subscriptions` are one pass each. PostgreSQL holds every notification and
claim (fhir.subscriptions.delivery), so any number of workers may run these at once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError

from fhir.subscriptions.delivery import DEFAULT_CONFIG, DeliveryConfig, deliver_due
from fhir.subscriptions.matching import match_changes
from service.settings import Settings

log = structlog.get_logger("concord.worker.subscriptions")
POLL = 2.0
"""Seconds between passes."""
RUN_FOR = 50.0
"""Seconds one cron tick keeps polling; the next tick starts the next minute."""
RUN_TIMEOUT = 120
"""The cron job's arq timeout: the polling plus one slow last pass."""


def fhir_base(settings: Settings) -> str:
    return f"{settings.public_base_url}/fhir"


async def match_subscriptions(ctx: dict[str, Any]) -> int:
    """Turn new changes into notifications; returns how many."""
    return await match_changes(ctx["engine"])


async def deliver_subscriptions(ctx: dict[str, Any]) -> int:
    """Deliver what is due; returns how many events were delivered."""
    config: DeliveryConfig = ctx.get("subscription_delivery") or DEFAULT_CONFIG
    return await deliver_due(ctx["engine"], fhir_base(ctx["settings"]), config=config)


async def run_subscriptions(ctx: dict[str, Any]) -> None:
    deadline = time.monotonic() + RUN_FOR
    while True:
        try:
            await match_subscriptions(ctx)
            await deliver_subscriptions(ctx)
        except (DBAPIError, OSError) as exc:  # the database is away: the next pass retries
            log.warning("subscriptions_pass_failed", error=type(exc).__name__)
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(POLL)
