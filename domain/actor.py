"""Who is acting, as the domain needs to know it."""

from __future__ import annotations

import uuid

import msgspec

from domain.errors import Forbidden
from domain.scopes import Scope
from domain.vocab import Role


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    clinic_id: uuid.UUID
    staff_id: uuid.UUID
    role: Role
    discipline: str
    scopes: frozenset[Scope] | None = None
    """The SMART scopes of a system's token (domain.scopes); None for a staff token, which
    only the role limits."""

    @property
    def is_system(self) -> bool:
        return self.scopes is not None

    @property
    def manages_plans(self) -> bool:
        """Coordinators manage plans and teams; admins may do everything a coordinator can."""
        return self.role in (Role.COORDINATOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def require_plan_manager(self) -> None:
        if not self.manages_plans:
            raise Forbidden("only coordinators and admins may do this")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("only admins may do this")
