"""The async engine: asyncpg under SQLAlchemy Core, JSONB through msgspec."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

_encoder = msgspec.json.Encoder()


def json_dumps(value: Any) -> str:
    return _encoder.encode(value).decode()


def make_engine(url: str, *, pool_size: int = 10, null_pool: bool = False,
                pre_ping: bool = False) -> AsyncEngine:
    """The API leaves `pre_ping` off: it costs three round trips on every checkout, and a
    connection broken by a database restart is invalidated by its first error (that
    request answers 503, the next ones reconnect). Workers turn it on: a job retried late
    is worse than a millisecond."""
    options: dict[str, Any] = {
        "json_serializer": json_dumps,
        "json_deserializer": msgspec.json.decode,
        # Bound parameters are patient data: keep them out of exception messages and logs.
        "hide_parameters": True,
    }
    if null_pool:
        options["poolclass"] = NullPool
    else:
        options.update(pool_size=pool_size, max_overflow=pool_size // 2,
                       pool_pre_ping=pre_ping, pool_recycle=1800)
    return create_async_engine(url, **options)
