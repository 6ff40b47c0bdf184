"""`python -m service dev | serve | worker | migrate | token | clinic | smart-client | seed |
import-fhir`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import msgspec

from service.settings import Settings


def main(argv: list[str] | None = None) -> int:
    # pgserver's platformdirs warns on machines without XDG_RUNTIME_DIR; it is harmless
    # and would break the one-JSON-object-per-line log stream.
    warnings.filterwarnings("ignore", module="platformdirs")
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser(
        "dev", help="everything on embedded PostgreSQL and Redis, with demo data"
    )
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--reset", action="store_true", help="drop the data and seed again")
    serve = commands.add_parser("serve", help="the API (production)")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    commands.add_parser("worker", help="the arq worker (production)")
    commands.add_parser("migrate", help="apply database migrations (idempotent)")
    token = commands.add_parser("token", help="print a fresh bearer token (last line)")
    token.add_argument("--clinic", required=True, help="clinic slug, e.g. demo")
    token.add_argument("--role", choices=["admin", "coordinator", "clinician"], default="admin")
    token.add_argument(
        "--staff", type=uuid.UUID, help="a staff id instead of the first with --role"
    )
    clinic = commands.add_parser("clinic", help="create a clinic with its first admin")
    clinic.add_argument("--slug", required=True)
    clinic.add_argument("--name", required=True)
    clinic.add_argument("--admin-name", default="Clinic administrator")
    from service.smart import cli as smart_cli

    smart_cli.add_parser(commands)
    seed = commands.add_parser("seed", help="seed the demo clinic if it is missing")
    seed.add_argument("--patients", type=int, default=6)
    from service.bulk import cli as bulk_cli

    bulk_cli.add_parser(commands)
    args = parser.parse_args(argv)
    handler = {
        "dev": run_dev,
        "serve": run_serve,
        "worker": run_worker,
        "migrate": run_migrate,
        "token": run_token,
        "seed": run_seed,
        "clinic": run_clinic,
        "smart-client": run_smart_client,
        "import-fhir": run_import_fhir,
    }[args.command]
    return handler(args)


# -- production entry points ---------------------------------------------------------


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service import logging as concord_logging

    settings = Settings.from_env()
    concord_logging.configure(settings.log_level, settings.log_format)
    uvicorn.run(
        "service.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        loop="uvloop",
        http="httptools",
        server_header=False,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    return 0


def run_worker(_: argparse.Namespace) -> int:
    from arq.worker import run_worker as arq_run

    from service.settings import Settings as S
    from workers.settings import WorkerSettings, redis_settings

    arq_run(WorkerSettings, redis_settings=redis_settings(S.from_env()))  # type: ignore[arg-type]
    return 0


def run_migrate(_: argparse.Namespace) -> int:
    with embedded_database(Settings.from_env()) as url:
        migrate(url)
    print("migrations applied")
    return 0


def migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(Path(__file__).resolve().parent.parent / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")
    asyncio.run(_backfill_fhir_store(url))


async def _backfill_fhir_store(url: str) -> None:
    """Clinics whose data predates the FHIR store get it projected (once)."""
    from fhir.store.backfill import backfill
    from service.db.engine import make_engine

    engine = make_engine(url, null_pool=True)
    try:
        count = await backfill(engine)
    finally:
        await engine.dispose()
    if count:
        print(f"{count} clinic(s) projected into the FHIR store", file=sys.stderr)


def run_token(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    with embedded_database(settings) as url:
        issued = asyncio.run(_issue_token(url, args.clinic, args.role, args.staff))
    if issued is None:
        return 1
    holder, secret = issued
    print(f"token for {holder}:", file=sys.stderr)
    print(secret)
    return 0


async def _issue_token(
    url: str, clinic: str, role: str, staff_id: uuid.UUID | None
) -> tuple[str, str] | None:
    """A token for the staff member, and who that is in words."""
    from domain.vocab import Role
    from service.db.engine import make_engine
    from service.db.uow import unit_of_work
    from service.usecases.staff import issue_token

    engine = make_engine(url, null_pool=True)
    try:
        async with unit_of_work(engine) as uow:
            clinic_id = await uow.clinics.id_by_slug(clinic)
            if clinic_id is None:
                print(f"no clinic with slug {clinic!r}", file=sys.stderr)
                return None
            staff = (
                await uow.staff.get(clinic_id, staff_id)
                if staff_id
                else await uow.staff.first_with_role(clinic_id, Role(role))
            )
            if staff is None:
                print(f"no active {role} in clinic {clinic!r}", file=sys.stderr)
                return None
            _, secret = await issue_token(uow, clinic_id, staff, "cli", None)
            return f"{staff.name} ({staff.role.value}, {staff.discipline})", secret
    finally:
        await engine.dispose()


def run_clinic(args: argparse.Namespace) -> int:
    """A new tenant: the standard disciplines and one admin, whose token is printed (last
    line) so that the admin can add everyone else over the API."""
    with embedded_database(Settings.from_env()) as url:
        secret = asyncio.run(_create_clinic(url, args.slug, args.name, args.admin_name))
    if secret is None:
        return 1
    print(secret)
    return 0


async def _create_clinic(url: str, slug: str, name: str, admin_name: str) -> str | None:
    from domain.staff import Discipline, Staff
    from domain.vocab import NON_CLINICAL_DISCIPLINE, STANDARD_DISCIPLINES, Role
    from service.db.engine import make_engine
    from service.db.uow import unit_of_work
    from service.usecases.staff import issue_token

    engine = make_engine(url, null_pool=True)
    try:
        async with unit_of_work(engine) as uow:
            if await uow.clinics.id_by_slug(slug) is not None:
                print(f"a clinic with slug {slug!r} exists already", file=sys.stderr)
                return None
            clinic_id = uuid.uuid4()
            await uow.clinics.add(clinic_id, slug, name)
            for code, display in {
                **STANDARD_DISCIPLINES,
                NON_CLINICAL_DISCIPLINE: "Administration",
            }.items():
                await uow.clinics.add_discipline(clinic_id, Discipline(code=code, display=display))
            admin = Staff(
                id=uuid.uuid4(),
                clinic_id=clinic_id,
                name=admin_name,
                discipline=NON_CLINICAL_DISCIPLINE,
                role=Role.ADMIN,
            )
            await uow.staff.add(admin)
            _, secret = await issue_token(uow, clinic_id, admin, "cli", None)
            print(f"clinic {slug!r} created; admin token:", file=sys.stderr)
            return secret
    finally:
        await engine.dispose()


def run_smart_client(args: argparse.Namespace) -> int:
    from domain.errors import Invalid
    from service.smart import cli as smart_cli

    settings = Settings.from_env()
    try:
        with embedded_database(settings) as url:
            client = asyncio.run(smart_cli.register(url, args, settings.public_base_url))
    except Invalid as exc:
        print(f"{exc.field}: {exc.detail}", file=sys.stderr)
        return 2
    if client is None:
        return 1
    print(client.client_id)
    return 0


def run_import_fhir(args: argparse.Namespace) -> int:
    from service.bulk import cli as bulk_cli

    settings = Settings.from_env()
    with embedded_database(settings) as url:
        return bulk_cli.run(url, args, f"{settings.public_base_url}/fhir")


def run_seed(args: argparse.Namespace) -> int:
    with embedded_database(Settings.from_env()) as url:
        migrate(url)
        created = asyncio.run(seed_demo(url, args.patients))
    print("demo clinic seeded" if created else "demo clinic already there")
    return 0


async def seed_demo(url: str, patients: int = 6) -> bool:
    from service.db.engine import make_engine
    from service.seed import DEMO_SLUG, demo_exists, seed_clinic, seed_patients

    engine = make_engine(url, null_pool=True)
    try:
        if await demo_exists(engine):
            return False
        clinic_id, staff = await seed_clinic(engine, DEMO_SLUG, "Demo Integrative Pain Clinic")
        await seed_patients(engine, clinic_id, staff, patients)
        return True
    finally:
        await engine.dispose()


# -- embedded servers ----------------------------------------------------------------


class embedded_database:
    """DATABASE_URL when set; else the embedded server under CONCORD_HOME (kept running
    while the context is open, shared with any other process using the same folder)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server: Any = None

    def __enter__(self) -> str:
        if self.settings.database_url:
            return self.settings.database_url
        from service.embedded import start_postgres

        self.server, url = start_postgres(self.settings.home)
        return url

    def __exit__(self, *_: object) -> None:
        self.server = None


def run_dev(args: argparse.Namespace) -> int:
    from service.embedded import DATABASE, EmbeddedRedis, drop_database, start_postgres
    from service.mail_sink import MailSink

    settings = Settings.from_env()
    home = settings.home
    pg_server: Any = None
    redis: EmbeddedRedis | None = None
    if args.reset and home.exists():
        print(f"--reset: removing the data under {home}")
    database_url = settings.database_url
    if database_url is None:
        if args.reset and (home / "pg").exists():
            pg_server, _ = start_postgres(home, "postgres")
            drop_database(pg_server, DATABASE)
        pg_server, database_url = start_postgres(home)
    redis_url = settings.redis_url
    if redis_url is None:
        if args.reset:
            shutil.rmtree(home / "redis", ignore_errors=True)
        redis = EmbeddedRedis(home)
        redis_url = redis.start()
    migrate(database_url)
    seeded = asyncio.run(seed_demo(database_url))
    sink = MailSink(home / "mail", host="127.0.0.1", port=settings.smtp_port)
    sink.start()
    issued = asyncio.run(_issue_token(database_url, "demo", "admin", None))
    admin_token = issued[1] if issued else "(no admin in the demo clinic)"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CONCORD_HOME": str(home),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "CONCORD_PUBLIC_BASE_URL": f"http://{args.host}:{args.port}",
        "CONCORD_SECRET_KEY": settings.secret_key,
    }
    children = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "service", "serve",
             "--host", args.host, "--port", str(args.port)],
            env=env,
        ),
        subprocess.Popen([sys.executable, "-m", "service", "worker"], env=env),
    ]
    base = f"http://{args.host}:{args.port}"
    print(
        msgspec.json.format(
            msgspec.json.encode(
                {
                    "api": f"{base}/api/v1",
                    "openapi": f"{base}/schema/openapi.json",
                    "docs": f"{base}/schema/swagger",
                    "fhir": f"{base}/fhir",
                    "health": f"{base}/health/ready",
                    "mail": str(home / "mail"),
                    "demo_data": "seeded" if seeded else "reused",
                    "started_at": dt.datetime.now(dt.UTC).isoformat(),
                }
            ),
            indent=2,
        ).decode()
    )
    print(f"Concord is running at {base} (Ctrl-C stops everything)")
    print(f"OpenAPI: {base}/schema/openapi.json")
    print(f"Demo admin token: {admin_token}")
    sys.stdout.flush()
    try:
        _wait(children)
    finally:
        _stop(children)
        sink.stop()
        if redis is not None:
            redis.stop()
        if pg_server is not None:
            from service.embedded import stop_postgres

            stop_postgres(pg_server)
    return 0


def _wait(children: list[subprocess.Popen[bytes]]) -> None:
    stop = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop:
        if any(child.poll() is not None for child in children):
            print("a child process stopped; shutting down", file=sys.stderr)
            return
        time.sleep(0.2)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
