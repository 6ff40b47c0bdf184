"""FHIR subscriptions as the people who run the clinic see them: which systems are told
about what, whether delivery is keeping up, and what went wrong. Read-only (clients
manage their subscriptions through /fhir/Subscription); coordinators and admins only.
The shared secret is never shown, only whether there is one."""

from __future__ import annotations

import uuid

from litestar import Controller, get

from domain.actor import Actor
from domain.errors import Invalid, NotFound
from service.api.deps import page_limit
from service.db.queries import Page
from service.db.repos.subscriptions import EventView, SubscriptionRepository, SubscriptionView
from service.db.uow import UnitOfWork

EVENTS_MAX = 200


class SubscriptionDetail(SubscriptionView, kw_only=True):
    events: list[EventView]
    """The newest events first, sent or waiting, with their attempts and last error."""


class SubscriptionController(Controller):
    path = "/subscriptions"
    tags = ["subscriptions"]

    @get("/")
    async def find(self, uow: UnitOfWork, actor: Actor, limit: int | None = None,
                   cursor: str | None = None) -> Page[SubscriptionView]:
        """Oldest first, with status, attempts in a row, last error and what is pending."""
        actor.require_plan_manager()
        return await SubscriptionRepository(uow.conn).find(
            actor.clinic_id, limit=page_limit(limit), cursor=cursor)

    @get("/{subscription_id:uuid}")
    async def read(self, subscription_id: uuid.UUID, uow: UnitOfWork, actor: Actor,
                   events: int | None = None) -> SubscriptionDetail:
        """One subscription (its id is the Subscription resource's, which this server
        assigns) and its latest `events` (default 50, at most 200)."""
        actor.require_plan_manager()
        count = 50 if events is None else events
        if not 1 <= count <= EVENTS_MAX:
            raise Invalid("events", f"between 1 and {EVENTS_MAX}")
        repo = SubscriptionRepository(uow.conn)
        view = await repo.view(actor.clinic_id, str(subscription_id))
        if view is None:
            raise NotFound("subscription")
        recent = await repo.events(actor.clinic_id, str(subscription_id), count)
        return SubscriptionDetail(**{f: getattr(view, f) for f in view.__struct_fields__},
                                  events=recent)
