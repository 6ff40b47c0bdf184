"""Which FHIR interactions an actor may use: staff tokens by role (the use cases decide),
SMART system clients by their granted scopes."""

from __future__ import annotations

from typing import Literal

from domain.actor import Actor

# SMART v2 letters: create, read, update, delete, search
Operation = Literal["c", "r", "u", "d", "s"]


def require(actor: Actor, resource_type: str, operation: Operation) -> None:
    """Raise Forbidden unless `actor` may do `operation` on `resource_type`."""
    return None
