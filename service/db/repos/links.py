"""Patient links: the row behind each signed link (its id is the token's jti), and what the
patient pages need to read around it.

A link row is found by its id alone: the token that names it has been verified (HMAC)
before any lookup, and the row then says which clinic and patient it belongs to; every
further read is scoped to that clinic."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import msgspec
import sqlalchemy as sa

from service.db import tables as t
from service.db.repos.base import Repository, from_row

c = t.patient_links.c


class LinkPurpose(enum.StrEnum):
    CHECK_IN = "check-in"
    """Answer one check-in. Single use."""
    PLAN = "plan"
    """Read the plan in plain words. Reading is not consuming: usable until it expires."""
    OPT_OUT = "opt-out"
    """Stop messages. Single use."""

    @property
    def single_use(self) -> bool:
        return self is not LinkPurpose.PLAN


class PatientLink(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    purpose: LinkPurpose
    expires_at: dt.datetime
    care_plan_id: uuid.UUID | None = None
    check_in_id: uuid.UUID | None = None
    used_at: dt.datetime | None = None
    created_at: dt.datetime | None = None


class LinkRepository(Repository):
    async def add(self, link: PatientLink) -> None:
        await self.conn.execute(
            t.patient_links.insert().values(
                id=link.id,
                clinic_id=link.clinic_id,
                patient_id=link.patient_id,
                care_plan_id=link.care_plan_id,
                check_in_id=link.check_in_id,
                purpose=link.purpose.value,
                expires_at=link.expires_at,
            )
        )

    async def get(self, link_id: uuid.UUID) -> PatientLink | None:
        row = (
            (await self.conn.execute(sa.select(t.patient_links).where(c.id == link_id)))
            .mappings()
            .first()
        )
        return None if row is None else from_row(row, PatientLink)

    async def consume(self, link_id: uuid.UUID, now: dt.datetime) -> PatientLink | None:
        """Mark the link used, if it is neither used nor expired; None otherwise. One
        statement, so of two concurrent submits exactly one gets the row: the other waits
        on the row lock, then finds `used_at` set."""
        row = (
            (
                await self.conn.execute(
                    t.patient_links.update()
                    .where(c.id == link_id, c.used_at.is_(None), c.expires_at > now)
                    .values(used_at=now)
                    .returning(*t.patient_links.c)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else from_row(row, PatientLink)

    async def belongs(
        self,
        clinic_id: uuid.UUID,
        patient_id: uuid.UUID,
        care_plan_id: uuid.UUID | None,
        check_in_id: uuid.UUID | None,
    ) -> bool:
        """Whether the plan and the check-in (when given) are this patient's, in this
        clinic: a link never points across patients or clinics."""
        checks: list[sa.ColumnElement[bool]] = [
            sa.exists().where(
                t.patients.c.id == patient_id, t.patients.c.clinic_id == clinic_id
            )
        ]
        if care_plan_id is not None:
            checks.append(
                sa.exists().where(
                    t.care_plans.c.id == care_plan_id,
                    t.care_plans.c.clinic_id == clinic_id,
                    t.care_plans.c.patient_id == patient_id,
                )
            )
        if check_in_id is not None:
            checks.append(
                sa.exists().where(
                    t.check_ins.c.id == check_in_id,
                    t.check_ins.c.clinic_id == clinic_id,
                    t.check_ins.c.patient_id == patient_id,
                    *(
                        [t.check_ins.c.care_plan_id == care_plan_id]
                        if care_plan_id is not None
                        else []
                    ),
                )
            )
        return bool(await self.conn.scalar(sa.select(sa.and_(*checks))))

    async def language_of(self, link_id: uuid.UUID) -> str | None:
        """The patient's page language, for a link's refusal page (used, expired): the
        only patient attribute such a page depends on, and it shows nothing of it."""
        language: str | None = await self.conn.scalar(
            sa.select(t.patients.c.language)
            .join(t.patient_links, t.patient_links.c.patient_id == t.patients.c.id)
            .where(c.id == link_id)
        )
        return language

    async def clinic_name(self, clinic_id: uuid.UUID) -> str | None:
        name: str | None = await self.conn.scalar(
            sa.select(t.clinics.c.name).where(t.clinics.c.id == clinic_id)
        )
        return name

    async def staff_name(self, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> str | None:
        name: str | None = await self.conn.scalar(
            sa.select(t.staff.c.name).where(
                t.staff.c.id == staff_id, t.staff.c.clinic_id == clinic_id
            )
        )
        return name

    async def discipline_names(self, clinic_id: uuid.UUID) -> dict[str, str]:
        """The clinic's words for its disciplines, by code."""
        rows = await self.conn.execute(
            sa.select(t.disciplines.c.code, t.disciplines.c.display).where(
                t.disciplines.c.clinic_id == clinic_id
            )
        )
        return {r.code: r.display for r in rows}
