"""Run the README's main command, `uv run python -m service dev`, the way a user does: a
subprocess in its own session (so Ctrl-C can be sent to its whole process group, as a
terminal does), CONCORD_HOME in a temporary folder, no DATABASE_URL/REDIS_URL. Its
stdout and stderr are drained to files by threads so the pipes never fill.

Nothing here imports the application: the e2e tests talk to it over HTTP and the CLI."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
CLI_TIMEOUT = 90.0
TOKEN_LINE = re.compile(r"^Demo admin token: (\S+)[ \t]*$", re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dev_env(home: Path, smtp_port: int | None = None) -> dict[str, str]:
    """The user's environment, minus the production URLs, with our own home folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["CONCORD_HOME"] = str(home)
    env["SMTP_PORT"] = str(smtp_port if smtp_port is not None else free_port())
    return env


def cli_command(*args: str) -> list[str]:
    return ["uv", "run", "python", "-m", "service", *args]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`uv run python -m service <args>` from the repository root, as a user types it."""
    return subprocess.run(
        cli_command(*args),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def last_line_token(result: subprocess.CompletedProcess[str]) -> str:
    """The token a CLI command printed as the last line of its stdout, alone on its line."""
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}\nstdout:\n{result.stdout}\n"
        f"stderr:\n{result.stderr}"
    )
    lines = result.stdout.splitlines()
    assert lines, f"{result.args} printed nothing on stdout; stderr:\n{result.stderr}"
    token = lines[-1]
    assert re.fullmatch(r"[A-Za-z0-9_\-]{20,200}", token), (
        f"the last stdout line of {result.args} is not a bare token: {token!r}"
    )
    return token


def _drain(stream: IO[bytes], path: Path) -> None:
    with path.open("wb") as sink:
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            sink.write(chunk)
            sink.flush()


def _alive(proc: psutil.Process) -> bool:
    """Running (not a zombie waiting for a parent that may never reap it) and still the
    same process (pids get reused)."""
    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _describe(proc: psutil.Process) -> str:
    try:
        return f"{proc.pid} {' '.join(proc.cmdline())}"
    except psutil.Error:
        return str(proc.pid)


@dataclass
class DevServer:
    """One running `service dev`."""

    home: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    threads: list[threading.Thread]
    token: str = ""
    started_in: float = 0.0
    postgres: psutil.Process | None = None
    redis: psutil.Process | None = None
    descendants: list[psutil.Process] = field(default_factory=list)
    returncode: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args)

    def output_tail(self, lines: int = 40) -> str:
        return (
            "--- stdout ---\n"
            + "\n".join(self.stdout().splitlines()[-lines:])
            + "\n--- stderr ---\n"
            + "\n".join(self.stderr().splitlines()[-lines:])
        )

    # -- lifecycle -------------------------------------------------------------------

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.token:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"`service dev` exited {self.process.returncode} before "
                    f"printing its token\n{self.output_tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"`service dev` printed no `Demo admin token:` line within "
                    f"{timeout:.0f} s\n{self.output_tail()}"
                )
            found = TOKEN_LINE.search(self.stdout())
            if found:
                self.token = found.group(1)
            else:
                time.sleep(0.1)
        last = "no answer"
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"`service dev` exited {self.process.returncode} before "
                    f"/health/ready answered 200\n{self.output_tail()}"
                )
            with contextlib.suppress(httpx.TransportError):
                response = httpx.get(f"{self.base_url}/health/ready", timeout=2.0)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text}"
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"/health/ready did not answer 200 within {timeout:.0f} s "
                    f"(last: {last})\n{self.output_tail()}"
                )
            time.sleep(0.2)

    def _note_processes(self) -> None:
        """What it started: its process tree, the embedded PostgreSQL (daemonised by
        pg_ctl, so not a descendant) and Redis, from their pid files."""
        pid_file = self.home / "pg" / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, IndexError, psutil.NoSuchProcess):
                self.postgres = psutil.Process(int(pid_file.read_text().splitlines()[0]))
        redis_pid = self.home / "redis" / "redis.pid"
        if redis_pid.exists():
            with contextlib.suppress(ValueError, psutil.NoSuchProcess):
                self.redis = psutil.Process(int(redis_pid.read_text().strip()))
        with contextlib.suppress(psutil.NoSuchProcess):
            self.descendants = psutil.Process(self.process.pid).children(recursive=True)

    def stop(self, timeout: float = STOP_TIMEOUT) -> list[str]:
        """Ctrl-C, as a terminal sends it (SIGINT to the foreground process group). Returns
        what went wrong: a non-zero or late exit, processes left behind."""
        problems: list[str] = []
        self._note_processes()
        if self.postgres is not None:
            with contextlib.suppress(psutil.Error):
                self.descendants.extend(self.postgres.children(recursive=True))
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                problems.append(f"`service dev` did not exit within {timeout:.0f} s of SIGINT")
                self.kill()
        self.returncode = self.process.returncode
        if self.returncode != 0:
            problems.append(f"`service dev` exited {self.returncode} after SIGINT, not 0")
        for thread in self.threads:
            thread.join(timeout=5)
        # PostgreSQL's `pg_ctl stop -w` has returned before the dev process exits; allow a
        # moment for the kernel to finish with anything else.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.leftovers():
            time.sleep(0.1)
        problems.extend(
            f"still running after `service dev` exited: {_describe(p)}" for p in self.leftovers()
        )
        if (
            (self.home / "pg" / "postmaster.pid").exists()
            and self.postgres is not None
            and _alive(self.postgres)
        ):
            problems.append("the embedded PostgreSQL is still running (postmaster.pid)")
        return problems

    def leftovers(self) -> list[psutil.Process]:
        tracked = [p for p in (self.postgres, self.redis, *self.descendants) if p is not None]
        found = {p.pid: p for p in tracked if _alive(p)}
        # Anything else serving this home folder (PostgreSQL, redis-server).
        marker = str(self.home) + os.sep
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                if any(marker in part for part in proc.info["cmdline"] or []) and _alive(proc):
                    found.setdefault(proc.pid, proc)
        found.pop(os.getpid(), None)
        return list(found.values())

    def kill(self) -> None:
        """Last resort after a failed start or stop: leave nothing behind."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        for proc in self.leftovers():
            with contextlib.suppress(psutil.Error):
                proc.kill()


def start_dev(
    home: Path, *args: str, logs: Path | None = None, timeout: float = START_TIMEOUT
) -> DevServer:
    """Start `uv run python -m service dev --port <free> [args]` with CONCORD_HOME=home;
    return once it printed its token and /health/ready answers 200."""
    home.mkdir(parents=True, exist_ok=True)
    logs = logs or home.parent
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dev_env(home)
    stamp = f"{int(time.time() * 1000)}-{port}"
    stdout_path, stderr_path = logs / f"dev-{stamp}.stdout", logs / f"dev-{stamp}.stderr"
    began = time.monotonic()
    process = subprocess.Popen(
        cli_command("dev", "--port", str(port), *args),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    threads = [
        threading.Thread(target=_drain, args=(process.stdout, stdout_path), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, stderr_path), daemon=True),
    ]
    for thread in threads:
        thread.start()
    server = DevServer(
        home=home,
        port=port,
        env=env,
        process=process,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        threads=threads,
    )
    try:
        server._wait_ready(timeout)
    except BaseException:
        server._note_processes()
        server.kill()
        raise
    server.started_in = time.monotonic() - began
    server._note_processes()
    return server
