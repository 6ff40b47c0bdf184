"""What a resource is found by: the rows of the search index for one resource."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec


class IndexEntry(msgspec.Struct, frozen=True, kw_only=True):
    param: str
    system: str | None = None
    code: str | None = None
    ref: str | None = None
    value: str | None = None
    lo: dt.datetime | None = None
    hi: dt.datetime | None = None


def entries(resource: dict[str, Any]) -> list[IndexEntry]:
    """The index rows for `resource`, by its type's search parameters."""
    return []
