"""Alembic environment: async (asyncpg), serialised by an advisory lock so that any number
of processes may run `migrate` at once."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

from service.db.engine import make_engine
from service.db.tables import metadata
from service.settings import Settings

MIGRATION_LOCK = 0x436F6E636F7264  # "Concord"


def database_url() -> str:
    url = context.config.attributes.get("database_url") or Settings.from_env().database_url
    if not url:
        raise SystemExit("DATABASE_URL is not set (or run through `python -m service migrate`)")
    return str(url)


def run(connection: Connection) -> None:
    connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
    try:
        context.configure(connection=connection, target_metadata=metadata,
                          compare_type=True, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
        connection.commit()


async def run_async() -> None:
    engine = make_engine(database_url(), null_pool=True)
    async with engine.connect() as connection:
        await connection.run_sync(run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async())
