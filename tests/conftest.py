"""Real PostgreSQL and Redis for every test: the URLs from TEST_DATABASE_URL/REDIS_URL
when set, else embedded servers in a temporary folder. Migrations run once per session
(so the migrations themselves are under test); each test works in its own fresh clinic,
which is how tenants are isolated in production too."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from service.app import create_app
from service.cli import migrate
from service.db.engine import make_engine
from service.settings import Settings, normalise_database_url
from tests.factories import ClinicWorld, make_clinic


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    home = tmp_path_factory.mktemp("concord")
    database_url = normalise_database_url(os.environ.get("TEST_DATABASE_URL"))
    redis_url = os.environ.get("TEST_REDIS_URL")
    pg_server: Any = None
    redis = None
    if database_url is None:
        from service.embedded import drop_database, start_postgres

        pg_server, _ = start_postgres(home, "postgres")
        drop_database(pg_server, f"concord_test_{worker}")
        pg_server, database_url = start_postgres(home, f"concord_test_{worker}")
    if redis_url is None:
        from service.embedded import EmbeddedRedis

        redis = EmbeddedRedis(home)
        redis_url = redis.start()
    migrate(database_url)
    try:
        yield database_url, redis_url
    finally:
        if redis is not None:
            redis.stop()
        if pg_server is not None:
            from service.embedded import stop_postgres

            stop_postgres(pg_server)


@pytest.fixture(scope="session")
def settings(servers: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    database_url, redis_url = servers
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        home=tmp_path_factory.mktemp("home"),
        secret_key="test-secret-key",
        log_format="json",
    )


@pytest_asyncio.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    assert settings.database_url
    engine = make_engine(settings.database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest_asyncio.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


@pytest_asyncio.fixture
async def world(engine: AsyncEngine) -> ClinicWorld:
    """A fresh clinic: an admin, a coordinator, one clinician of each standard discipline
    and a second physician who is on no team; each with a bearer token."""
    return await make_clinic(engine, f"c-{uuid.uuid4().hex[:12]}")


@pytest_asyncio.fixture
async def other_world(engine: AsyncEngine) -> ClinicWorld:
    """Another clinic, for isolation tests."""
    return await make_clinic(engine, f"o-{uuid.uuid4().hex[:12]}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        if "e2e" in Path(str(item.fspath)).relative_to(root).parts:
            item.add_marker(pytest.mark.slow)
