"""What every job finds in its ctx: the engine (one UnitOfWork per job) and settings."""

from __future__ import annotations

from typing import Any

from service import logging as concord_logging
from service.db.engine import make_engine
from service.settings import Settings


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or Settings.from_env()
    concord_logging.configure(settings.log_level, settings.log_format)
    ctx["settings"] = settings
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL must be set for the worker")
    ctx["engine"] = make_engine(settings.database_url, pool_size=5, pre_ping=True)


async def shutdown(ctx: dict[str, Any]) -> None:
    engine = ctx.get("engine")
    if engine is not None:
        await engine.dispose()
