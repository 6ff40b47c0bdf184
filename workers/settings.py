"""arq's WorkerSettings: `python -m service worker` runs this."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from arq import cron, func
from arq.connections import RedisSettings

from service.settings import Settings
from workers.check_ins import dispatch_check_ins, schedule_check_ins
from workers.context import shutdown, startup
from workers.ehr_sync import JOB_TIMEOUT as EHR_JOB_TIMEOUT
from workers.ehr_sync import (
    SYNC_EVERY_MINUTES,
    pull_ehr_medications,
    push_ehr_changes,
    schedule_ehr_sync,
)
from workers.opioid_reviews import open_opioid_review_tasks
from workers.outbox import SEND_JOB_TIMEOUT, relay_outbox, send_message
from workers.reminders import send_goal_review_reminders
from workers.reviews import open_review_due_tasks
from workers.subscriptions import RUN_TIMEOUT, run_subscriptions


def redis_settings(settings: Settings | None = None) -> RedisSettings:
    settings = settings or Settings.from_env()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL must be set for the worker")
    return RedisSettings.from_dsn(settings.redis_url)


class WorkerSettings:
    functions: ClassVar[list[Any]] = [open_review_due_tasks, open_opioid_review_tasks,
                                      func(send_message, timeout=SEND_JOB_TIMEOUT, keep_result=0),
                                      func(pull_ehr_medications, timeout=EHR_JOB_TIMEOUT),
                                      func(push_ehr_changes, timeout=EHR_JOB_TIMEOUT)]
    cron_jobs: ClassVar[list[Any]] = [
        cron(open_review_due_tasks, minute={5}, unique=True, run_at_startup=True, timeout=300),
        cron(open_opioid_review_tasks, minute={10}, unique=True, run_at_startup=True,
             timeout=300),
        # The outbox's backstop: what is due in PostgreSQL gets a send job (ADR outbox).
        cron(relay_outbox, unique=True, run_at_startup=True, timeout=120),
        # Due check-ins become outbox messages (then a send job is woken).
        cron(dispatch_check_ins, unique=True, run_at_startup=True, timeout=120),
        cron(schedule_check_ins, minute={2}, unique=True, run_at_startup=True, timeout=300),
        cron(send_goal_review_reminders, minute={7}, unique=True, run_at_startup=True,
             timeout=300),
        # A pull and a push job per active EHR connection (workers/ehr_sync.py).
        cron(schedule_ehr_sync, minute=set(range(0, 60, SYNC_EVERY_MINUTES)), unique=True,
             run_at_startup=True, timeout=60),
        # FHIR subscriptions: match the change feed and deliver, polling within the minute.
        cron(run_subscriptions, unique=True, run_at_startup=True, timeout=RUN_TIMEOUT),
    ]
    on_startup = startup
    on_shutdown = shutdown
    job_serializer = msgspec.msgpack.encode
    job_deserializer = msgspec.msgpack.decode
    max_jobs = 20
    job_timeout = 60
    health_check_interval = 30
