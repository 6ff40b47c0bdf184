"""`python -m service smart-client`: an operator registers a system for a clinic from the
console (the admin API does the same over HTTP)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from domain.errors import Invalid

if TYPE_CHECKING:
    from service.smart.clients import SmartClient


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "smart-client",
        help="register a SMART Backend Services client (an EHR) for a clinic; "
        "prints its client_id (last line)",
    )
    parser.add_argument("--clinic", required=True, help="clinic slug, e.g. demo")
    parser.add_argument("--name", required=True, help='the system, e.g. "Riverside EHR"')
    keys = parser.add_mutually_exclusive_group(required=True)
    keys.add_argument("--jwks", type=Path, help="a file with its public JWKS (or one JWK)")
    keys.add_argument("--jwks-url", help="an https URL serving its public JWKS")
    parser.add_argument(
        "--scopes",
        default="system/*.rs",
        help='space-separated system/ scopes it may be granted (default "system/*.rs")',
    )


def load_jwks(path: Path) -> Any:
    """A JWKS file, or a file holding a single public JWK (wrapped into a set)."""
    try:
        document = msgspec.json.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        raise Invalid("jwks", f"cannot read a JSON key set from {path}: {exc}") from None
    if isinstance(document, dict) and "kty" in document:
        return {"keys": [document]}
    return document


async def register(url: str, args: argparse.Namespace, public_base_url: str) -> SmartClient | None:
    # Imported here, as the other commands do, so that `--help` and `serve` start quickly.
    from service.db.engine import make_engine
    from service.db.uow import unit_of_work
    from service.smart.registration import register_for_clinic
    from service.smart.token import token_url

    jwks = None if args.jwks is None else load_jwks(args.jwks)
    engine = make_engine(url, null_pool=True)
    try:
        async with unit_of_work(engine) as uow:
            clinic_id = await uow.clinics.id_by_slug(args.clinic)
            if clinic_id is None:
                print(f"no clinic with slug {args.clinic!r}", file=sys.stderr)
                return None
            client = await register_for_clinic(
                uow, clinic_id, name=args.name, scopes=args.scopes, jwks=jwks,
                jwks_url=args.jwks_url,
            )
    finally:
        await engine.dispose()
    print(
        f"registered {client.name!r} for clinic {args.clinic!r} with scopes {client.scopes}; "
        f"it acts as the staff member {client.staff_id}; token endpoint "
        f"{token_url(public_base_url)}; client_id:",
        file=sys.stderr,
    )
    return client
