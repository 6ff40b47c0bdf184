"""Data written before the FHIR store existed, projected into it once.

A clinic with rows in the domain tables and none in the store predates the store (every
clinic created since gets its questionnaires projected at once). Its resources are
projected as one unit of work per clinic; later runs find nothing to do."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.message import MessageStatus
from service.db import tables as t
from service.db.repos.base import from_row
from service.db.repos.responses import StoredResponse
from service.db.uow import unit_of_work


async def clinics_missing(engine: AsyncEngine) -> list[uuid.UUID]:
    async with engine.connect() as conn:
        rows = await conn.scalars(sa.select(t.clinics.c.id).where(~sa.exists().where(
            t.fhir_resources.c.clinic_id == t.clinics.c.id)).order_by(t.clinics.c.id))
        return list(rows)


async def _ids(conn: AsyncConnection, clinic_id: uuid.UUID, table: sa.Table,
               *where: sa.ColumnElement[bool]) -> set[uuid.UUID]:
    return set(await conn.scalars(
        sa.select(table.c.id).where(table.c.clinic_id == clinic_id, *where)))


async def backfill(engine: AsyncEngine) -> int:
    """Project every clinic missing from the store; how many were."""
    missing = await clinics_missing(engine)
    for clinic_id in missing:
        async with unit_of_work(engine) as uow:
            conn, touched = uow.conn, uow.touched
            touched.staff |= await _ids(conn, clinic_id, t.staff)
            touched.patients |= await _ids(conn, clinic_id, t.patients)
            touched.plans |= await _ids(conn, clinic_id, t.care_plans)
            touched.tasks |= await _ids(conn, clinic_id, t.tasks)
            touched.messages |= await _ids(conn, clinic_id, t.messages,
                                           t.messages.c.status == MessageStatus.SENT.value)
            responses = await conn.execute(sa.select(t.questionnaire_responses).where(
                t.questionnaire_responses.c.clinic_id == clinic_id))
            for row in responses.mappings():
                response = from_row(row, StoredResponse)
                touched.responses[response.id] = response
            touched.questionnaire_clinics.add(clinic_id)
    return len(missing)
