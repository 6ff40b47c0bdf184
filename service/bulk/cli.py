"""`python -m service import-fhir PATH... --clinic SLUG`: the operator's door to the
import. Exit status: 0 when nothing was rejected, 1 when something was (see the rejects
file), 2 on bad usage."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.bulk.sources import REJECTS_SUFFIX

if TYPE_CHECKING:
    from domain.actor import Actor
    from service.bulk.report import Summary

USAGE = 2


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "import-fhir",
        help="load FHIR R4 files (Synthea Bundles, Bulk Data NDJSON) into a clinic",
        description="Load FHIR R4 resources into a clinic through the FHIR write path: "
        "transaction Bundles (one per Synthea patient) all or nothing; NDJSON lines and "
        "the entries of other Bundles one by one. Types Concord does not keep are skipped "
        "and counted; a re-run of the same files changes nothing.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="files, or directories searched for *.json and *.ndjson")
    parser.add_argument("--clinic", required=True, help="clinic slug, e.g. demo")
    parser.add_argument(
        "--source", default="default",
        help="where the files came from (e.g. synthea, riverside-ehr): resource ids are "
        "taken as unique within a source (default: %(default)s)")
    parser.add_argument(
        "--lead", type=uuid.UUID, metavar="STAFF_ID",
        help="a clinician who leads the team of every imported CareTeam naming none of "
        "the clinic's staff; without it such plans can only be imported as drafts whose "
        "goals carry their owning discipline")
    parser.add_argument(
        "--staff", type=uuid.UUID, metavar="STAFF_ID",
        help="the admin or coordinator the import acts as (default: the clinic's first "
        "admin); the audit trail names them")
    parser.add_argument(
        "--rejects", type=Path, metavar="PATH",
        help=f"where rejected resources go, one JSON object a line (default: the first "
        f"PATH + {REJECTS_SUFFIX})")


def run(url: str, args: argparse.Namespace, base: str) -> int:
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"import-fhir: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return USAGE
    rejects = args.rejects or Path(f"{args.paths[0].resolve()}{REJECTS_SUFFIX}")
    summary = asyncio.run(_run(url, args, base, rejects))
    if summary is None:
        return USAGE
    for line in summary.lines():
        print(line)
    return 1 if summary.rejected else 0


async def _run(url: str, args: argparse.Namespace, base: str, rejects: Path) -> Summary | None:
    # Imported here, as the other commands do, so that `--help` and `serve` start quickly.
    from service.bulk.loader import Options, import_files
    from service.bulk.sources import discover
    from service.db.engine import make_engine

    if not discover(args.paths):
        print("import-fhir: no *.json or *.ndjson files in the paths given", file=sys.stderr)
        return None
    engine = make_engine(url, null_pool=True)
    try:
        actor = await _actor(engine, args.clinic, args.staff)
        if actor is None:
            return None
        if args.lead is not None and not await _is_staff(engine, actor, args.lead):
            print(f"import-fhir: --lead {args.lead} is not active staff of clinic "
                  f"{args.clinic!r}", file=sys.stderr)
            return None
        options = Options(base=base, rejects=rejects, source=args.source, lead=args.lead)
        return await import_files(engine, actor, args.paths, options, sys.stderr)
    finally:
        await engine.dispose()


async def _actor(engine: Any, slug: str, staff_id: uuid.UUID | None) -> Actor | None:
    from domain.actor import Actor
    from domain.errors import NotFound
    from domain.vocab import Role
    from service.db.uow import unit_of_work

    async with unit_of_work(engine) as uow:
        clinic_id = await uow.clinics.id_by_slug(slug)
        if clinic_id is None:
            print(f"import-fhir: no clinic with slug {slug!r}", file=sys.stderr)
            return None
        try:
            staff = (await uow.staff.get(clinic_id, staff_id) if staff_id
                     else await uow.staff.first_with_role(clinic_id, Role.ADMIN))
        except NotFound:
            staff = None
        if staff is None or not staff.active or staff.role not in (Role.ADMIN, Role.COORDINATOR):
            print("import-fhir: the import acts as an active admin or coordinator of the "
                  "clinic: give one with --staff", file=sys.stderr)
            return None
        return Actor(clinic_id=clinic_id, staff_id=staff.id, role=staff.role,
                     discipline=staff.discipline)


async def _is_staff(engine: Any, actor: Actor, staff_id: uuid.UUID) -> bool:
    from domain.errors import NotFound
    from service.db.uow import unit_of_work

    async with unit_of_work(engine) as uow:
        try:
            staff = await uow.staff.get(actor.clinic_id, staff_id)
        except NotFound:
            return False
        return staff.active
