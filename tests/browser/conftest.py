"""A real server for the browser tests: `uv run python -m service serve` as a subprocess on
a free port, against the tests' PostgreSQL and Redis and with their signing key, and
Debian's Chromium driven by Playwright (never a downloaded browser).

Skipped only on a developer machine without /usr/bin/chromium; under CI (`CI` set) they
must run, and `.ci/run` installs the `chromium` package."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
START_TIMEOUT = 60.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    missing = not CHROMIUM.exists() and not os.environ.get("CI")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.slow)
            if missing:
                item.add_marker(pytest.mark.skip(
                    reason=f"{CHROMIUM} is missing (apt-get install chromium); CI installs it"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def logs(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def live_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    assert settings.database_url and settings.redis_url
    home = tmp_path_factory.mktemp("live-server")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "CONCORD_SECRET_KEY": settings.secret_key,
        "CONCORD_HOME": str(home),
        "CONCORD_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CONCORD_DB_POOL_SIZE": "5",
        "WEB_CONCURRENCY": "1",
    }
    stdout_path, stderr_path = home / "stdout.log", home / "stderr.log"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            ["uv", "run", "python", "-m", "service", "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, stderr_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(f"`service serve` exited {process.returncode}:\n"
                                     f"{server.logs()[-4000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.base_url}/health/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"`service serve` not ready in {START_TIMEOUT:.0f} s:\n"
                                     f"{server.logs()[-4000:]}")
            time.sleep(0.2)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
