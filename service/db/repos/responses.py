"""Questionnaire responses as stored: the FHIR QuestionnaireResponse a patient submitted,
the scores computed from it, and whose check-in (and which relationship) it answers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa

from domain.check_in import CheckInStatus
from service.db import tables as t
from service.db.repos.base import Repository, from_row

r = t.questionnaire_responses.c
ANSWERABLE = (CheckInStatus.SCHEDULED.value, CheckInStatus.QUEUED.value)
"""Check-in statuses a patient can still answer."""


class StoredResponse(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    questionnaire: str
    """The Questionnaire's canonical url (without version), as check-ins name it."""
    resource: dict[str, Any]
    """The FHIR R4 QuestionnaireResponse."""
    scores: dict[str, Any]
    authored_at: dt.datetime
    care_plan_id: uuid.UUID | None = None
    check_in_id: uuid.UUID | None = None
    clinician_id: uuid.UUID | None = None
    created_at: dt.datetime | None = None


class ScoredResponse(msgspec.Struct, kw_only=True, frozen=True):
    questionnaire: str
    check_in_id: uuid.UUID | None
    clinician_id: uuid.UUID | None
    scores: dict[str, Any]
    authored_at: dt.datetime


class ResponseRepository(Repository):
    async def add(self, response: StoredResponse) -> None:
        values = {
            f: getattr(response, f)
            for f in StoredResponse.__struct_fields__
            if f != "created_at"
        }
        await self.conn.execute(t.questionnaire_responses.insert().values(**values))
        self.touched.responses[response.id] = response

    async def for_check_in(
        self, clinic_id: uuid.UUID, check_in_id: uuid.UUID
    ) -> list[StoredResponse]:
        rows = await self.conn.execute(
            sa.select(t.questionnaire_responses)
            .where(r.clinic_id == clinic_id, r.check_in_id == check_in_id)
            .order_by(r.authored_at, r.questionnaire)
        )
        return [from_row(row, StoredResponse) for row in rows.mappings()]

    async def answer_check_in(
        self, clinic_id: uuid.UUID, check_in_id: uuid.UUID, now: dt.datetime
    ) -> bool:
        """Move the check-in to `answered` (answered_at, version + 1) if it is still open;
        False when it was answered, cancelled or expired meanwhile. One guarded statement,
        so it cannot race another answer or the scheduler."""
        result = await self.conn.execute(
            t.check_ins.update()
            .where(
                t.check_ins.c.id == check_in_id,
                t.check_ins.c.clinic_id == clinic_id,
                t.check_ins.c.status.in_(ANSWERABLE),
            )
            .values(
                status=CheckInStatus.ANSWERED.value,
                answered_at=now,
                updated_at=now,
                version=t.check_ins.c.version + 1,
            )
        )
        return result.rowcount == 1

    async def scored(self, clinic_id: uuid.UUID, patient_id: uuid.UUID,
                     questionnaires: tuple[str, ...], *, with_clinician: tuple[str, ...] = (),
                     clinician_id: uuid.UUID | None = None) -> list[ScoredResponse]:
        """The patient's scored responses to `questionnaires`, oldest first. Those in
        `with_clinician` count only when they name a clinician (`clinician_id`, if given)."""
        named = sa.and_(r.questionnaire.in_(with_clinician), r.clinician_id.is_not(None))
        if clinician_id is not None:
            named = sa.and_(named, r.clinician_id == clinician_id)
        plain = r.questionnaire.in_([q for q in questionnaires if q not in with_clinician])
        rows = await self.conn.execute(
            sa.select(r.questionnaire, r.check_in_id, r.clinician_id, r.scores, r.authored_at)
            .where(r.clinic_id == clinic_id, r.patient_id == patient_id,
                   sa.or_(named, plain))
            .order_by(r.authored_at, r.id))
        return [from_row(row, ScoredResponse) for row in rows.mappings()]
