from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from litestar import Response, get
from litestar.datastructures import State


@get("/health/live", tags=["health"], sync_to_thread=False)
def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/health/ready", tags=["health"])
async def ready(state: State) -> Response[dict[str, Any]]:
    """PostgreSQL and Redis both answer within two seconds."""
    checks = {"postgres": await _check(_postgres(state)), "redis": await _check(_redis(state))}
    ok = all(v == "ok" for v in checks.values())
    return Response(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


async def _check(probe: Any) -> str:
    try:
        await asyncio.wait_for(probe, timeout=2.0)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


async def _postgres(state: State) -> None:
    async with state.engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))


async def _redis(state: State) -> None:
    await state.redis.ping()
