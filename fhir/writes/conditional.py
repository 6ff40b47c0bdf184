"""Conditional interactions: the resources a search string (`identifier=sys|val`) names,
for If-None-Exist and conditional references in transactions."""

from __future__ import annotations

from domain.actor import Actor
from fhir.store.repository import Stored
from fhir.writes.errors import NotSupported
from service.db.uow import UnitOfWork


async def matches(
    uow: UnitOfWork, actor: Actor, resource_type: str, query: str, base: str
) -> list[Stored]:
    raise NotSupported("conditional create is not available yet", "If-None-Exist")
