"""The production worker's settings with the outbox's clocks shortened for tests, and a
launcher: `python -m tests.robustness.worker_settings` runs one arq worker from the
environment (DATABASE_URL, REDIS_URL, SMTP_PORT ...).

What changes against `workers.settings.WorkerSettings`, and why:
- only `send_message` and the `relay_outbox` cron: no other schedulers touch the shared
  test database;
- the relay runs every `CONCORD_TEST_RELAY_EVERY_S` seconds (default 5) instead of every
  minute, and the claim lease is `CONCORD_TEST_LEASE_S` (default 8 s) instead of 2 min;
- job timeouts are 10 s, so the in-progress key a `kill -9` leaves behind expires after
  20 s (arq: the longest timeout + 10 s) instead of 130 s.

arq reads a settings class through its own `__dict__` only (`arq.worker.get_kwargs`), so
a subclass of `WorkerSettings` would silently lose everything it inherits; this module
builds a plain dict from the production class instead."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from arq import cron, func
from arq.worker import run_worker

from service.settings import Settings
from workers.context import shutdown, startup
from workers.outbox import OutboxConfig, relay_outbox, send_message
from workers.settings import WorkerSettings, redis_settings

JOB_TIMEOUT_S = 10


def _seconds(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


async def _startup(ctx: dict[str, Any]) -> None:
    await startup(ctx)
    ctx["outbox"] = OutboxConfig(
        lease=dt.timedelta(seconds=_seconds("CONCORD_TEST_LEASE_S", 8)),
        relay_limit=int(_seconds("CONCORD_TEST_RELAY_LIMIT", 1000)),
    )


def send_keep_result() -> float | None:
    """How long arq keeps `send_message` results: production's value (None: arq's 1 h
    default), unless CONCORD_TEST_SEND_KEEP_RESULT says otherwise. A kept result blocks
    its job id, and the relay re-enqueues a message that was never claimed under the
    same id (`msg:{id}:0`): see the PostgreSQL-restart test."""
    keep = os.environ.get("CONCORD_TEST_SEND_KEEP_RESULT")
    if keep:
        return float(keep)
    production = next(f for f in WorkerSettings.functions
                      if getattr(f, "name", None) == "send_message")
    value = production.keep_result_s
    return None if value is None else float(value)


def worker_settings_for_tests() -> dict[str, Any]:
    every = int(_seconds("CONCORD_TEST_RELAY_EVERY_S", 5))
    keep_result = send_keep_result()
    settings = {k: v for k, v in vars(WorkerSettings).items() if not k.startswith("_")}
    settings.update(
        functions=[func(send_message, timeout=JOB_TIMEOUT_S, keep_result=keep_result)],
        cron_jobs=[cron(relay_outbox, second=set(range(0, 60, every)), unique=True,
                        run_at_startup=True, timeout=JOB_TIMEOUT_S)],
        on_startup=_startup,
        on_shutdown=shutdown,
        job_timeout=JOB_TIMEOUT_S,
        poll_delay=0.2,
        health_check_interval=5,
    )
    return settings


def main() -> None:
    run_worker(worker_settings_for_tests(),
               redis_settings=redis_settings(Settings.from_env()))


if __name__ == "__main__":
    main()
