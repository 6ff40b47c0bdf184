"""The FHIR API as an EHR integrator meets it: the real app served by uvicorn on a loopback
port (same embedded PostgreSQL and Redis as the other tests), reached over HTTP by the
fhirpy client library, authenticated as a SMART Backend Services client of the test
clinic. Nothing of Concord is called in-process except to set up the clinic and to run
the worker's jobs (which arq would run)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from service.app import create_app
from service.mail_sink import MailSink
from service.settings import Settings
from tests.acceptance.bench import Bench
from tests.acceptance.integrator import Integrator, LiveServer, connect, plain
from tests.factories import ClinicWorld
from tests.smart.support import KeyPair, rsa_pair
from workers.outbox import OutboxConfig


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """Concord on a free loopback port, in its own thread and event loop (as it would run
    in its own process): a test that blocks never stalls the server it talks to. The
    socket is bound first so that the public base URL (Location headers, `next` links,
    the token audience) is the real one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    live = msgspec.structs.replace(settings, public_base_url=url)
    config = uvicorn.Config(create_app(live), host="127.0.0.1", port=port, loop="asyncio",
                            lifespan="on", log_level="warning", access_log=False,
                            log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="concord-acceptance-server")
    thread.start()
    _wait_until_live(url, thread)
    try:
        yield LiveServer(url=url, settings=live)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _wait_until_live(url: str, thread: threading.Thread, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the server thread ended before it answered /health/live")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url}/health/live did not answer within {timeout:g} s")


@pytest.fixture(scope="session")
def ehr_keys() -> KeyPair:
    """The EHR's signing key (RS384), registered with each test clinic."""
    return rsa_pair("acceptance-ehr-1")


@pytest_asyncio.fixture
async def integrator(
    live_server: LiveServer, world: ClinicWorld, ehr_keys: KeyPair
) -> AsyncIterator[Integrator]:
    """An EHR registered with `world` for system/*.cruds, holding a fresh token."""
    async with connect(live_server, world, ehr_keys) as connected:
        yield connected



@pytest.fixture(scope="session")
def mail_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailSink]:
    """Where the worker's e-mail goes (check-ins the clinic sends its patients)."""
    sink = MailSink(tmp_path_factory.mktemp("acceptance-mail"), port=0)
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def worker_ctx(engine: AsyncEngine, live_server: LiveServer,
               mail_sink: MailSink) -> dict[str, Any]:
    """The ctx the arq worker gives its jobs, for the jobs a test runs itself."""
    return {"engine": engine, "outbox": OutboxConfig(),
            "settings": msgspec.structs.replace(live_server.settings,
                                                smtp_port=mail_sink.port)}


@pytest_asyncio.fixture
async def bench(integrator: Integrator, worker_ctx: dict[str, Any]) -> Bench:
    statement = await integrator.fhir.execute("metadata", method="get")
    return Bench(it=integrator, capability=plain(statement), worker=worker_ctx)
