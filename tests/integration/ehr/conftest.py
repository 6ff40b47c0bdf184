"""The EHR for the sync tests is a second Concord: the same app, on its own database in the
same PostgreSQL cluster (migrated with alembic), served by uvicorn in a subprocess on a
free loopback port. It is a real FHIR server with a real SMART token endpoint; Concord
(the app under test, `client`) is registered there as a Backend Services client."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from service.cli import migrate
from service.db.engine import make_engine
from tests.factories import CLINICIANS, ClinicWorld, make_clinic

ROOT = Path(__file__).resolve().parents[3]
MRN = "urn:oid:2.16.840.1.113883.19.5.99999.1"
"""The identifier system both sides know patients by (the EHR's medical record numbers)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EhrServer:
    """The second Concord, as a subprocess that can be stopped and started again on the
    same port (the EHR going down and coming back)."""

    def __init__(self, database_url: str, redis_url: str, home: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "CONCORD_HOME": str(home), "CONCORD_SECRET_KEY": "ehr-secret-key",
            "CONCORD_PUBLIC_BASE_URL": self.url, "CONCORD_LOG_LEVEL": "WARNING",
            "CONCORD_DB_POOL_SIZE": "5",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / "ehr.log"

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "service.app:app_from_env",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the EHR did not start; see {self.log}:\n"
                                   f"{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def ehr_database_url(servers: tuple[str, str]) -> str:
    """A second database beside the tests' own, migrated like any Concord's."""
    database_url, _ = servers
    url = make_url(database_url)
    name = f"{url.database}_ehr"
    admin = sa.create_engine(url.set(drivername="postgresql+psycopg2"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    ehr_url = url.set(database=name).render_as_string(hide_password=False)
    migrate(ehr_url)
    return ehr_url


@pytest.fixture(scope="session")
def ehr_server(ehr_database_url: str, servers: tuple[str, str],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[EhrServer]:
    server = EhrServer(ehr_database_url, servers[1], tmp_path_factory.mktemp("ehr"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="session")
async def ehr_engine(ehr_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(ehr_database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def ehr_world(ehr_engine: AsyncEngine) -> ClinicWorld:
    """The clinic on the EHR's side, with its own staff and tokens."""
    return await make_clinic(ehr_engine, f"ehr-{uuid.uuid4().hex[:12]}")


def concord_key() -> dict[str, Any]:
    jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()), as_dict=True)
    return {**jwk, "kid": f"concord-{uuid.uuid4().hex[:8]}", "alg": "ES384"}


@dataclass
class Linked:
    """Concord (`world`, through `client`) connected to the EHR (`ehr_world` at `ehr`)."""

    client: Any
    world: ClinicWorld
    ehr: httpx.AsyncClient
    ehr_world: ClinicWorld
    server: EhrServer
    connection_id: uuid.UUID
    smart_client_id: str

    @property
    def fhir(self) -> str:
        return f"{self.server.url}/fhir"

    async def connection(self) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/ehr-connections/{self.connection_id}",
                                         headers=self.world.auth("admin"))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # -- the EHR's side ----------------------------------------------------------------

    async def ehr_patient(self, mrn: str, **changes: Any) -> str:
        """A patient on the EHR with the medical record number `mrn`, and a plan there
        (the EHR, a Concord, keeps a patient's medications on an open plan); its FHIR id."""
        body = {"given_name": "Ana", "family_name": f"Rivera-{mrn}", "birth_date": "1961-07-04",
                "identifiers": [{"system": MRN, "value": mrn}], **changes}
        coordinator = self.ehr_world.auth("coordinator")
        response = await self.ehr.post("/api/v1/patients", json=body, headers=coordinator)
        assert response.status_code == 201, response.text
        patient_id = str(response.json()["id"])
        plan = await self.ehr.post("/api/v1/care-plans", headers=coordinator, json={
            "patient_id": patient_id, "title": "Medication list"})
        assert plan.status_code == 201, plan.text
        return patient_id

    async def ehr_write(self, resource: dict[str, Any], version: str | None = None
                        ) -> dict[str, Any]:
        """A clinician of the EHR writes a FHIR resource there (POST, or PUT with If-Match)."""
        headers = {**self.ehr_world.auth("admin"), "Content-Type": "application/fhir+json"}
        if "id" in resource:
            if version is not None:
                headers["If-Match"] = f'W/"{version}"'
            response = await self.ehr.put(f"/fhir/{resource['resourceType']}/{resource['id']}",
                                          json=resource, headers=headers)
        else:
            response = await self.ehr.post(f"/fhir/{resource['resourceType']}", json=resource,
                                           headers={**headers, "Prefer": "return=representation"})
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    async def ehr_read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        response = await self.ehr.get(f"/fhir/{resource_type}/{resource_id}",
                                      headers=self.ehr_world.auth("admin"))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ehr_search(self, resource_type: str, **params: str) -> list[dict[str, Any]]:
        response = await self.ehr.get(f"/fhir/{resource_type}", params=params,
                                      headers=self.ehr_world.auth("admin"))
        assert response.status_code == 200, response.text
        return [e["resource"] for e in response.json().get("entry", [])
                if e.get("search", {}).get("mode", "match") == "match"]

    # -- Concord's side ----------------------------------------------------------------

    async def concord_plan(self, mrn: str, *, activate: bool = True) -> dict[str, Any]:
        """A Concord patient with the same MRN, with a plan and the standard team."""
        coordinator = self.world.auth("coordinator")
        patient = await self.client.post("/api/v1/patients", headers=coordinator, json={
            "given_name": "Ana", "family_name": f"Rivera-{mrn}", "birth_date": "1961-07-04",
            "time_zone": "America/Chicago", "identifiers": [{"system": MRN, "value": mrn}]})
        assert patient.status_code == 201, patient.text
        plan = await self.client.post("/api/v1/care-plans", headers=coordinator, json={
            "patient_id": patient.json()["id"], "title": "Chronic low back pain plan"})
        assert plan.status_code == 201, plan.text
        plan_id = plan.json()["id"]
        for who in CLINICIANS:
            added = await self.client.post(
                f"/api/v1/care-plans/{plan_id}/team", headers=coordinator,
                json={"staff_id": str(self.world.staff[who].id), "lead": who == "physician"})
            assert added.status_code == 201, added.text
        current = await self.client.get(f"/api/v1/care-plans/{plan_id}", headers=coordinator)
        if activate:
            current = await self.client.post(
                f"/api/v1/care-plans/{plan_id}/status", json={"status": "active"},
                headers={**coordinator, "If-Match": current.headers["etag"]})
            assert current.status_code == 200, current.text
        body: dict[str, Any] = current.json()
        return body

    async def medications(self, plan_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"/api/v1/care-plans/{plan_id}/medications",
                                         headers=self.world.auth("physician"))
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body


@pytest_asyncio.fixture
async def linked(client: Any, world: ClinicWorld, ehr_world: ClinicWorld,
                 ehr_server: EhrServer) -> AsyncIterator[Linked]:
    """Concord registered at the EHR as a SMART Backend Services client (its public key,
    the scopes the sync needs), and the EHR registered in Concord as a connection (the
    private key, the EHR's token endpoint)."""
    key = concord_key()
    public = {k: v for k, v in key.items() if k != "d"}
    async with httpx.AsyncClient(base_url=ehr_server.url, timeout=30) as ehr:
        registered = await ehr.post("/api/v1/smart-clients", headers=ehr_world.auth("admin"),
                                    json={"name": "Concord", "jwks": {"keys": [public]},
                                          "scopes": "system/*.cruds"})
        assert registered.status_code == 201, registered.text
        smart = registered.json()
        connection = await client.post("/api/v1/ehr-connections", headers=world.auth("admin"),
                                       json={"name": "Riverside EHR",
                                             "base_url": f"{ehr_server.url}/fhir",
                                             "token_url": smart["token_endpoint"],
                                             "client_id": smart["client_id"],
                                             "private_key": key, "identifier_system": MRN})
        assert connection.status_code == 201, connection.text
        yield Linked(client=client, world=world, ehr=ehr, ehr_world=ehr_world,
                     server=ehr_server, connection_id=uuid.UUID(connection.json()["id"]),
                     smart_client_id=smart["client_id"])


