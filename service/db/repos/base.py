"""What every repository shares: its connection, and row <-> struct conversion."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.errors import NotFound, StaleVersion

T = TypeVar("T")
_SERVER_DEFAULTS = frozenset({"created_at", "updated_at"})


class Touched:
    """What a unit of work changed that is also served as FHIR: projected into the FHIR
    store when the unit of work flushes, so both boundaries share one version history."""

    def __init__(self) -> None:
        self.plans: set[Any] = set()
        self.patients: set[Any] = set()
        self.staff: set[Any] = set()
        self.tasks: set[Any] = set()
        self.messages: set[Any] = set()
        self.responses: dict[Any, Any] = {}
        self.questionnaire_clinics: set[Any] = set()
        # (type, id) -> the resource as a FHIR client just wrote it, kept whole
        self.originals: dict[tuple[str, str], dict[str, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self.plans or self.patients or self.staff or self.tasks or self.messages
                    or self.responses or self.questionnaire_clinics)


class Repository:
    def __init__(self, conn: AsyncConnection, touched: Touched | None = None) -> None:
        self.conn = conn
        self.touched = touched if touched is not None else Touched()


def from_row(row: RowMapping | dict[str, Any], kind: type[T], **extra: Any) -> T:
    # Column keys may be str subclasses (quoted_name), which msgspec does not take as keys.
    data = {str.__str__(k): v for k, v in row.items()}
    data.update(extra)
    return msgspec.convert(data, kind)


def to_row(struct: msgspec.Struct, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Struct fields as column values: nested structs and lists become JSON builtins,
    scalars (UUIDs, dates, enums' values) stay what asyncpg binds natively."""
    row: dict[str, Any] = {}
    for field in struct.__struct_fields__:
        if field in exclude:
            continue
        value = getattr(struct, field)
        if value is None and field in _SERVER_DEFAULTS:
            continue
        if isinstance(value, msgspec.Struct | list | dict):
            value = msgspec.to_builtins(value)
        elif hasattr(value, "value") and isinstance(getattr(value, "value", None), str):
            value = value.value
        row[field] = value
    return row


async def compare_and_set(
    conn: AsyncConnection,
    table: sa.Table,
    resource: str,
    key: Any,
    version: int,
    values: dict[str, Any],
) -> None:
    """Write `values` and `version` only if the stored version is still `version - 1`.

    The aggregate has already checked the caller's version under the plan's row lock;
    this is the database's own word on it, so a write can never silently overwrite."""
    result = await conn.execute(
        table.update()
        .where(table.c.id == key, table.c.version == version - 1)
        .values(**values, version=version)
    )
    if result.rowcount == 1:
        return
    current = await conn.scalar(sa.select(table.c.version).where(table.c.id == key))
    if current is None:
        raise NotFound(resource)
    raise StaleVersion(resource, version - 1, current)
