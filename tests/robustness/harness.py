"""Worker processes for robustness tests: start them, `kill -9` them, restart what died
(as a process supervisor would), and wait for the outbox to settle."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.message import Channel, Message
from domain.patient import Consent, ContactPoint, Patient
from domain.vocab import ContactSystem
from service.db import tables as t
from service.db.uow import unit_of_work

REPO_ROOT = Path(__file__).resolve().parents[2]


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it if pytest dies, so no worker outlives a run."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Workers:
    """`count` worker processes kept running: `kill_random` SIGKILLs one and starts a
    replacement; `supervise` restarts any that exited by themselves."""

    def __init__(self, env: dict[str, str], logs: Path, count: int,
                 rng: random.Random | None = None) -> None:
        self.env = {**os.environ, **env}
        self.logs = logs
        self.count = count
        self.rng = rng or random.Random()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started = 0
        self.killed = 0
        self.restarted_after_exit = 0
        logs.mkdir(parents=True, exist_ok=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.started += 1
        with open(self.logs / f"worker-{self.started}.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.robustness.worker_settings"], cwd=REPO_ROOT,
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.count)]

    def kill_random(self) -> int:
        victim = self.rng.randrange(len(self.procs))
        proc = self.procs[victim]
        pid = proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.killed += 1
        self.procs[victim] = self._spawn()
        return pid

    def supervise(self) -> None:
        for index, proc in enumerate(self.procs):
            if proc.poll() is not None:
                self.restarted_after_exit += 1
                self.procs[index] = self._spawn()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def tail(self, lines: int = 15) -> str:
        out = []
        for path in sorted(self.logs.glob("worker-*.log"))[-4:]:
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)


async def wait_until(condition: Callable[[], Awaitable[bool]], within: float,
                     every: float = 0.25, tick: Callable[[], None] | None = None) -> bool:
    """Poll `condition` until it holds or `within` seconds pass, calling `tick` (e.g.
    `Workers.supervise`) on every round."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        if await condition():
            return True
        await asyncio.sleep(every)
    return await condition()


async def make_patient(engine: AsyncEngine, clinic_id: uuid.UUID) -> Patient:
    patient = Patient(
        id=uuid.uuid4(), clinic_id=clinic_id, given_name="Rosa", family_name="Delgado",
        birth_date=dt.date(1968, 4, 12),
        contact_points=[ContactPoint(system=ContactSystem.EMAIL, value="rosa@example.org")],
        consent=Consent(messages=True, given_at=dt.datetime.now(dt.UTC)),
    )
    async with unit_of_work(engine) as uow:
        await uow.patients.add(patient)
    return patient


async def enqueue_messages(engine: AsyncEngine, patient: Patient, count: int,
                           tag: str) -> list[Message]:
    """`count` due e-mails for `patient`, written through `MessageRepository.enqueue`."""
    messages = [
        Message(id=uuid.uuid4(), clinic_id=patient.clinic_id, patient_id=patient.id,
                kind="check-in", channel=Channel.EMAIL, recipient=f"p{i}@example.org",
                subject="How are we doing together?", body_text=f"Check-in {i} of {tag}",
                idempotency_key=f"{tag}:{i}")
        for i in range(count)
    ]
    for start in range(0, count, 500):
        async with unit_of_work(engine) as uow:
            for message in messages[start:start + 500]:
                message.validate()
                assert await uow.messages.enqueue(message)
    return messages


async def statuses(engine: AsyncEngine, clinic_id: uuid.UUID) -> dict[str, int]:
    m = t.messages.c
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(m.status, sa.func.count()).where(
            m.clinic_id == clinic_id).group_by(m.status))
        return {str(status): int(n) for status, n in rows}


async def attempts_histogram(engine: AsyncEngine, clinic_id: uuid.UUID) -> dict[int, int]:
    m = t.messages.c
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(m.attempts, sa.func.count()).where(
            m.clinic_id == clinic_id).group_by(m.attempts))
        return {int(a): int(n) for a, n in rows}
