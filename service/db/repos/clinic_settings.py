from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from domain.clinic_settings import ClinicSettings
from domain.errors import StaleVersion
from service.db import tables as t
from service.db.repos.base import Repository, from_row, to_row


class ClinicSettingsRepository(Repository):
    async def get(self, clinic_id: uuid.UUID, *, for_update: bool = False) -> ClinicSettings:
        """The clinic's settings; the defaults at version 0 when it has never saved any."""
        query = sa.select(t.clinic_settings).where(t.clinic_settings.c.clinic_id == clinic_id)
        row = (await self.conn.execute(query.with_for_update() if for_update else query)
               ).mappings().first()
        return ClinicSettings(clinic_id=clinic_id) if row is None else from_row(row, ClinicSettings)

    async def save(self, settings: ClinicSettings) -> None:
        """Write `settings` at its (already incremented) version if the stored one is still
        the one before: version 1 inserts, unless another writer got there first."""
        values = to_row(settings, exclude=("clinic_id", "version", "updated_at"))
        table = t.clinic_settings
        if settings.version == 1:
            result = await self.conn.execute(insert(table).values(
                clinic_id=settings.clinic_id, version=1, **values).on_conflict_do_nothing())
        else:
            result = await self.conn.execute(
                table.update().where(table.c.clinic_id == settings.clinic_id,
                                     table.c.version == settings.version - 1)
                .values(**values, version=settings.version, updated_at=sa.func.now()))
        if result.rowcount != 1:
            current = await self.conn.scalar(
                sa.select(table.c.version).where(table.c.clinic_id == settings.clinic_id))
            raise StaleVersion("clinic settings", settings.version - 1, current or 0)
