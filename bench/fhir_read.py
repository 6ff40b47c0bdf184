"""Benchmark the FHIR read side against the domain read of the same plans, in one run.

    uv run python -m bench.fhir_read --patients 1000 --duration 10
    uv run python -m bench.fhir_read --help

What it does, all on this machine and on loopback / Unix sockets only:

1. starts a dedicated embedded PostgreSQL under `--home` (default `.concord/bench-fhir`),
   migrates it and seeds a `bench` clinic through the app's own use cases, exactly as
   `bench.care_plan_read` does (its `prepare`). Every plan written so is projected into
   the FHIR store (`fhir_resources`, `fhir_search`, ADR 0006); the bench checks that each
   plan it reads is there.
2. starts the API as its own process (`python -m service serve`, embedded Redis) and,
   for each endpoint in turn, drives it from a separate process (`bench.loadgen http`)
   with `--concurrency` keep-alive connections over the same random plans:
     baseline    GET /api/v1/care-plans/{plan}       (the domain read)
     read        GET /fhir/CarePlan/{plan}           (stored JSON)
     search      GET /fhir/CarePlan?patient={patient}&_include=CarePlan:goal
     everything  GET /fhir/Patient/{patient}/$everything?_count=50
3. prints requests/s, p50 and p99 of each, each as a ratio to the baseline measured in
   the same run against the same API process, the API's peak RSS, then one JSON line;
   stops the API, Redis and PostgreSQL on the way out, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import msgspec

from bench.care_plan_read import (
    REPO_ROOT,
    CpuAccount,
    Prepared,
    ProcessWatch,
    _has,
    _mb,
    _ratio,
    _tail,
    bench_parser,
    checked_args,
    free_port,
    guarded,
    prepare,
    run_loadgen,
    spawn,
    start_databases,
    tracker,
    wait_for_quiet,
    wait_ready,
)
from bench.loadgen import Config


class Endpoint(msgspec.Struct, frozen=True):
    key: str
    name: str  # for the table
    template: str  # formatted with plan= and patient=


BASELINE = Endpoint("domain", "api/v1 care plan (baseline)", "/api/v1/care-plans/{plan}")
ENDPOINTS = (
    Endpoint("read", "FHIR CarePlan read", "/fhir/CarePlan/{plan}"),
    Endpoint("search", "FHIR CarePlan search +_include",
             "/fhir/CarePlan?patient={patient}&_include=CarePlan:goal"),
    Endpoint("everything", "FHIR Patient/$everything",
             "/fhir/Patient/{patient}/$everything?_count=50"),
)


# -- arguments -------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser("python -m bench.fhir_read", __doc__, patients=1000,
                          home=REPO_ROOT / ".concord" / "bench-fhir")
    parser.add_argument("--only", action="append", default=[],
                        choices=[e.key for e in ENDPOINTS],
                        help="measure only these FHIR endpoints besides the baseline "
                             "(repeatable; default all three)")
    return checked_args(parser, argv)


# -- database: the plans' patients, the store, the audit trail ---------------------------

class Clinic(msgspec.Struct, kw_only=True):
    targets: list[tuple[str, str]]  # (plan id, patient id), in prepare's order
    stored: dict[str, int]  # current resources in the FHIR store, by type
    search_rows: int


async def inspect_clinic(url: str, clinic_id: str, plan_ids: list[str]) -> Clinic:
    """Each plan's patient, and what the FHIR store holds for the clinic. A plan read
    here that was never projected would turn the FHIR runs into 404s: refuse early."""
    import sqlalchemy as sa

    from service.db import tables as t
    from service.db.engine import make_engine

    clinic = uuid.UUID(clinic_id)
    r, s = t.fhir_resources, t.fhir_search
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            owners = {str(plan): str(patient) for plan, patient in (await conn.execute(
                sa.select(t.care_plans.c.id, t.care_plans.c.patient_id).where(
                    t.care_plans.c.id.in_([uuid.UUID(p) for p in plan_ids]))))}
            projected = set((await conn.execute(sa.select(r.c.id).where(
                r.c.clinic_id == clinic, r.c.resource_type == "CarePlan",
                r.c.deleted.is_(False), r.c.id.in_(plan_ids)))).scalars())
            stored = {kind: int(n) for kind, n in (await conn.execute(
                sa.select(r.c.resource_type, sa.func.count()).where(
                    r.c.clinic_id == clinic, r.c.deleted.is_(False))
                .group_by(r.c.resource_type).order_by(r.c.resource_type)))}
            search_rows = int((await conn.execute(sa.select(sa.func.count()).select_from(s)
                                                  .where(s.c.clinic_id == clinic))).scalar_one())
    finally:
        await engine.dispose()
    missing = len(plan_ids) - len(projected)
    if missing:
        raise RuntimeError(f"{missing} of the {len(plan_ids)} plans have no CarePlan in the "
                           "FHIR store; run with --reset to seed afresh")
    return Clinic(targets=[(p, owners[p]) for p in plan_ids], stored=stored,
                  search_rows=search_rows)


async def _last_audit_id(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        return int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM audit_events"))
    finally:
        await conn.close()


def last_audit_id(url: str) -> int:
    """Every FHIR read notes each patient resource it returns in the audit trail, in the
    request's transaction; the identity column's advance counts those rows."""
    return asyncio.run(_last_audit_id(url))


# -- the API process ---------------------------------------------------------------------

def smoke_check(base: str, token: str, endpoint: Endpoint, plan: str, patient: str
                ) -> tuple[int, str]:
    """One real request before measuring: the endpoint answers 200 with what it should.
    Returns the body's size and a word on its shape."""
    import httpx

    path = endpoint.template.format(plan=plan, patient=patient)
    response = httpx.get(base + path, trust_env=False, timeout=10.0,
                         headers={"Authorization": f"Bearer {token}"})
    body = response.json() if response.status_code == 200 else {}
    if endpoint.key == "domain":
        ok = body.get("id") == plan
        shape = (f"team {len(body.get('team', []))}, goals {len(body.get('goals', []))}, "
                 f"activities {len(body.get('activities', []))}")
    elif endpoint.key == "read":
        ok = ((body.get("resourceType"), body.get("id")) == ("CarePlan", plan)
              and "versionId" in body.get("meta", {}))
        shape = f"CarePlan, meta.versionId {body.get('meta', {}).get('versionId')}"
    else:
        entries = body.get("entry", [])
        kinds: dict[str, int] = {}
        for entry in entries:
            kind = entry.get("resource", {}).get("resourceType", "?")
            kinds[kind] = kinds.get(kind, 0) + 1
        wanted = {"search": {"CarePlan", "Goal"}, "everything": {"Patient", "CarePlan"}}
        ok = body.get("type") == "searchset" and wanted[endpoint.key] <= kinds.keys()
        shape = f"Bundle total {body.get('total')}: " + ", ".join(
            f"{n} {kind}" for kind, n in sorted(kinds.items()))
    if not ok:
        raise RuntimeError(f"smoke request GET {path} failed: {response.status_code} "
                           f"{response.text[:500]}")
    return len(response.content), shape


# -- report -------------------------------------------------------------------------------

_KEEP = ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "requests",
         "total_requests", "errors", "machine_busy_pct", "cpu_api_pct", "cpu_postgres_pct",
         "cpu_client_pct", "cpu_others_pct")


def summary(endpoint: Endpoint, result: dict[str, Any], baseline: dict[str, Any]
            ) -> dict[str, Any]:
    out: dict[str, Any] = {"path": endpoint.template.format(plan="{id}", patient="{patient}")}
    out.update({k: result[k] for k in _KEEP if k in result})
    for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms"):
        out[key] = round(out[key], 3)
    total = max(result["total_requests"], 1)
    out["api_cpu_ms_per_request"] = round(
        result.get("cpu_api_pct", 0.0) / 100 * result["wall_s"] * 1000 / total, 2)
    for key in ("body_bytes", "shape", "audit_rows_per_request", "peak_rss_mb"):
        out[key] = result[key]
    out["ratio"] = {"rps": _ratio(result["rps"], baseline["rps"]),
                    "p50": _ratio(result["p50_ms"], baseline["p50_ms"]),
                    "p99": _ratio(result["p99_ms"], baseline["p99_ms"])}
    return out


def report(args: argparse.Namespace, prepared: Prepared, clinic: Clinic,
           runs: list[tuple[Endpoint, dict[str, Any]]], extra: dict[str, Any]) -> None:
    baseline = runs[0][1]
    rows = [(endpoint, summary(endpoint, result, baseline)) for endpoint, result in runs]
    seed = ("reused" if prepared.seed_seconds is None
            else f"{prepared.seeded_now} seeded now in {prepared.seed_seconds:.1f} s")
    print()
    print(f"FHIR reads against the domain read: {len(clinic.targets)} plans of "
          f"{prepared.patients_in_db} seeded patients ({seed}); concurrency "
          f"{args.concurrency}, warm-up {args.warmup:g} s, measured {args.duration:g} s each, "
          f"{os.cpu_count()} CPUs")
    print("FHIR store: " + ", ".join(f"{n} {kind}" for kind, n in clinic.stored.items())
          + f"; {clinic.search_rows} search index rows")
    for endpoint, row in rows:
        print(f"  {endpoint.name:31} GET {row['path']}  ({row['body_bytes']} bytes; "
              f"{row['shape']})")
    header = (f"{'':33}{'req/s':>7}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}"
              f"{'requests':>9}{'errors':>7}{'x req/s':>9}{'x p50':>7}{'x p99':>7}")
    print(header)
    print("-" * len(header))
    for endpoint, row in rows:
        errors = sum(row["errors"].values())
        ratio = row["ratio"]
        print(f"{endpoint.name:33}{row['rps']:7.0f}{row['p50_ms']:8.2f}{row['p90_ms']:8.2f}"
              f"{row['p99_ms']:8.2f}{row['max_ms']:8.1f}{row['requests']:9d}{errors:7d}"
              f"{ratio['rps'] or 0:9.3f}{ratio['p50'] or 0:7.2f}{ratio['p99'] or 0:7.2f}")
    print("-" * len(header))
    print()
    print(f"API process: peak RSS {extra['peak_rss_mb']} MB (VmHWM {extra['vmhwm_mb']} MB; "
          f"{extra['rss_before_mb']} MB before load); uvicorn {extra['server']['uvicorn_http']}/"
          f"{extra['server']['uvicorn_loop']}, 1 worker")
    print(f"{'per run':33}{'API CPU ms/req':>15}{'audit rows/req':>15}{'API RSS MB':>11}"
          f"   CPU % of one core: API postgres client others")
    for endpoint, row in rows:
        print(f"{endpoint.name:33}{row['api_cpu_ms_per_request']:15.2f}"
              f"{row['audit_rows_per_request']:15.2f}{row['peak_rss_mb']:11.1f}"
              f"{'':22}{row.get('cpu_api_pct', 0):4.0f}{row.get('cpu_postgres_pct', 0):9.0f}"
              f"{row.get('cpu_client_pct', 0):7.0f}{row.get('cpu_others_pct', 0):7.0f}")
    for endpoint, row in rows:
        if row["errors"]:
            print(f"errors, {endpoint.name}: {row['errors']}")
    result = {
        "bench": "fhir_read", "baseline": BASELINE.key,
        "patients": len(clinic.targets), "patients_in_db": prepared.patients_in_db,
        "concurrency": args.concurrency, "warmup_s": args.warmup, "duration_s": args.duration,
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "seed": {"seeded_now": prepared.seeded_now, "seconds": prepared.seed_seconds},
        "store": clinic.stored, "search_rows": clinic.search_rows,
        "endpoints": {endpoint.key: row for endpoint, row in rows},
        "api": {k: extra[k] for k in ("peak_rss_mb", "vmhwm_mb", "rss_before_mb")},
        "server": extra["server"], "api_env": args.api_env,
    }
    line = json.dumps(result, separators=(",", ":"))
    print(line)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(line + "\n")


# -- main ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    return guarded(run, parse_args(argv))


def run(args: argparse.Namespace, cleanup: contextlib.ExitStack) -> None:
    home: Path = args.home
    databases = start_databases(args, cleanup)
    url, pg, redis = databases.url, databases.pg, databases.redis
    prepared = asyncio.run(prepare(url, args.patients, args.batch, args.seed_jobs))
    if prepared.seed_seconds is not None:
        print(f"seeded {prepared.seeded_now} patients in {prepared.seed_seconds:.1f} s "
              f"({prepared.seeded_now / prepared.seed_seconds:.0f} patients/s)")
    if len(prepared.plan_ids) < args.patients:
        raise RuntimeError(f"only {len(prepared.plan_ids)} active plans for "
                           f"{args.patients} patients")
    clinic = asyncio.run(inspect_clinic(url, prepared.clinic_id, prepared.plan_ids))

    track = tracker(cleanup)
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = home / "api.log"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis.start(),
           "CONCORD_HOME": str(home), **dict(e.split("=", 1) for e in args.api_env)}
    with open(log_path, "wb") as log:
        api_proc = spawn([sys.executable, "-m", "service", "serve", "--host", "127.0.0.1",
                          "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    track(api_proc)
    wait_ready(base, api_proc, log_path)
    endpoints = [BASELINE, *(e for e in ENDPOINTS if not args.only or e.key in args.only)]
    plan, patient = clinic.targets[0]
    checked = {e.key: smoke_check(base, prepared.token, e, plan, patient) for e in endpoints}
    rss_before = ProcessWatch(api_proc.pid).rss()
    postmaster = pg.get_pid()

    runs: list[tuple[Endpoint, dict[str, Any]]] = []
    peak = 0
    for endpoint in endpoints:
        print(f"{endpoint.name}: {args.concurrency} connections to {base}, "
              f"{args.warmup:g} + {args.duration:g} s ...", flush=True)
        if args.quiet_wait:
            wait_for_quiet(args.quiet_wait)
        watch = ProcessWatch(api_proc.pid)
        account = CpuAccount()
        account.watch("bench", os.getpid(), tree=False)
        account.watch("api", api_proc.pid)
        if postmaster:
            account.watch("postgres", postmaster)
        audit_before = last_audit_id(url)
        paths = [endpoint.template.format(plan=p, patient=q) for p, q in clinic.targets]
        result = run_loadgen(Config(mode="http", base_url=base, token=prepared.token,
                                    concurrency=args.concurrency, warmup_s=args.warmup,
                                    duration_s=args.duration, max_requests=args.max_requests,
                                    plan_ids=[], paths=paths), account, watch, track)
        if api_proc.poll() is not None:
            raise RuntimeError(f"the API died during the run:\n{_tail(log_path)}")
        audited = last_audit_id(url) - audit_before
        body_bytes, shape = checked[endpoint.key]
        result.update(body_bytes=body_bytes, shape=shape, peak_rss_mb=_mb(watch.peak_rss),
                      audit_rows_per_request=round(audited / max(result["total_requests"], 1),
                                                   2))
        peak = max(peak, watch.peak_rss)
        runs.append((endpoint, result))
    vm_hwm = ProcessWatch(api_proc.pid).vm_hwm()
    report(args, prepared, clinic, runs, {
        "peak_rss_mb": _mb(max(peak, vm_hwm or 0)), "vmhwm_mb": _mb(vm_hwm),
        "rss_before_mb": _mb(rss_before),
        "server": {"uvicorn_loop": "uvloop" if _has("uvloop") else "asyncio",
                   "uvicorn_http": "httptools" if _has("httptools") else "h11",
                   "workers": 1},
    })


if __name__ == "__main__":
    raise SystemExit(main())
