"""A clinic's questionnaires: its own FHIR Questionnaires, the licensed item texts it has
loaded for a shipped instrument, and the written permissions it has recorded. One row per
clinic and canonical url (`clinic_questionnaires`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from service.db import tables as t
from service.db.repos.base import Repository

_t = t.clinic_questionnaires


class LoadedTexts(msgspec.Struct, frozen=True, kw_only=True):
    """Item texts a clinic loaded from its own licensed copy of an instrument."""

    language: str
    terms_note: str
    """Under what licence or permission the clinic holds the texts, in its words."""
    texts: dict[str, str]


class ClinicQuestionnaire(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    version: str
    resource: dict[str, Any] | None
    """The clinic's own FHIR Questionnaire; None on a row about a shipped instrument."""
    item_texts: LoadedTexts | None
    permission_recorded_at: dt.datetime | None
    permission_note: str | None
    row_version: int


def _row(row: Any) -> ClinicQuestionnaire:
    return msgspec.convert(
        {"url": row["url"], "version": row["version"], "resource": row["resource"],
         "item_texts": row["item_texts"], "permission_recorded_at": row["permission_recorded_at"],
         "permission_note": row["permission_note"], "row_version": row["row_version"]},
        ClinicQuestionnaire)


class QuestionnaireRepository(Repository):
    async def all(self, clinic_id: uuid.UUID) -> list[ClinicQuestionnaire]:
        rows = await self.conn.execute(
            sa.select(_t).where(_t.c.clinic_id == clinic_id).order_by(_t.c.url))
        return [_row(r) for r in rows.mappings()]

    async def get(self, clinic_id: uuid.UUID, url: str) -> ClinicQuestionnaire | None:
        row = (await self.conn.execute(sa.select(_t).where(
            _t.c.clinic_id == clinic_id, _t.c.url == url))).mappings().first()
        return None if row is None else _row(row)

    async def add_own(self, clinic_id: uuid.UUID, url: str, version: str,
                      resource: dict[str, Any], staff_id: uuid.UUID) -> bool:
        self.touched.questionnaire_clinics.add(clinic_id)
        """Store a clinic's own questionnaire; False when the clinic already has a row for
        this url."""
        result = await self.conn.execute(insert(_t).values(
            id=uuid.uuid4(), clinic_id=clinic_id, url=url, version=version, resource=resource,
            recorded_by=staff_id).on_conflict_do_nothing(
                constraint="uq_clinic_questionnaires_clinic_url"))
        return bool(result.rowcount)

    async def _upsert(self, clinic_id: uuid.UUID, url: str, version: str,
                      staff_id: uuid.UUID, values: dict[str, Any]) -> ClinicQuestionnaire:
        self.touched.questionnaire_clinics.add(clinic_id)
        new = insert(_t).values(id=uuid.uuid4(), clinic_id=clinic_id, url=url, version=version,
                                recorded_by=staff_id, **values)
        stmt = new.on_conflict_do_update(
            constraint="uq_clinic_questionnaires_clinic_url",
            set_={**values, "recorded_by": staff_id, "row_version": _t.c.row_version + 1,
                  "updated_at": sa.func.clock_timestamp()},
        ).returning(*_t.c)
        row = (await self.conn.execute(stmt)).mappings().one()
        return _row(row)

    async def load_texts(self, clinic_id: uuid.UUID, url: str, version: str,
                         texts: LoadedTexts, staff_id: uuid.UUID) -> ClinicQuestionnaire:
        self.touched.questionnaire_clinics.add(clinic_id)
        """Load (or replace) the clinic's licensed item texts for the instrument at `url`."""
        return await self._upsert(clinic_id, url, version, staff_id,
                                  {"item_texts": msgspec.to_builtins(texts)})

    async def record_permission(self, clinic_id: uuid.UUID, url: str, version: str,
                                note: str, staff_id: uuid.UUID) -> ClinicQuestionnaire:
        self.touched.questionnaire_clinics.add(clinic_id)
        """Record the clinic's written permission to use the instrument at `url`."""
        return await self._upsert(clinic_id, url, version, staff_id, {
            "permission_note": note, "permission_recorded_at": sa.func.clock_timestamp()})
