"""/api/v1/ehr-connections: an admin registers the clinic's EHR with Concord's private key,
which never comes back out (a read shows its public half, for the EHR's registration);
what cannot work is refused naming the field; deactivation stops the sync."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ClinicWorld
from tests.integration.ehr.conftest import MRN, concord_key
from workers.ehr_sync import pull_medications, push_changes

pytestmark = pytest.mark.asyncio
API = "/api/v1/ehr-connections"


def connection(**changes: Any) -> dict[str, Any]:
    body = {"name": "Riverside EHR", "base_url": "https://ehr.example.org/fhir/R4",
            "token_url": "https://ehr.example.org/oauth2/token", "client_id": "concord-prod",
            "private_key": concord_key(), "identifier_system": MRN}
    body.update(changes)
    return body


async def test_register_read_and_deactivate(client: Any, world: ClinicWorld) -> None:
    key = concord_key()
    created = await client.post(API, headers=world.auth("admin"),
                                json=connection(private_key=key))
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"{API}/{body['id']}"
    assert created.headers["etag"] == 'W/"1"'
    assert body["public_key"] == {k: v for k, v in key.items() if k != "d"}
    assert key["d"] not in created.text and "private_key" not in body
    assert body["scopes"].split() == [
        "system/Patient.rs", "system/Medication.r", "system/MedicationRequest.rs",
        "system/MedicationStatement.rs", "system/CarePlan.crus", "system/Goal.crus"]
    assert (body["active"], body["last_error"], body["medications_watermark"]) == (
        True, None, None)

    listed = await client.get(API, headers=world.auth("coordinator"))
    assert [c["id"] for c in listed.json()["items"]] == [body["id"]]
    read = await client.get(f"{API}/{body['id']}", headers=world.auth("coordinator"))
    assert read.status_code == 200 and read.json()["skipped"] == []
    assert key["d"] not in listed.text + read.text

    stale = await client.patch(f"{API}/{body['id']}", json={"active": False},
                               headers={**world.auth("admin"), "If-Match": 'W/"7"'})
    assert stale.status_code == 412, stale.text
    off = await client.patch(f"{API}/{body['id']}", json={"active": False},
                             headers={**world.auth("admin"), "If-Match": read.headers["etag"]})
    assert off.status_code == 200, off.text
    assert off.json()["active"] is False and off.headers["etag"] == 'W/"2"'


async def test_a_deactivated_connection_is_not_synced(client: Any, world: ClinicWorld,
                                                      engine: AsyncEngine) -> None:
    created = (await client.post(API, headers=world.auth("admin"), json=connection())).json()
    off = await client.patch(f"{API}/{created['id']}", json={"active": False},
                             headers={**world.auth("admin"), "If-Match": 'W/"1"'})
    assert off.status_code == 200
    assert not (await pull_medications(engine, uuid.UUID(created["id"]))).ran
    assert not (await push_changes(engine, uuid.UUID(created["id"]))).ran
    after = (await client.get(f"{API}/{created['id']}", headers=world.auth("admin"))).json()
    assert after["last_polled_at"] is None and after["last_pushed_at"] is None


def _rsa_1024() -> dict[str, Any]:
    # too small on purpose: the registration must refuse it
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    return {**RSAAlgorithm.to_jwk(key, as_dict=True), "kid": "small"}


def _p256() -> dict[str, Any]:
    return {**ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True),
            "kid": "p256"}


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"base_url": "http://ehr.example.org/fhir"}, "base_url",
     "must use https (http only for localhost)"),
    ({"base_url": "https://ehr.example.org/fhir/"}, "base_url",
     "without a trailing slash, e.g. https://ehr.example/fhir/R4"),
    ({"base_url": "ehr.example.org"}, "base_url", "an absolute https URL"),
    ({"token_url": "https://ehr.example.org/token?tenant=1"}, "token_url",
     "without a query or fragment"),
    ({"token_url": None}, "token_url", "token_url, client_id and private_key go together "
                                       "(SMART Backend Services), or none of them"),
    ({"private_key": "_rsa_1024"}, "private_key", "an RSA key must have at least 2048 bits"),
    ({"private_key": "_p256"}, "private_key", "an EC key must be on the P-384 curve (ES384)"),
    ({"scopes": "system/Patient.rs launch openid"}, "scopes",
     "space-separated SMART system scopes, e.g. system/Patient.rs"),
    ({"scopes": "system/Patient.rs\u00a0system/Goal.cru"}, "scopes",
     "space-separated SMART system scopes, e.g. system/Patient.rs"),
    ({"identifier_system": " "}, "identifier_system", "must not be blank"),
])
async def test_what_cannot_work_is_refused_naming_the_field(
        client: Any, world: ClinicWorld, changes: dict[str, Any], field: str,
        reason: str) -> None:
    key = changes.get("private_key")
    if key in ("_rsa_1024", "_p256"):
        changes = {**changes, "private_key": _rsa_1024() if key == "_rsa_1024" else _p256()}
    response = await client.post(API, headers=world.auth("admin"), json=connection(**changes))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {"field": field, "reason": reason} in response.json()["errors"]
    assert (await client.get(API, headers=world.auth("admin"))).json()["items"] == []


async def test_a_rotated_key_shows_its_new_public_half(client: Any, world: ClinicWorld) -> None:
    created = (await client.post(API, headers=world.auth("admin"), json=connection())).json()
    new_key = concord_key()
    rotated = await client.patch(f"{API}/{created['id']}", json={"private_key": new_key},
                                 headers={**world.auth("admin"), "If-Match": 'W/"1"'})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["public_key"]["kid"] == new_key["kid"]
    assert new_key["d"] not in rotated.text
