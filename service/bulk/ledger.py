"""The import ledger: which source resource became which Concord resource."""

from __future__ import annotations

import uuid
from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db import tables as t

_L = t.fhir_import_ledger


async def lock(conn: AsyncConnection, clinic_id: uuid.UUID, source: str) -> None:
    """Two imports of the same source into one clinic take turns, a transaction at a
    time, so neither creates what the other is creating."""
    key = sa.func.hashtextextended(f"import-fhir:{clinic_id}:{source}", 0)
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


async def find(
    conn: AsyncConnection, clinic_id: uuid.UUID, source: str, refs: Collection[str]
) -> dict[str, str]:
    """source ref -> `Type/id` in Concord, for the refs imported before."""
    if not refs:
        return {}
    rows = await conn.execute(
        sa.select(_L.c.source_ref, _L.c.resource_type, _L.c.resource_id).where(
            _L.c.clinic_id == clinic_id, _L.c.source == source,
            _L.c.source_ref.in_(list(refs)))
    )
    return {row.source_ref: f"{row.resource_type}/{row.resource_id}" for row in rows}


async def record(
    conn: AsyncConnection, clinic_id: uuid.UUID, source: str, imported: dict[str, str]
) -> None:
    """Note source ref -> `Type/id`."""
    if not imported:
        return
    rows = []
    for source_ref, target in imported.items():
        kind, _, ident = target.partition("/")
        rows.append({"clinic_id": clinic_id, "source": source, "source_ref": source_ref,
                     "resource_type": kind, "resource_id": ident})
    await conn.execute(insert(_L).values(rows).on_conflict_do_nothing())
