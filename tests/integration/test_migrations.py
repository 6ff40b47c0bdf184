"""The migrations build exactly the schema the code declares, and re-running them is a
no-op (what `alembic check` and `migrate` twice would show)."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from service.cli import migrate
from service.db.tables import metadata
from service.settings import Settings


@pytest.mark.asyncio
async def test_migrated_schema_matches_the_declared_tables(engine: AsyncEngine) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


def test_migrate_twice_is_harmless(settings: Settings) -> None:
    assert settings.database_url
    migrate(settings.database_url)
    migrate(settings.database_url)
