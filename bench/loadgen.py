"""The client side of `bench.care_plan_read`, run as its own process.

Reads one JSON config from stdin (so the bearer token never shows in `ps`), drives a
closed loop of `concurrency` workers over random plan ids, and prints one JSON result
line on stdout. Two modes:

- `http`: GET /api/v1/care-plans/{id} through httpx, one keep-alive connection per worker;
  or, when `paths` is given, GET one of those paths at random.
- `sql`:  the same SQL the endpoint issues (auth query, the 5 plan queries, the audit
  insert, in one transaction), straight through asyncpg, one connection per worker. The
  statements arrive already compiled by the orchestrator from the app's own SQLAlchemy
  objects, so this process imports nothing of the app.

Every loop is bounded by time (warm-up + duration) and by `max_requests`.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from typing import Any, Literal

import msgspec

from bench.stats import summarise

MAX_ERRORS = 1000


class Statement(msgspec.Struct, frozen=True):
    sql: str
    params: list[str]
    defaults: dict[str, Any] = {}

    def args(self, values: dict[str, Any]) -> list[Any]:
        return [values[n] if n in values else self.defaults[n] for n in self.params]


class SqlPlan(msgspec.Struct, frozen=True):
    auth: Statement
    plan: list[Statement]  # care plan row first, then team, goals, activities, reviews
    audit: Statement
    token_hash_hex: str


class Config(msgspec.Struct, frozen=True, kw_only=True):
    mode: Literal["http", "sql"]
    concurrency: int
    warmup_s: float
    duration_s: float
    max_requests: int
    plan_ids: list[str]
    seed: int = 1
    base_url: str = ""
    token: str = ""
    dsn: str = ""
    sql: SqlPlan | None = None
    # http: the paths to GET, one drawn at random per request; when empty,
    # /api/v1/care-plans/{id} for each of plan_ids.
    paths: list[str] = []


class Recorder:
    """Counts every request; keeps the latency of those started inside the measured
    window [warm-up end, end)."""

    def __init__(self, config: Config) -> None:
        self.start = time.perf_counter_ns()
        self.measure_start = self.start + int(config.warmup_s * 1e9)
        self.end = self.measure_start + int(config.duration_s * 1e9)
        self.max_requests = config.max_requests
        self.started = 0
        self.latencies: list[int] = []
        self.last_done = self.measure_start
        self.errors: dict[str, int] = {}
        self.error_count = 0
        self.first_error: str | None = None

    def may_start(self) -> bool:
        if (time.perf_counter_ns() >= self.end or self.started >= self.max_requests
                or self.error_count >= MAX_ERRORS):
            return False
        self.started += 1
        return True

    def done(self, t0: int, t1: int, error: str | None, detail: str | None = None) -> None:
        if error is not None:
            self.errors[error] = self.errors.get(error, 0) + 1
            self.error_count += 1
            if self.first_error is None:
                self.first_error = f"{error}: {detail}" if detail else error
            return
        if t0 >= self.measure_start:
            self.latencies.append(t1 - t0)
            self.last_done = max(self.last_done, t1)

    def result(self) -> dict[str, Any]:
        elapsed = (self.last_done - self.measure_start) / 1e9
        return {**summarise(self.latencies, elapsed), "elapsed_s": elapsed,
                "total_requests": self.started, "errors": self.errors,
                "first_error": self.first_error}


async def run_http(config: Config) -> dict[str, Any]:
    import httpx

    paths = config.paths or [f"/api/v1/care-plans/{i}" for i in config.plan_ids]
    limits = httpx.Limits(max_connections=config.concurrency,
                          max_keepalive_connections=config.concurrency)
    async with httpx.AsyncClient(base_url=config.base_url, limits=limits, trust_env=False,
                                 timeout=httpx.Timeout(30.0),
                                 headers={"Authorization": f"Bearer {config.token}"}) as client:
        recorder = Recorder(config)

        async def worker(index: int) -> None:
            rng = random.Random(config.seed * 1000 + index)
            while recorder.may_start():
                path = rng.choice(paths)
                t0 = time.perf_counter_ns()
                error = detail = None
                try:
                    response = await client.get(path)
                    if response.status_code != 200:
                        error, detail = f"HTTP {response.status_code}", response.text[:300]
                except httpx.HTTPError as exc:
                    error, detail = type(exc).__name__, str(exc)[:300]
                recorder.done(t0, time.perf_counter_ns(), error, detail)

        await asyncio.gather(*(worker(i) for i in range(config.concurrency)))
        return recorder.result()


async def run_sql(config: Config) -> dict[str, Any]:
    import asyncpg

    assert config.sql is not None
    plan = config.sql
    token_hash = bytes.fromhex(plan.token_hash_hex)
    ids = [uuid.UUID(i) for i in config.plan_ids]
    connections = [await asyncpg.connect(config.dsn) for _ in range(config.concurrency)]
    try:
        recorder = Recorder(config)

        async def worker(index: int, conn: Any) -> None:
            rng = random.Random(config.seed * 1000 + index)
            while recorder.may_start():
                plan_id = rng.choice(ids)
                t0 = time.perf_counter_ns()
                error = detail = None
                try:
                    async with conn.transaction():
                        auth = await conn.fetchrow(plan.auth.sql,
                                                   *plan.auth.args({"token_hash": token_hash}))
                        if auth is None:
                            raise LookupError("token not accepted")
                        values = {"plan_id": plan_id, "clinic_id": auth["clinic_id"]}
                        row = await conn.fetchrow(plan.plan[0].sql, *plan.plan[0].args(values))
                        if row is None:
                            raise LookupError("no such plan")
                        for statement in plan.plan[1:]:
                            await conn.fetch(statement.sql, *statement.args(values))
                        # The plan comes back as one JSON document; the audit row needs its
                        # patient, so the baseline decodes it as the API does.
                        document = msgspec.json.decode(row[0])
                        await conn.fetchrow(plan.audit.sql, *plan.audit.args({
                            "clinic_id": auth["clinic_id"], "actor_type": "staff",
                            "actor_id": auth["staff_id"], "action": "read",
                            "resource_type": "CarePlan", "resource_id": plan_id,
                            "patient_id": uuid.UUID(document["patient_id"]),
                            "client_address": "127.0.0.1",
                            "request_id": uuid.uuid4().hex}))
                except (asyncpg.PostgresError, LookupError) as exc:
                    error, detail = type(exc).__name__, str(exc)[:300]
                recorder.done(t0, time.perf_counter_ns(), error, detail)

        await asyncio.gather(*(worker(i, c) for i, c in enumerate(connections)))
        return recorder.result()
    finally:
        await asyncio.gather(*(c.close(timeout=5) for c in connections),
                             return_exceptions=True)


def main() -> int:
    config = msgspec.json.decode(sys.stdin.buffer.read(), type=Config)
    if not config.plan_ids and not config.paths:
        raise SystemExit("no plan ids")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        result = asyncio.run(run_http(config) if config.mode == "http" else run_sql(config))
    except KeyboardInterrupt:
        return 130
    wall = time.perf_counter() - wall0
    result.update(mode=config.mode, concurrency=config.concurrency, wall_s=wall,
                  cpu_s=time.process_time() - cpu0)
    sys.stdout.buffer.write(msgspec.json.encode(result) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
