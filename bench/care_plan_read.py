"""Benchmark `GET /api/v1/care-plans/{id}` against a raw-asyncpg baseline of the same SQL.

    uv run python -m bench.care_plan_read                   # 10,000 patients (seeded once)
    uv run python -m bench.care_plan_read --patients 500 --duration 5

What it does, all on this machine and on loopback / Unix sockets only:

1. starts a dedicated embedded PostgreSQL under `--home` (default `.concord/bench`),
   migrates it and seeds a `bench` clinic with `--patients` patients through the app's own
   use cases (`service.seed`), each with a full active plan (team of 4, 3 goals,
   4 activities). A database already holding enough patients is reused; a smaller one
   is topped up.
2. issues a bearer token for the clinic's coordinator (`issue_token`).
3. baseline: a separate process (`bench.loadgen sql`) runs, per request and in one
   transaction, the statements the endpoint issues (token auth query, the 5 plan
   queries, the audit insert), compiled from the app's own SQLAlchemy objects, through
   raw asyncpg with `--concurrency` connections.
4. starts the API as its own process (`python -m service serve`, embedded Redis), then a
   separate process (`bench.loadgen http`) drives it with httpx over `--concurrency`
   keep-alive connections, while this process samples the API's RSS and CPU.
5. prints a table and one JSON line; stops the API, Redis and PostgreSQL on the way
   out, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import psutil  # installed with pgserver

from bench.loadgen import Config, SqlPlan, Statement

if TYPE_CHECKING:
    from service.embedded import EmbeddedRedis

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_SLUG = "bench"
MAX_CONCURRENCY = 64  # the embedded server allows 100 connections
ENDPOINT = "GET /api/v1/care-plans/{id}"


# -- arguments -------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser("python -m bench.care_plan_read", __doc__, patients=10_000,
                          home=REPO_ROOT / ".concord" / "bench")
    parser.add_argument("--show-sql", action="store_true",
                        help="print the baseline's statements before running")
    return checked_args(parser, argv)


def bench_parser(prog: str, doc: str | None, *, patients: int,
                 home: Path) -> argparse.ArgumentParser:
    """The options every bench here takes: what to seed, how hard and how long to drive
    the API, and where its databases live."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--patients", type=int, default=patients,
                        help="patients (each with one full plan) to seed and read "
                             f"(default {patients})")
    parser.add_argument("--concurrency", type=int, default=10,
                        help="concurrent connections, for the API and the baseline (default 10,"
                             " the API's default pool size)")
    parser.add_argument("--duration", type=float, default=15.0,
                        help="measured seconds per run (default 15)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="unmeasured seconds before each run (default 3)")
    parser.add_argument("--max-requests", type=int, default=1_000_000,
                        help="hard cap on requests per run, warm-up included")
    parser.add_argument("--home", type=Path, default=home,
                        help="folder of the bench's embedded PostgreSQL and Redis")
    parser.add_argument("--batch", type=int, default=100,
                        help="patients per seeding transaction (default 100)")
    parser.add_argument("--seed-jobs", type=int, default=2,
                        help="concurrent seeding transactions (default 2)")
    parser.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    parser.add_argument("--api-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the API process, e.g. "
                             "CONCORD_DB_POOL_SIZE=20 (repeatable)")
    parser.add_argument("--quiet-wait", type=float, default=0.0, metavar="SECONDS",
                        help="before each measured run, wait up to this long for the rest of "
                             "the machine to go quiet (under 25%% of one core); default 0")
    parser.add_argument("--reset", action="store_true", help="drop the bench database first")
    parser.add_argument("--json-out", type=Path, help="also write the JSON result to this file")
    return parser


def checked_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The parsed options, each within the range the bench can honour."""
    args = parser.parse_args(argv)
    checks = [
        (1 <= args.patients <= 1_000_000, "--patients must be within 1..1000000"),
        (1 <= args.concurrency <= MAX_CONCURRENCY,
         f"--concurrency must be within 1..{MAX_CONCURRENCY}"),
        (0 < args.duration <= 600, "--duration must be within (0, 600] seconds"),
        (0 <= args.warmup <= 120, "--warmup must be within [0, 120] seconds"),
        (1 <= args.max_requests <= 100_000_000, "--max-requests must be positive"),
        (1 <= args.batch <= 1000, "--batch must be within 1..1000"),
        (1 <= args.seed_jobs <= 16, "--seed-jobs must be within 1..16"),
        (0 <= args.port <= 65535, "--port must be a TCP port"),
        (0 <= args.quiet_wait <= 3600, "--quiet-wait must be within [0, 3600] seconds"),
        (all("=" in e for e in args.api_env), "--api-env takes NAME=VALUE"),
    ]
    for ok, message in checks:
        if not ok:
            parser.error(message)
    args.home = args.home.resolve()
    return args


# -- child processes -------------------------------------------------------------------

def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, get SIGTERM if this process dies (even
    by kill -9), so that no API or load generator outlives the bench."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def spawn(cmd: list[str], env: dict[str, str] | None = None, **kwargs: Any
          ) -> subprocess.Popen[bytes]:
    # A session of its own: Ctrl-C reaches only this process, which stops children in order.
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, start_new_session=True,
                            preexec_fn=_die_with_parent, **kwargs)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def tracker(cleanup: contextlib.ExitStack) -> Callable[[subprocess.Popen[bytes] | None], None]:
    """A function that registers a child process, stopped (newest first) with `cleanup`."""
    children: list[subprocess.Popen[bytes]] = []

    def stop_children() -> None:
        for proc in reversed(children):
            stop_process(proc, timeout=20)

    cleanup.callback(stop_children)

    def track(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None:
            children.append(proc)

    return track


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProcessWatch:
    """Peak RSS (polled, and the kernel's VmHWM) of one process tree."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.process = psutil.Process(pid)
        self.peak_rss = 0

    def rss(self) -> int:
        total = 0
        with contextlib.suppress(psutil.Error):
            for proc in [self.process, *self.process.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
        return total

    def sample(self) -> None:
        self.peak_rss = max(self.peak_rss, self.rss())

    def vm_hwm(self) -> int | None:
        """The kernel's high-water mark of the main process's resident set, in bytes."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return None


class CpuAccount:
    """CPU seconds used during a run by named process trees (the API, PostgreSQL with its
    backends, the load generator, this process), by the whole machine, and so by
    everything else on it: the machine is shared, and other work skews every figure."""

    def __init__(self) -> None:
        self.roots: dict[str, tuple[int, bool]] = {}
        self.base: dict[tuple[int, float], float] = {}
        self.last: dict[tuple[int, float], tuple[str, float]] = {}
        self.machine0 = psutil.cpu_times()
        self.wall0 = time.perf_counter()

    def watch(self, name: str, pid: int, *, tree: bool = True) -> None:
        self.roots[name] = (pid, tree)
        self.sample(initial=True)

    def sample(self, *, initial: bool = False) -> None:
        for name, (pid, tree) in self.roots.items():
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)] if tree else [root]
            except psutil.Error:
                continue
            for proc in procs:
                try:
                    key = (proc.pid, proc.create_time())
                    times = proc.cpu_times()
                except psutil.Error:
                    continue
                used = times.user + times.system
                if initial:
                    self.base.setdefault(key, used)
                self.last[key] = (name, used)

    def result(self) -> dict[str, float]:
        self.sample()
        wall = time.perf_counter() - self.wall0
        machine1 = psutil.cpu_times()
        idle = ((machine1.idle - self.machine0.idle)
                + (getattr(machine1, "iowait", 0.0) - getattr(self.machine0, "iowait", 0.0)))
        busy = (sum(machine1) - sum(self.machine0)) - idle
        ours: dict[str, float] = dict.fromkeys(self.roots, 0.0)
        for key, (name, used) in self.last.items():
            ours[name] += used - self.base.get(key, 0.0)
        out = {f"cpu_{name}_pct": round(100 * s / wall, 1) for name, s in ours.items()}
        out["cpu_others_pct"] = round(100 * max(0.0, busy - sum(ours.values())) / wall, 1)
        out["machine_busy_pct"] = round(100 * busy / wall / (os.cpu_count() or 1), 1)
        return out


def wait_for_quiet(limit_s: float, threshold_pct: float = 25.0) -> float:
    """Up to `limit_s` seconds, until the machine (the bench idle) uses less than
    `threshold_pct` of one core over a second. Returns the last reading."""
    deadline = time.monotonic() + limit_s
    busy = float(psutil.cpu_percent(interval=1.0)) * (os.cpu_count() or 1)
    while busy >= threshold_pct and time.monotonic() < deadline:
        busy = float(psutil.cpu_percent(interval=1.0)) * (os.cpu_count() or 1)
    if busy >= threshold_pct:
        print(f"  note: other processes still use {busy:.0f}% of one core; measuring anyway",
              flush=True)
    return busy


def prune_stale_handles(pgdata: Path) -> None:
    """pgserver stops the server when its last handle is released, counting handles by
    pid in `.handle_pids.json`; a run killed with -9 leaves its pid there for good, and
    then no later run would stop the server. Forget pids that are no longer running."""
    path = pgdata / ".handle_pids.json"
    with contextlib.suppress(OSError, ValueError):
        pids = json.loads(path.read_text())
        alive = [p for p in pids if isinstance(p, int) and psutil.pid_exists(p)]
        if alive != pids:
            path.write_text(json.dumps(alive))


def run_loadgen(config: Config, account: CpuAccount, watch: ProcessWatch | None,
                track: Callable[[subprocess.Popen[bytes] | None], None]) -> dict[str, Any]:
    """Run `bench.loadgen` in its own process; sample CPU and `watch` while it runs."""
    proc = spawn([sys.executable, "-m", "bench.loadgen"],
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    track(proc)
    account.watch("client", proc.pid, tree=False)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(msgspec.json.encode(config))
            proc.stdin.close()
        deadline = time.monotonic() + config.warmup_s + config.duration_s + 120
        ticks = 0
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the load generator overran its time bound")
            if watch is not None:
                watch.sample()
            if ticks % 4 == 0:
                account.sample()
            ticks += 1
            time.sleep(0.05)
        output = proc.stdout.read()
        if proc.returncode != 0 or not output.strip():
            raise RuntimeError(f"the load generator failed (exit {proc.returncode})")
        result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
        result.update(account.result())
        return result
    finally:
        stop_process(proc, timeout=5)
        track(None)


# -- database: seed, token, statements, counters ------------------------------------

class Prepared(msgspec.Struct, kw_only=True):
    clinic_id: str
    plan_ids: list[str]
    patients_in_db: int
    token: str
    sql: SqlPlan
    seeded_now: int
    seed_seconds: float | None


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def prepare(url: str, patients: int, batch: int, jobs: int) -> Prepared:
    import sqlalchemy as sa

    from domain.staff import Staff
    from domain.vocab import Role
    from service.db import tables as t
    from service.db.engine import make_engine
    from service.db.repos.base import from_row
    from service.db.repos.staff import hash_token
    from service.db.uow import unit_of_work
    from service.seed import seed_clinic
    from service.usecases.staff import issue_token

    engine = make_engine(url, pool_size=max(2, jobs))
    try:
        async with engine.connect() as conn:
            clinic_id = (await conn.execute(sa.select(t.clinics.c.id).where(
                t.clinics.c.slug == BENCH_SLUG))).scalar()
        if clinic_id is None:
            clinic_id, staff = await seed_clinic(engine, BENCH_SLUG, "Benchmark Pain Clinic")
        else:
            async with engine.connect() as conn:
                rows = (await conn.execute(sa.select(t.staff).where(
                    t.staff.c.clinic_id == clinic_id))).mappings().all()
            staff = [from_row(r, Staff) for r in rows]
        existing = await _count_patients(engine, clinic_id)
        seeded_now, seed_seconds = 0, None
        if existing < patients:
            seeded_now = patients - existing
            print(f"seeding {seeded_now} patients (from #{existing}) in batches of {batch}, "
                  f"{jobs} at a time ...", flush=True)
            started = time.perf_counter()
            await _seed(engine, clinic_id, staff, existing, seeded_now, batch, jobs)
            seed_seconds = time.perf_counter() - started
            existing = await _count_patients(engine, clinic_id)
        async with engine.connect() as conn:
            plan_ids = [str(i) for i in (await conn.execute(
                sa.select(t.care_plans.c.id)
                .where(t.care_plans.c.clinic_id == clinic_id, t.care_plans.c.status == "active")
                .order_by(t.care_plans.c.created_at, t.care_plans.c.id)
                .limit(patients))).scalars()]
        coordinator = next(s for s in staff if s.role is Role.COORDINATOR and s.active)
        async with unit_of_work(engine) as uow:
            _, token = await issue_token(uow, clinic_id, coordinator, "bench", None)
        return Prepared(clinic_id=str(clinic_id), plan_ids=plan_ids, patients_in_db=existing,
                        token=token, sql=compile_sql(engine.dialect, hash_token(token)),
                        seeded_now=seeded_now, seed_seconds=seed_seconds)
    finally:
        await engine.dispose()


async def _count_patients(engine: Any, clinic_id: uuid.UUID) -> int:
    import sqlalchemy as sa

    from service.db import tables as t

    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(t.patients)
                                       .where(t.patients.c.clinic_id == clinic_id))).scalar_one())


async def _seed(engine: Any, clinic_id: uuid.UUID, staff: list[Any], start: int, count: int,
                batch: int, jobs: int) -> None:
    """`service.seed.seed_patients` over [start, start + count), `jobs` batches at a time,
    with a progress line about every 10%."""
    from service.seed import seed_patients

    batches = [(s, min(batch, start + count - s)) for s in range(start, start + count, batch)]
    done = 0
    began = time.perf_counter()
    next_report = 0.1
    queue = iter(batches)

    async def job() -> None:
        nonlocal done, next_report
        for offset, size in queue:  # shared iterator: each batch is taken exactly once
            await seed_patients(engine, clinic_id, staff, size, start=offset, batch=size)
            done += size
            if done / count >= next_report or done == count:
                elapsed = time.perf_counter() - began
                print(f"  seeded {done}/{count} in {elapsed:.0f} s "
                      f"({done / elapsed:.0f} patients/s)", flush=True)
                next_report = done / count + 0.1

    await asyncio.gather(*(job() for _ in range(min(jobs, len(batches)))))


def compile_sql(dialect: Any, token_hash: bytes) -> SqlPlan:
    """The endpoint's statements exactly as SQLAlchemy renders them for asyncpg."""
    from service.db import tables as t
    from service.db.repos import care_plans as plans
    from service.db.repos.audit import AuditEntry
    from service.db.repos.staff import _auth_query

    def one(statement: Any, column_keys: list[str] | None = None) -> Statement:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        # Names may be `quoted_name` (a str subclass); keep plain str for the wire.
        return Statement(sql=str(compiled),
                         params=[str.__str__(n) for n in compiled.positiontup or []],
                         defaults={str.__str__(k): v for k, v in compiled.params.items()
                                   if type(v) in (int, float, str)})  # LIMIT 5, not REQUIRED

    return SqlPlan(
        auth=one(_auth_query),
        plan=[one(plans.READ_PLAN)],
        # AuditRepository.record runs `audit_events.insert()` with one AuditEntry's fields.
        audit=one(t.audit_events.insert(), list(AuditEntry.__struct_fields__)),
        token_hash_hex=token_hash.hex(),
    )


COUNTERS = ("sessions", "xact_commit", "xact_rollback", "tup_inserted")


async def _db_counters(dsn: str) -> dict[str, int]:
    """pg_stat_database for our database, once the other clients have gone (a backend
    flushes its statistics when it exits)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(100):  # up to 10 s
            others = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
            if others == 0:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.2)
        row = await conn.fetchrow(
            f"SELECT {', '.join(COUNTERS)} FROM pg_stat_database "  # noqa: S608 - constants
            "WHERE datname = current_database()")
        return {k: int(row[k] or 0) for k in COUNTERS}
    finally:
        await conn.close()


def db_counters(dsn: str) -> dict[str, int]:
    return asyncio.run(_db_counters(dsn))


def per_request(before: dict[str, int], after: dict[str, int], requests: int
                ) -> dict[str, float]:
    if requests <= 0:
        return {}
    return {
        "commits": (after["xact_commit"] - before["xact_commit"]) / requests,
        "rollbacks": (after["xact_rollback"] - before["xact_rollback"]) / requests,
        "rows_inserted": (after["tup_inserted"] - before["tup_inserted"]) / requests,
        "sessions_opened": after["sessions"] - before["sessions"],
    }


# -- the API process ---------------------------------------------------------------------

def wait_ready(base: str, proc: subprocess.Popen[bytes], log_path: Path,
               timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the API exited with {proc.returncode}:\n{_tail(log_path)}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{base}/health/live").status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"the API did not answer within {timeout:.0f} s:\n{_tail(log_path)}")


def smoke_check(base: str, token: str, plan_id: str) -> int:
    """One real request before measuring: the endpoint answers 200 with that plan."""
    import httpx

    response = httpx.get(f"{base}/api/v1/care-plans/{plan_id}", trust_env=False, timeout=10.0,
                         headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200 or response.json().get("id") != plan_id:
        raise RuntimeError(f"smoke request failed: {response.status_code} {response.text[:500]}")
    body = response.json()
    shape = (len(body["team"]), len(body["goals"]), len(body["activities"]))
    if shape != (4, 3, 4):
        print(f"note: plan {plan_id} has team/goals/activities {shape}, expected (4, 3, 4)")
    return len(response.content)


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


# -- report -------------------------------------------------------------------------------

def _mb(value: int | None) -> float | None:
    return None if value is None else round(value / 1_048_576, 1)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def report(args: argparse.Namespace, prepared: Prepared, raw: dict[str, Any],
           api: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    rps_ratio = _ratio(api["rps"], raw["rps"])
    p50_ratio = _ratio(api["p50_ms"], raw["p50_ms"])
    p99_ratio = _ratio(api["p99_ms"], raw["p99_ms"])
    seed = ("reused" if prepared.seed_seconds is None
            else f"{prepared.seeded_now} seeded now in {prepared.seed_seconds:.1f} s")
    rows = [("API (httpx -> uvicorn/Litestar)", api), ("raw asyncpg, same SQL", raw)]
    print()
    print(f"{ENDPOINT}: {len(prepared.plan_ids)} plans of {prepared.patients_in_db} "
          f"seeded patients ({seed}); concurrency {args.concurrency}, warm-up {args.warmup:g} s, "
          f"measured {args.duration:g} s, {os.cpu_count()} CPUs")
    header = (f"{'':33}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}"
              f"{'requests':>9}{'errors':>7}")
    print(header)
    print("-" * len(header))
    for name, r in rows:
        errors = sum(r["errors"].values())
        print(f"{name:33}{r['rps']:8.0f}{r['p50_ms']:8.2f}{r['p90_ms']:8.2f}{r['p99_ms']:8.2f}"
              f"{r['max_ms']:8.1f}{r['requests']:9d}{errors:7d}")
    print("-" * len(header))
    print(f"{'ratio API / raw':33}{rps_ratio or 0:8.3f}{p50_ratio or 0:8.2f}{'':8}"
          f"{p99_ratio or 0:8.2f}")
    print()
    print(f"API process: peak RSS {extra['api_peak_rss_mb']} MB (VmHWM {extra['api_vmhwm_mb']} MB;"
          f" {extra['api_rss_before_mb']} MB before load); response body "
          f"{extra['body_bytes']} bytes; uvicorn {extra['server']['uvicorn_http']}/"
          f"{extra['server']['uvicorn_loop']}, 1 worker")
    print("CPU, % of one core    API  postgres  client  others   (machine busy)")
    for name, r in (("API run", api), ("baseline run", raw)):
        print(f"  {name:18}{r.get('cpu_api_pct', 0):6.0f}{r.get('cpu_postgres_pct', 0):10.0f}"
              f"{r.get('cpu_client_pct', 0):8.0f}{r.get('cpu_others_pct', 0):8.0f}"
              f"   ({r['machine_busy_pct']:.0f}% of {os.cpu_count()} cores)")
    for name, counts in (("API", extra["db_api"]), ("raw", extra["db_raw"])):
        if counts:
            print(f"PostgreSQL per request, {name}: {counts['commits']:.2f} commits, "
                  f"{counts['rollbacks']:.2f} rollbacks, {counts['rows_inserted']:.2f} rows "
                  f"inserted; {counts['sessions_opened']} sessions opened in the run")
    for name, r in rows:
        if r["errors"]:
            print(f"errors, {name}: {r['errors']} (first: {r['first_error']})")
    keep = ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "requests",
            "total_requests", "errors", "machine_busy_pct", "cpu_api_pct", "cpu_postgres_pct",
            "cpu_client_pct", "cpu_bench_pct", "cpu_others_pct")
    result = {
        "bench": "care_plan_read", "endpoint": ENDPOINT,
        "patients": len(prepared.plan_ids), "patients_in_db": prepared.patients_in_db,
        "concurrency": args.concurrency, "warmup_s": args.warmup, "duration_s": args.duration,
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "seed": {"seeded_now": prepared.seeded_now, "seconds": prepared.seed_seconds,
                 "previous": extra["previous_seed"]},
        "api": {**{k: api[k] for k in keep if k in api}, "peak_rss_mb": extra["api_peak_rss_mb"],
                "vmhwm_mb": extra["api_vmhwm_mb"], "rss_before_mb": extra["api_rss_before_mb"],
                "db_per_request": extra["db_api"]},
        "raw": {**{k: raw[k] for k in keep if k in raw}, "db_per_request": extra["db_raw"]},
        "ratio": {"rps": rps_ratio, "p50": p50_ratio, "p99": p99_ratio},
        "server": extra["server"], "api_env": args.api_env,
    }
    for section in ("api", "raw"):
        for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms"):
            result[section][key] = round(result[section][key], 3)
        counts = result[section]["db_per_request"]
        for key in ("commits", "rollbacks", "rows_inserted"):
            if key in counts:
                counts[key] = round(counts[key], 3)
    line = json.dumps(result, separators=(",", ":"))
    print(line)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(line + "\n")
    return result


# -- main ---------------------------------------------------------------------------------

def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    return guarded(run, parse_args(argv))


def guarded(body: Callable[[argparse.Namespace, contextlib.ExitStack], None],
            args: argparse.Namespace) -> int:
    """Run a bench's `body`, stopping whatever it started (registered on the exit stack)
    however it ends: done, failed, or interrupted."""
    # Also when started from a shell that ignores SIGINT in background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    cleanup = contextlib.ExitStack()
    try:
        body(args, cleanup)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the API, Redis and PostgreSQL", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cleanup.close()


class Databases(msgspec.Struct, kw_only=True):
    url: str
    pg: Any  # pgserver's PostgresServer
    redis: EmbeddedRedis


def start_databases(args: argparse.Namespace, cleanup: contextlib.ExitStack) -> Databases:
    """The bench's embedded PostgreSQL under `--home` (dropped first with `--reset`),
    migrated, and its Redis (started later, for the API only); both stopped by `cleanup`."""
    import logging

    from service.cli import migrate
    from service.embedded import (
        DATABASE,
        EmbeddedRedis,
        drop_database,
        start_postgres,
        stop_postgres,
    )

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    home: Path = args.home
    home.mkdir(parents=True, exist_ok=True)
    print(f"embedded PostgreSQL under {home / 'pg'} ...", flush=True)
    prune_stale_handles(home / "pg")
    if args.reset and (home / "pg").exists():
        admin, _ = start_postgres(home, "postgres")
        cleanup.callback(stop_postgres, admin)
        drop_database(admin, DATABASE)
    pg, url = start_postgres(home)
    cleanup.callback(stop_postgres, pg)
    redis = EmbeddedRedis(home)
    cleanup.callback(redis.stop)
    migrate(url)
    return Databases(url=url, pg=pg, redis=redis)


def run(args: argparse.Namespace, cleanup: contextlib.ExitStack) -> None:
    state_file = args.home / "seed.json"
    if args.reset:
        state_file.unlink(missing_ok=True)
    home: Path = args.home
    databases = start_databases(args, cleanup)
    url, pg, redis = databases.url, databases.pg, databases.redis
    dsn = asyncpg_dsn(url)
    previous_seed = json.loads(state_file.read_text()) if state_file.exists() else None
    prepared = asyncio.run(prepare(url, args.patients, args.batch, args.seed_jobs))
    if prepared.seed_seconds is not None:
        state_file.write_text(json.dumps({
            "patients": prepared.patients_in_db, "seeded_now": prepared.seeded_now,
            "seconds": round(prepared.seed_seconds, 1), "batch": args.batch,
            "jobs": args.seed_jobs, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
        print(f"seeded {prepared.seeded_now} patients in {prepared.seed_seconds:.1f} s "
              f"({prepared.seeded_now / prepared.seed_seconds:.0f} patients/s)")
    elif previous_seed:
        print(f"reusing {prepared.patients_in_db} seeded patients (last seeding: "
              f"{previous_seed['seeded_now']} in {previous_seed['seconds']:.1f} s)")
    if len(prepared.plan_ids) < args.patients:
        raise RuntimeError(f"only {len(prepared.plan_ids)} active plans for "
                           f"{args.patients} patients")
    if args.show_sql:
        for statement in (prepared.sql.auth, *prepared.sql.plan, prepared.sql.audit):
            print(f"-- params {statement.params}\n{statement.sql};\n")

    track = tracker(cleanup)
    common = {"concurrency": args.concurrency, "warmup_s": args.warmup,
              "duration_s": args.duration, "max_requests": args.max_requests,
              "plan_ids": prepared.plan_ids}

    # 1. Baseline: the endpoint's SQL through raw asyncpg, from its own process.
    print(f"baseline: raw asyncpg, {args.concurrency} connections, "
          f"{args.warmup:g} + {args.duration:g} s ...", flush=True)
    if args.quiet_wait:
        wait_for_quiet(args.quiet_wait)
    before = db_counters(dsn)
    postmaster = pg.get_pid()
    account = CpuAccount()
    account.watch("bench", os.getpid(), tree=False)
    if postmaster:
        account.watch("postgres", postmaster)
    raw = run_loadgen(Config(mode="sql", dsn=dsn, sql=prepared.sql, **common), account, None,
                      track)
    db_raw = per_request(before, db_counters(dsn), raw["total_requests"])

    # 2. The API in its own process, driven over loopback by another one.
    redis_url = redis.start()
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = home / "api.log"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url,
           "CONCORD_HOME": str(home), **dict(e.split("=", 1) for e in args.api_env)}
    before = db_counters(dsn)
    with open(log_path, "wb") as log:
        api_proc = spawn([sys.executable, "-m", "service", "serve", "--host", "127.0.0.1",
                          "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    track(api_proc)
    wait_ready(base, api_proc, log_path)
    body_bytes = smoke_check(base, prepared.token, prepared.plan_ids[0])
    watch = ProcessWatch(api_proc.pid)
    rss_before = watch.rss()
    print(f"API: {args.concurrency} connections over loopback to {base}, "
          f"{args.warmup:g} + {args.duration:g} s ...", flush=True)
    if args.quiet_wait:
        wait_for_quiet(args.quiet_wait)
    account = CpuAccount()
    account.watch("bench", os.getpid(), tree=False)
    account.watch("api", api_proc.pid)
    if postmaster:
        account.watch("postgres", postmaster)
    api = run_loadgen(Config(mode="http", base_url=base, token=prepared.token, **common),
                      account, watch, track)
    vm_hwm = watch.vm_hwm()
    if api_proc.poll() is not None:
        raise RuntimeError(f"the API died during the run:\n{_tail(log_path)}")
    stop_process(api_proc)  # its pool closes, so PostgreSQL has flushed its counters
    db_api = per_request(before, db_counters(dsn), api["total_requests"] + 1)

    peak = max(watch.peak_rss, vm_hwm or 0)
    report(args, prepared, raw, api, {
        "api_peak_rss_mb": _mb(peak), "api_vmhwm_mb": _mb(vm_hwm),
        "api_rss_before_mb": _mb(rss_before),
        "db_api": db_api, "db_raw": db_raw, "body_bytes": body_bytes,
        "previous_seed": previous_seed,
        "server": {"uvicorn_loop": "uvloop" if _has("uvloop") else "asyncio",
                   "uvicorn_http": "httptools" if _has("httptools") else "h11",
                   "workers": 1},
    })


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    raise SystemExit(main())
