from __future__ import annotations

import uuid

import sqlalchemy as sa

from domain.errors import NotFound
from domain.patient import Patient
from service.db import tables as t
from service.db.repos.base import Repository, compare_and_set, from_row, to_row


class PatientRepository(Repository):
    async def get(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Patient:
        row = (
            (
                await self.conn.execute(
                    sa.select(t.patients).where(
                        t.patients.c.id == patient_id, t.patients.c.clinic_id == clinic_id
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("patient")
        return from_row(row, Patient)

    async def lock(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> None:
        """Take the patient's row lock for this transaction (absent: nothing to lock)."""
        await self.conn.execute(
            sa.select(t.patients.c.id)
            .where(t.patients.c.id == patient_id, t.patients.c.clinic_id == clinic_id)
            .with_for_update()
        )

    async def add(self, patient: Patient) -> None:
        self.touched.patients.add(patient.id)
        await self.conn.execute(t.patients.insert().values(**to_row(patient)))

    async def save(self, patient: Patient) -> None:
        self.touched.patients.add(patient.id)
        values = to_row(patient, exclude=("id", "clinic_id", "version"))
        await compare_and_set(
            self.conn,
            t.patients,
            "patient",
            patient.id,
            patient.version,
            {**values, "updated_at": sa.func.now()},
        )

    async def seen_by(
        self, clinic_id: uuid.UUID, patient_id: uuid.UUID, staff_id: uuid.UUID
    ) -> bool:
        """Whether the staff member is on the team of any of this patient's plans."""
        return bool(
            await self.conn.scalar(
                sa.select(
                    sa.exists().where(
                        t.care_plans.c.patient_id == patient_id,
                        t.care_plans.c.clinic_id == clinic_id,
                        t.care_team_members.c.care_plan_id == t.care_plans.c.id,
                        t.care_team_members.c.staff_id == staff_id,
                    )
                )
            )
        )
