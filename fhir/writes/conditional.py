"""Conditional interactions: the resources a search string (`identifier=sys|val`) names,
for If-None-Exist and for conditional references in transactions."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl

from domain.actor import Actor
from fhir.search.query import SearchError, parse
from fhir.store.repository import Stored
from fhir.writes.errors import BadResource
from service.db.uow import UnitOfWork


async def matches(
    uow: UnitOfWork, actor: Actor, resource_type: str, query: str, base: str
) -> list[Stored]:
    """At most two matches: enough to tell none, one and many apart."""
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    if not pairs:
        raise BadResource("a condition needs at least one search parameter", "If-None-Exist")
    try:
        search = parse(resource_type, pairs, strict=True, base=base,
                       now=dt.datetime.now(dt.UTC))
    except SearchError as exc:
        raise BadResource(f"the condition {query!r}: {exc.diagnostics}", exc.expression) \
            from None
    search.count = 2
    viewer = None if actor.manages_plans else actor.staff_id
    page = await uow.store.search(actor.clinic_id, search, viewer=viewer)
    return page.items
