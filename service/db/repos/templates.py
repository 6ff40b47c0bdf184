from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from domain.errors import StaleVersion
from domain.template import MessageTemplate
from service.db import tables as t
from service.db.repos.base import Repository, from_row

_t = t.message_templates


class TemplateRepository(Repository):
    async def get(self, clinic_id: uuid.UUID, kind: str, language: str) -> MessageTemplate | None:
        row = (await self.conn.execute(sa.select(_t).where(
            _t.c.clinic_id == clinic_id, _t.c.kind == kind, _t.c.language == language))
        ).mappings().first()
        return None if row is None else from_row(row, MessageTemplate)

    async def all(self, clinic_id: uuid.UUID) -> list[MessageTemplate]:
        rows = await self.conn.execute(sa.select(_t).where(_t.c.clinic_id == clinic_id)
                                       .order_by(_t.c.kind, _t.c.language))
        return [from_row(r, MessageTemplate) for r in rows.mappings()]

    async def save(self, clinic_id: uuid.UUID, template: MessageTemplate,
                   staff_id: uuid.UUID) -> None:
        """Insert version 1, or compare-and-set from `template.version - 1`."""
        values = {"subject": template.subject, "body_text": template.body_text,
                  "updated_by": staff_id, "version": template.version,
                  "updated_at": sa.func.clock_timestamp()}
        if template.version == 1:
            await self.conn.execute(insert(_t).values(
                clinic_id=clinic_id, kind=template.kind, language=template.language, **values))
            return
        result = await self.conn.execute(_t.update().where(
            _t.c.clinic_id == clinic_id, _t.c.kind == template.kind,
            _t.c.language == template.language, _t.c.version == template.version - 1
        ).values(**values))
        if result.rowcount != 1:
            raise StaleVersion("message template", template.version - 1, template.version)
