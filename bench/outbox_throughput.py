"""Benchmark outbox delivery: from N due messages in PostgreSQL to N e-mails in an SMTP
sink, with 1, 2 and 4 arq worker processes, against an empty-job baseline.

    uv run python -m bench.outbox_throughput                      # 10,000 messages; 1, 2, 4 workers
    uv run python -m bench.outbox_throughput --messages 2000 --workers 1,2

For each worker count, in one run and on one embedded PostgreSQL + Redis (Unix sockets
under `--home`) and an SMTP sink on 127.0.0.1:
1. `--messages` due e-mails are written through `MessageRepository.enqueue` (not timed);
2. the workers start (the production `send_message`, `max_jobs`, serializers and
   startup, plus a no-op job; no crons) and are warmed up with one no-op job;
3. baseline: the bench enqueues N no-op arq jobs one by one (as the relay does) and waits
   until the queue is empty: arq's own cost per job, with these workers;
4. messages: the bench enqueues one `relay_outbox` job (with `relay_limit` = N, so one
   relay tick wakes every message; production relays 1,000 per minute) and waits until
   the sink has received all N distinct Message-IDs; then checks that all N rows are
   `sent`.
It prints a table and one JSON line. Every wait is bounded by `--timeout`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import email.parser
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
_headers = email.parser.BytesHeaderParser()


# -- the worker side (`--worker`) -------------------------------------------------------

async def noop(ctx: dict[str, Any]) -> None:
    """The baseline's job: nothing."""


def _worker_main() -> None:
    from arq import func
    from arq.worker import run_worker

    from service.settings import Settings
    from workers.context import shutdown, startup
    from workers.outbox import OutboxConfig, relay_outbox
    from workers.settings import WorkerSettings, redis_settings

    async def on_startup(ctx: dict[str, Any]) -> None:
        await startup(ctx)
        ctx["outbox"] = OutboxConfig(relay_limit=int(os.environ["BENCH_RELAY_LIMIT"]))

    settings = {k: v for k, v in vars(WorkerSettings).items() if not k.startswith("_")}
    send = [f for f in WorkerSettings.functions if getattr(f, "name", "") == "send_message"]
    settings.update(functions=[*send, func(relay_outbox, timeout=600), func(noop)],
                    cron_jobs=[], on_startup=on_startup, on_shutdown=shutdown)
    run_worker(settings, redis_settings=redis_settings(Settings.from_env()))


# -- the SMTP sink ---------------------------------------------------------------------

class CountingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or b""
        mid = (_headers.parsebytes(content).get("Message-ID") or "").strip()
        with self.lock:
            self.ids[mid] += 1
        return "250 2.0.0 Ok: queued"

    def count(self, wanted: set[str]) -> tuple[int, int]:
        """(raw DATA deliveries, distinct Message-IDs) of `wanted`."""
        with self.lock:
            raw = sum(n for mid, n in self.ids.items() if mid in wanted)
            return raw, sum(1 for mid in self.ids if mid in wanted)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the bench side --------------------------------------------------------------------

def spawn_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    from bench.care_plan_read import spawn

    procs = []
    for i in range(count):
        with open(logs / f"worker-{i}.log", "ab") as log:
            procs.append(spawn([sys.executable, "-m", "bench.outbox_throughput", "--worker"],
                               env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


async def seed(url: str, count: int) -> list[str]:
    from domain.message import Channel, Message
    from domain.patient import Consent, ContactPoint, Patient
    from domain.vocab import ContactSystem
    from service.db.engine import make_engine
    from service.db.uow import unit_of_work

    engine = make_engine(url, pool_size=2)
    clinic_id = uuid.uuid4()
    try:
        async with unit_of_work(engine) as uow:
            await uow.clinics.add(clinic_id, f"bench-{clinic_id.hex[:8]}", "Outbox bench")
            patient = Patient(id=uuid.uuid4(), clinic_id=clinic_id, given_name="Rosa",
                              family_name="Delgado", birth_date=dt.date(1968, 4, 12),
                              contact_points=[ContactPoint(system=ContactSystem.EMAIL,
                                                           value="rosa@example.org")],
                              consent=Consent(messages=True, given_at=dt.datetime.now(dt.UTC)))
            await uow.patients.add(patient)
        mids = []
        for start in range(0, count, 1000):
            async with unit_of_work(engine) as uow:
                for i in range(start, min(count, start + 1000)):
                    message = Message(
                        id=uuid.uuid4(), clinic_id=clinic_id, patient_id=patient.id,
                        kind="check-in", channel=Channel.EMAIL, recipient=f"p{i}@example.org",
                        subject="How are we doing together?", body_text=f"Check-in {i}",
                        idempotency_key=f"bench:{clinic_id}:{i}")
                    await uow.messages.enqueue(message)
                    mids.append(message.email_message_id)
        return mids
    finally:
        await engine.dispose()


async def measure(redis_url: str, count: int, sink: CountingHandler, mids: set[str],
                  limit_s: float) -> dict[str, Any]:
    import msgspec
    from arq.connections import RedisSettings, create_pool
    pool = await create_pool(RedisSettings.from_dsn(redis_url),
                             job_serializer=msgspec.msgpack.encode,
                             job_deserializer=msgspec.msgpack.decode)
    try:
        async def drained(deadline: float) -> None:
            while await pool.zcard("arq:queue"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the no-op jobs did not finish within --timeout")
                await asyncio.sleep(0.02)

        # warm-up: the workers are up once a job round-trips
        await pool.enqueue_job("noop")
        await drained(time.monotonic() + 60)
        t0 = time.monotonic()
        for _ in range(count):
            await pool.enqueue_job("noop")
        enqueued = time.monotonic() - t0
        await drained(t0 + limit_s)
        baseline = time.monotonic() - t0

        t0 = time.monotonic()
        await pool.enqueue_job("relay_outbox")
        while sink.count(mids)[1] < count:
            if time.monotonic() > t0 + limit_s:
                raise RuntimeError(f"only {sink.count(mids)[1]} of {count} messages "
                                   "arrived within --timeout")
            await asyncio.sleep(0.02)
        delivery = time.monotonic() - t0
        raw, distinct = sink.count(mids)
        return {"empty_jobs_s": round(baseline, 3), "empty_enqueue_s": round(enqueued, 3),
                "empty_jobs_per_s": round(count / baseline, 1),
                "messages_s": round(delivery, 3), "messages_per_s": round(count / delivery, 1),
                "ratio": round((count / delivery) / (count / baseline), 4),
                "raw_deliveries": raw, "distinct": distinct}
    finally:
        await pool.aclose()


async def count_unsent(url: str) -> int:
    import sqlalchemy as sa

    from service.db import tables as t
    from service.db.engine import make_engine

    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).where(
                t.messages.c.status != "sent")) or 0)
    finally:
        await engine.dispose()


def run(args: argparse.Namespace, cleanup: contextlib.ExitStack) -> None:
    import logging

    from aiosmtpd.controller import Controller

    from bench.care_plan_read import prune_stale_handles, stop_process
    from service.cli import migrate
    from service.embedded import EmbeddedRedis, start_postgres, stop_postgres

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    home: Path = args.home
    home.mkdir(parents=True, exist_ok=True)
    prune_stale_handles(home / "pg")
    pg, url = start_postgres(home)
    cleanup.callback(stop_postgres, pg)
    migrate(url)
    redis = EmbeddedRedis(home)
    redis_url = redis.start()
    cleanup.callback(redis.stop)
    sink = CountingHandler()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    cleanup.callback(controller.stop)
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "SMTP_PORT": str(port),
           "SMTP_HOST": "127.0.0.1", "CONCORD_HOME": str(home), "CONCORD_LOG_LEVEL": "WARNING",
           "CONCORD_SECRET_KEY": "bench", "BENCH_RELAY_LIMIT": str(args.messages)}
    rows: list[dict[str, Any]] = []
    for count in args.workers:
        if asyncio.run(count_unsent(url)):
            raise RuntimeError("the bench database holds unsent messages; use a fresh --home")
        print(f"{count} worker(s): seeding {args.messages} due messages ...", flush=True)
        mids = set(asyncio.run(seed(url, args.messages)))
        procs = spawn_workers(count, env, home)
        try:
            result = asyncio.run(measure(redis_url, args.messages, sink, mids, args.timeout))
        finally:
            for proc in procs:
                stop_process(proc, timeout=20)
        result["unsent_after"] = asyncio.run(count_unsent(url))
        rows.append({"workers": count, **result})
        print(f"  empty jobs {result['empty_jobs_per_s']:.0f}/s, "
              f"messages {result['messages_per_s']:.0f}/s", flush=True)

    print(f"\noutbox delivery, {args.messages} due messages -> SMTP sink on loopback; "
          f"{os.cpu_count()} CPUs")
    print(f"{'workers':>7} {'empty jobs/s':>13} {'messages/s':>11} {'ratio':>7} "
          f"{'messages s':>11} {'raw':>7} {'distinct':>9} {'unsent':>7}")
    for r in rows:
        print(f"{r['workers']:>7} {r['empty_jobs_per_s']:>13.0f} {r['messages_per_s']:>11.0f} "
              f"{r['ratio']:>7.3f} {r['messages_s']:>11.1f} {r['raw_deliveries']:>7} "
              f"{r['distinct']:>9} {r['unsent_after']:>7}")
    print(json.dumps({"bench": "outbox_throughput", "messages": args.messages,
                      "cpus": os.cpu_count(), "python": platform.python_version(),
                      "runs": rows}, separators=(",", ":")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox_throughput",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    parser.add_argument("--home", type=Path, default=REPO_ROOT / ".concord" / "bench-outbox")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds each measured phase may take (default 300)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker_main()
        return 0
    args.workers = [int(w) for w in args.workers.split(",")]
    args.home = args.home.resolve()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.ExitStack() as cleanup:
        try:
            run(args, cleanup)
        except RuntimeError as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
