"""`python -m service smart-client`: an operator registers an EHR from the console, and
the EHR then gets tokens with the printed client_id."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from jwt.algorithms import ECAlgorithm

from service.cli import main
from service.settings import Settings
from tests.factories import ClinicWorld
from tests.smart.support import assertion, ec_pair, request_token

pytestmark = pytest.mark.asyncio


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path) -> None:
    assert settings.database_url
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CONCORD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CONCORD_PUBLIC_BASE_URL", settings.public_base_url)


async def run(*argv: str) -> int:
    # the CLI runs its own event loop, as it does from a shell
    return await asyncio.to_thread(main, list(argv))


async def test_cli_registers_a_client_from_a_jwks_file(
        cli_env: None, client: Any, world: ClinicWorld, settings: Settings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    keys = ec_pair("cli-key")
    jwks_file = tmp_path / "riverside.jwks.json"
    jwks_file.write_text(json.dumps(keys.public_jwk))  # a single JWK is taken as a set of one
    code = await run("smart-client", "--clinic", world.slug, "--name", "Riverside EHR",
                     "--jwks", str(jwks_file), "--scopes", "system/CarePlan.rs system/Patient.rs")
    out, err = capsys.readouterr()
    assert code == 0, err
    client_id = out.strip().splitlines()[-1]
    assert client_id.startswith("smart_")
    assert f"{settings.public_base_url}/auth/token" in err
    response = await request_token(
        client, assertion(keys, client_id, f"{settings.public_base_url}/auth/token"),
        scope="system/*.read")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "system/CarePlan.read system/Patient.read"
    listed = await client.get("/api/v1/smart-clients", headers=world.auth("admin"))
    assert [c["client_id"] for c in listed.json()] == [client_id]


async def test_cli_says_what_is_wrong(cli_env: None, world: ClinicWorld, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    private = tmp_path / "private.json"
    private.write_text(ECAlgorithm.to_jwk(ec_pair().private_key))
    assert await run("smart-client", "--clinic", world.slug, "--name", "X",
                     "--jwks", str(private)) == 2
    assert "private" in capsys.readouterr().err
    assert await run("smart-client", "--clinic", "no-such-clinic", "--name", "X",
                     "--jwks-url", "https://ehr.example/jwks.json") == 1
    assert "no clinic" in capsys.readouterr().err
    assert await run("smart-client", "--clinic", world.slug, "--name", "X",
                     "--jwks-url", "http://ehr.example/jwks.json") == 2
    assert "jwks_url: must be https" in capsys.readouterr().err
