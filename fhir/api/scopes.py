"""Which FHIR interactions an actor may use: staff tokens by role (the use cases decide),
SMART system clients by their granted scopes."""

from __future__ import annotations

from domain.actor import Actor
from domain.errors import Forbidden
from domain.scopes import OPERATION_NAMES, Operation, permits, render

__all__ = ["Operation", "require"]

# Configuration, not patient data, and what a subscription carries (its endpoint's
# headers may hold the receiver's credentials) is for those who manage the clinic.
MANAGERS_ONLY = frozenset({"Subscription"})


def require(actor: Actor, resource_type: str, operation: Operation) -> None:
    """Raise Forbidden unless `actor` may do `operation` (a SMART v2 letter: c, r, u, d, s)
    on `resource_type`. Call it before touching any data, so that a refusal says nothing
    about whether the resource exists."""
    if actor.scopes is None:
        if resource_type in MANAGERS_ONLY and not actor.manages_plans:
            raise Forbidden(f"{resource_type} is for coordinators and admins")
        return
    if permits(actor.scopes, resource_type, operation):
        return
    granted = render(sorted(actor.scopes, key=str)) or "none"
    raise Forbidden(
        f"this token's scopes ({granted}) do not permit {OPERATION_NAMES[operation]} on "
        f"{resource_type}; a token with system/{resource_type}.{operation} (or a wider scope "
        "such as system/*.cruds) is needed"
    )
