"""PATCH semantics shared by every resource: UNSET leaves a field alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec


def set_fields(patch: msgspec.Struct) -> Iterator[tuple[str, Any]]:
    """The (field, value) pairs the client actually sent."""
    for field in patch.__struct_fields__:
        value = getattr(patch, field)
        if value is not msgspec.UNSET:
            yield field, value


def apply(target: object, patch: msgspec.Struct, *, status_field: str | None = None,
          transition: Callable[[Any], None] | None = None) -> None:
    """Copy what `patch` sets onto `target`; a status goes through its transition rule."""
    for field, value in set_fields(patch):
        if field == status_field and transition is not None:
            transition(value)
        else:
            setattr(target, field, value)
