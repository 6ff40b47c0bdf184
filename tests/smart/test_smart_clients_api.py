"""/api/v1/smart-clients: a clinic's admin registers the systems that may use its FHIR API."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.factories import ClinicWorld
from tests.smart.support import ec_pair, register, rsa_pair

pytestmark = pytest.mark.asyncio
API = "/api/v1/smart-clients"


async def test_admin_registers_lists_reads_and_deactivates_a_client(
        client: Any, world: ClinicWorld, settings: Any) -> None:
    keys = rsa_pair()
    response = await client.post(API, headers=world.auth("admin"), json={
        "name": "Riverside EHR", "scopes": "system/CarePlan.rs system/Goal.read",
        "jwks": keys.jwks})
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{API}/{created['id']}"
    assert response.headers["etag"] == 'W/"1"'
    assert created["client_id"].startswith("smart_")
    assert created["scopes"] == "system/CarePlan.rs system/Goal.read"
    assert created["jwks"] == keys.jwks
    assert created["active"] is True
    assert created["token_endpoint"] == f"{settings.public_base_url}/auth/token"
    staff = (await client.get(f"/api/v1/staff/{created['staff_id']}",
                              headers=world.auth("admin"))).json()
    assert (staff["name"], staff["role"], staff["discipline"]) == (
        "System: Riverside EHR", "coordinator", "administration")
    listed = (await client.get(API, headers=world.auth("admin"))).json()
    assert [c["client_id"] for c in listed] == [created["client_id"]]
    read = await client.get(f"{API}/{created['id']}", headers=world.auth("admin"))
    assert read.json() == created
    gone = await client.delete(f"{API}/{created['id']}", headers=world.auth("admin"))
    assert gone.status_code == 200 and gone.json()["active"] is False
    again = await client.delete(f"{API}/{created['id']}", headers=world.auth("admin"))
    assert again.status_code == 200 and again.json()["active"] is False
    staff = (await client.get(f"/api/v1/staff/{created['staff_id']}",
                              headers=world.auth("admin"))).json()
    assert staff["active"] is False


def _jwk(key: Any) -> dict[str, Any]:
    to_jwk = RSAAlgorithm.to_jwk if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) \
        else ECAlgorithm.to_jwk
    jwk: dict[str, Any] = to_jwk(key, as_dict=True)
    return {**jwk, "kid": "k1"}


@pytest.mark.parametrize(("body", "field", "words"), [
    (lambda: {"jwks": {"keys": [_jwk(ec.generate_private_key(ec.SECP384R1()))]}},
     "jwks.keys[0]", "private"),
    (lambda: {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k1"}]}},
     "jwks.keys[0]", "private (or symmetric)"),
    (lambda: {"jwks": {"keys": [_jwk(rsa.generate_private_key(65537, 1024).public_key())]}},  # noqa: S505
     "jwks.keys[0]", "at least 2048"),
    (lambda: {"jwks": {"keys": [_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())]}},
     "jwks.keys[0].kty", "P-384"),
    (lambda: {"jwks": {"keys": [{**ec_pair().public_jwk, "kid": None}]}},
     "jwks.keys[0].kid", "kid"),
    (lambda: {"jwks": {"keys": [ec_pair("same").public_jwk, ec_pair("same").public_jwk]}},
     "jwks.keys[1].kid", "twice"),
    (lambda: {"jwks": {"keys": [{**ec_pair().public_jwk, "alg": "RS384"}]}},
     "jwks.keys[0]", "another algorithm"),
    (lambda: {"jwks": {"keys": []}}, "jwks.keys", "between 1"),
    (lambda: {"jwks": {"not": "a set"}}, "jwks", "JSON Web Key Set"),
    (lambda: {}, "jwks", "either jwks or jwks_url"),
    (lambda: {"jwks": ec_pair().jwks, "jwks_url": "https://ehr.example/jwks"}, "jwks",
     "either"),
    (lambda: {"jwks_url": "http://ehr.example/jwks"}, "jwks_url", "https"),
    (lambda: {"jwks_url": "https://user:pw@ehr.example/jwks"}, "jwks_url", "no credentials"),
    (lambda: {"jwks_url": "ftp://ehr.example/jwks"}, "jwks_url", "https"),
    (lambda: {"jwks": ec_pair().jwks, "scopes": "patient/*.rs"}, "scopes", "system/ scopes"),
    (lambda: {"jwks": ec_pair().jwks, "scopes": "system/Observation.rs?category=laboratory"},
     "scopes", "query parameters"),
    (lambda: {"jwks": ec_pair().jwks, "scopes": "system/CarePlan.rc"}, "scopes",
     "not a SMART resource scope"),
    (lambda: {"jwks": ec_pair().jwks, "scopes": ""}, "scopes", "at least one"),
    (lambda: {"jwks": ec_pair().jwks, "name": " "}, "name", "blank"),
], ids=lambda v: v if isinstance(v, str) else None)
async def test_a_registration_names_what_is_wrong(
        client: Any, world: ClinicWorld, body: Any, field: str, words: str) -> None:
    before = (await client.get(API, headers=world.auth("admin"))).json()
    payload = {"name": "Riverside EHR", "scopes": "system/*.rs", **body()}
    response = await client.post(API, headers=world.auth("admin"), json=payload)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == field, problem
    assert words in problem["errors"][0]["reason"], problem
    assert (await client.get(API, headers=world.auth("admin"))).json() == before


async def test_only_admins_register_or_see_clients(client: Any, world: ClinicWorld) -> None:
    registered = await register(client, world)
    for who in ("coordinator", "physician"):
        listed = await client.get(API, headers=world.auth(who))
        assert listed.status_code == 403, listed.text
        read = await client.get(f"{API}/{registered['id']}", headers=world.auth(who))
        assert read.status_code == 403
        created = await client.post(API, headers=world.auth(who), json={
            "name": "Mine", "scopes": "system/*.rs", "jwks": ec_pair().jwks})
        assert created.status_code == 403
    assert len((await client.get(API, headers=world.auth("admin"))).json()) == 1


async def test_another_clinics_client_is_not_found(
        client: Any, world: ClinicWorld, other_world: ClinicWorld) -> None:
    registered = await register(client, world)
    assert (await client.get(f"{API}/{registered['id']}", headers=other_world.auth("admin"))
            ).status_code == 404
    assert (await client.delete(f"{API}/{registered['id']}", headers=other_world.auth("admin"))
            ).status_code == 404
    assert (await client.get(API, headers=other_world.auth("admin"))).json() == []


async def test_a_systems_account_gets_no_staff_token_and_is_not_edited_as_staff(
    client: Any, world: ClinicWorld
) -> None:
    """A staff token for the system's row would carry no scopes: all of a coordinator's
    rights, on /api/v1 too. Its tokens come from /auth/token only."""
    registered = await register(client, world)
    staff_id = registered["staff_id"]
    token = await client.post(f"/api/v1/staff/{staff_id}/tokens", json={"label": "x"},
                              headers=world.auth("admin"))
    assert token.status_code == 403, token.text
    current = await client.get(f"/api/v1/staff/{staff_id}", headers=world.auth("admin"))
    patched = await client.patch(f"/api/v1/staff/{staff_id}", json={"role": "admin"},
                                 headers={**world.auth("admin"),
                                          "If-Match": current.headers["etag"]})
    assert patched.status_code == 403, patched.text
