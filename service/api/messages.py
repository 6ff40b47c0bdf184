"""The outbox, for the people who run the clinic: what was sent to patients, what is
stuck, and sending a failed or dead message again. Coordinators and admins only; every
read is a read of patient data, so it is audited."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post

from domain.actor import Actor
from domain.care_plan import check_version
from domain.message import Message, MessageStatus
from service.api.deps import expected_version, page_limit, with_etag
from service.db.queries import Page
from service.db.repos.messages import MessageSummary
from service.db.uow import UnitOfWork


class MessageController(Controller):
    path = "/messages"
    tags = ["messages"]

    @get("/")
    async def find(
        self,
        uow: UnitOfWork,
        actor: Actor,
        status: MessageStatus | None = None,
        patient_id: uuid.UUID | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[MessageSummary]:
        """Oldest first; `status=dead` lists what needs a person to look at it."""
        actor.require_plan_manager()
        page = await uow.messages.find(
            actor.clinic_id, limit=page_limit(limit), cursor=cursor, status=status,
            patient_id=patient_id,
        )
        for message in page.items:
            uow.audit(actor, "search", "Message", message.id, message.patient_id)
        return page

    @get("/{message_id:uuid}")
    async def read(
        self, message_id: uuid.UUID, uow: UnitOfWork, actor: Actor
    ) -> Response[Message]:
        actor.require_plan_manager()
        message = await uow.messages.get(actor.clinic_id, message_id)
        uow.audit(actor, "read", "Message", message.id, message.patient_id)
        return with_etag(message, message.version)

    @post("/{message_id:uuid}/requeue", status_code=200)
    async def requeue(
        self,
        request: Request[Any, Any, Any],
        message_id: uuid.UUID,
        uow: UnitOfWork,
        actor: Actor,
    ) -> Response[Message]:
        """Only a failed or dead message (409 otherwise), with If-Match. It goes out at the
        relay's next tick (within a minute), with a fresh budget of tries."""
        actor.require_plan_manager()
        message = await uow.messages.get(actor.clinic_id, message_id)
        check_version("message", message.version, expected_version(request))
        message.requeue()
        message = await uow.messages.save_requeued(message)
        uow.audit(actor, "update", "Message", message.id, message.patient_id)
        return with_etag(message, message.version)
