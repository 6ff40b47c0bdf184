"""`message-templates`: a clinic's own wording of patient messages, checked before it is
saved (placeholders, the link, person-first language)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, put

from domain.actor import Actor
from domain.care_plan import check_version
from domain.template import MessageTemplate
from service.api.deps import expected_version, with_etag
from service.db.uow import UnitOfWork


class TemplateBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    subject: str
    body_text: str


class TemplateController(Controller):
    path = "/message-templates"
    tags = ["messages"]

    @get("/")
    async def find(self, uow: UnitOfWork, actor: Actor) -> list[MessageTemplate]:
        actor.require_plan_manager()
        return await uow.templates.all(actor.clinic_id)

    @put("/{kind:str}/{language:str}")
    async def save(self, request: Request[Any, Any, Any], kind: str, language: str,
                   data: TemplateBody, uow: UnitOfWork,
                   actor: Actor) -> Response[MessageTemplate]:
        """Create the clinic's template, or replace it with If-Match. A stigmatizing term
        answers 422 naming the term and its person-first alternative."""
        actor.require_plan_manager()
        current = await uow.templates.get(actor.clinic_id, kind, language)
        template = MessageTemplate(kind=kind, language=language, subject=data.subject,
                                   body_text=data.body_text)
        if current is not None:
            check_version("message template", current.version, expected_version(request))
            template.version = current.version + 1
        template.validate()
        await uow.templates.save(actor.clinic_id, template, actor.staff_id)
        return with_etag(template, template.version, 201 if current is None else 200)
