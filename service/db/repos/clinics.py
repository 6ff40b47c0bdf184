from __future__ import annotations

import uuid

import sqlalchemy as sa

from domain.staff import Discipline
from service.db import tables as t
from service.db.repos.base import Repository, from_row


class ClinicRepository(Repository):
    async def id_by_slug(self, slug: str) -> uuid.UUID | None:
        return await self.conn.scalar(sa.select(t.clinics.c.id).where(t.clinics.c.slug == slug))

    async def add(self, clinic_id: uuid.UUID, slug: str, name: str) -> None:
        await self.conn.execute(t.clinics.insert().values(id=clinic_id, slug=slug, name=name))
        self.touched.questionnaire_clinics.add(clinic_id)

    async def disciplines(self, clinic_id: uuid.UUID) -> list[Discipline]:
        rows = await self.conn.execute(
            sa.select(t.disciplines.c.code, t.disciplines.c.display)
            .where(t.disciplines.c.clinic_id == clinic_id)
            .order_by(t.disciplines.c.code)
        )
        return [from_row(r, Discipline) for r in rows.mappings()]

    async def add_discipline(self, clinic_id: uuid.UUID, discipline: Discipline) -> bool:
        """False when the clinic already has that code."""
        stmt = (
            sa.dialects.postgresql.insert(t.disciplines)
            .values(clinic_id=clinic_id, code=discipline.code, display=discipline.display)
            .on_conflict_do_nothing()
        )
        return (await self.conn.execute(stmt)).rowcount == 1
