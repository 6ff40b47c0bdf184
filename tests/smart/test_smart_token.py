"""SMART Backend Services over HTTP: an EHR registered by the clinic's admin signs an
assertion, gets a token at /auth/token and reads FHIR with it; every way an assertion
can be wrong is refused with an RFC 6749 error."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import tables as t
from service.settings import Settings
from tests.factories import PATIENT, ClinicWorld
from tests.integration.workers.local_http import Answer, serve
from tests.smart.support import (
    ASSERTION_TYPE,
    FORM,
    KeyPair,
    assertion,
    bearer,
    claims,
    ec_pair,
    hs384_with_public_key,
    register,
    request_token,
    rsa_pair,
    sign,
    unsigned,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def rsa_keys() -> KeyPair:
    return rsa_pair("rsa-2026")


@pytest.fixture(scope="module")
def ec_keys() -> KeyPair:
    return ec_pair("ec-2026")


@pytest.fixture
def token_url(settings: Settings) -> str:
    return f"{settings.public_base_url}/auth/token"


async def new_patient(client: Any, world: ClinicWorld) -> str:
    response = await client.post("/api/v1/patients", json=PATIENT,
                                 headers=world.auth("coordinator"))
    assert response.status_code == 201, response.text
    patient_id: str = response.json()["id"]
    return patient_id


def refused(response: Any, error: str, words: str = "") -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == error, body
    assert words.lower() in body["error_description"].lower(), body
    assert response.headers["cache-control"] == "no-store"


# -- discovery ---------------------------------------------------------------------------

async def test_smart_configuration_is_published_at_the_root_and_the_fhir_base(
        client: Any, token_url: str) -> None:
    for path in ("/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"):
        response = await client.get(path)
        assert response.status_code == 200, path
        config = response.json()
        assert config["token_endpoint"] == token_url
        assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
        assert config["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
        assert config["grant_types_supported"] == ["client_credentials"]
        assert "system/*.rs" in config["scopes_supported"]
        assert set(config["capabilities"]) == {
            "client-confidential-asymmetric", "permission-v1", "permission-v2"}


async def test_capability_statement_names_the_token_endpoint(client: Any,
                                                             token_url: str) -> None:
    security = (await client.get("/fhir/metadata")).json()["rest"][0]["security"]
    (oauth,) = [e for e in security["extension"] if e["url"] ==
                "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"]
    assert oauth["extension"] == [{"url": "token", "valueUri": token_url}]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"


# -- the happy paths ---------------------------------------------------------------------

async def test_rs384_client_gets_a_token_and_reads_fhir(
        client: Any, world: ClinicWorld, rsa_keys: KeyPair, token_url: str) -> None:
    patient_id = await new_patient(client, world)
    registered = await register(client, world, "system/Patient.rs system/CarePlan.rs",
                                keys=rsa_keys)
    response = await request_token(
        client, assertion(rsa_keys, registered["client_id"], token_url),
        scope="system/Patient.read system/CarePlan.rs")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    token = response.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 300
    assert token["scope"] == "system/Patient.read system/CarePlan.rs"
    assert (await client.get("/fhir/metadata", headers=bearer(token["access_token"]))
            ).status_code == 200
    read = await client.get(f"/fhir/Patient/{patient_id}", headers=bearer(token["access_token"]))
    assert read.status_code == 200, read.text
    assert read.json()["id"] == patient_id
    # the audit trail names the system's staff row
    trail = await client.get(f"/api/v1/audit-events?patient_id={patient_id}",
                             headers=world.auth("admin"))
    reads = [e for e in trail.json()["items"]
             if e["action"] == "read" and e["resource_type"] == "Patient"]
    assert [e["actor_id"] for e in reads] == [registered["staff_id"]]
    staff = await client.get(f"/api/v1/staff/{registered['staff_id']}",
                             headers=world.auth("admin"))
    assert staff.json()["name"] == "System: Riverside EHR"


async def test_es384_client_with_a_jwks_url_gets_a_token_and_reads_fhir(
        client: Any, world: ClinicWorld, ec_keys: KeyPair, token_url: str) -> None:
    patient_id = await new_patient(client, world)
    served: list[dict[str, Any]] = [ec_keys.jwks]
    fetches: list[str] = []

    def jwks(method: str, path: str, headers: Any, body: bytes) -> Answer:
        fetches.append(path)
        return 200, json.dumps(served[-1]).encode(), {"Content-Type": "application/json"}

    with serve(jwks) as port:
        url = f"http://127.0.0.1:{port}/jwks.json"
        registered = await register(client, world, "system/*.cruds", jwks_url=url)
        assert registered["jwks_url"] == url and registered["jwks"] is None
        response = await request_token(
            client, assertion(ec_keys, registered["client_id"], token_url), scope="system/*.rs")
        assert response.status_code == 200, response.text
        assert response.json()["scope"] == "system/*.rs"
        read = await client.get(f"/fhir/Patient/{patient_id}",
                                headers=bearer(response.json()["access_token"]))
        assert read.status_code == 200, read.text
        assert len(fetches) == 1
        # The client rotates its key. An unknown kid fetches the set again, but not more
        # than once a second, so that unknown kids cannot hammer the client's server.
        rotated = ec_pair("ec-2027")
        served.append({"keys": [ec_keys.public_jwk, rotated.public_jwk]})
        at_once = await request_token(client, assertion(rotated, registered["client_id"],
                                                        token_url))
        refused(at_once, "invalid_client", "no ES384 key with kid 'ec-2027'")
        await asyncio.sleep(1.1)
        later = await request_token(client, assertion(rotated, registered["client_id"],
                                                      token_url))
        assert later.status_code == 200, later.text
        assert len(fetches) == 2
        # a jku header naming any other URL is refused: keys come from the registration
        elsewhere = await request_token(client, sign(
            ec_keys, claims(registered["client_id"], token_url),
            jku="https://attacker.example/jwks.json"))
        refused(elsewhere, "invalid_client", "jku")
    assert fetches and set(fetches) == {"/jwks.json"}


async def test_a_jwks_url_that_does_not_answer_refuses_the_client(
        client: Any, world: ClinicWorld, ec_keys: KeyPair, token_url: str) -> None:
    def broken(method: str, path: str, headers: Any, body: bytes) -> Answer:
        return 500, b"oops", {}

    with serve(broken) as port:
        registered = await register(client, world,
                                    jwks_url=f"http://127.0.0.1:{port}/broken-jwks.json")
        response = await request_token(client, assertion(ec_keys, registered["client_id"],
                                                         token_url))
    refused(response, "invalid_client", "JWKS URL answered 500")


async def test_the_same_assertion_gets_one_token_even_when_sent_at_once(
        client: Any, world: ClinicWorld, ec_keys: KeyPair, token_url: str) -> None:
    registered = await register(client, world, keys=ec_keys)
    once = assertion(ec_keys, registered["client_id"], token_url)
    first = await request_token(client, once)
    assert first.status_code == 200, first.text
    refused(await request_token(client, once), "invalid_client", "used already")
    together = assertion(ec_keys, registered["client_id"], token_url)
    answers = await asyncio.gather(*[request_token(client, together) for _ in range(4)])
    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400]


# -- what is refused ---------------------------------------------------------------------

class FromNow(int):
    """Seconds from when the test runs (not from when the module was collected)."""


@pytest.mark.parametrize(("changes", "words"), [
    ({"exp": FromNow(-5)}, "expired"),
    ({"exp": FromNow(600)}, "more than five minutes"),
    ({"exp": None}, "exp"),
    ({"jti": None}, "jti"),
    ({"aud": "https://elsewhere.example/auth/token"}, "aud must be this server's token"),
    ({"aud": None}, "aud"),
    ({"sub": "someone-else"}, "sub must be the client_id"),
    ({"iat": FromNow(3600)}, "iat is in the future"),
    ({"nbf": FromNow(3600)}, "nbf is in the future"),
])
async def test_a_wrong_assertion_is_refused(
        client: Any, world: ClinicWorld, ec_keys: KeyPair, token_url: str,
        changes: dict[str, Any], words: str) -> None:
    registered = await register(client, world, keys=ec_keys)
    now = int(time.time())
    changes = {k: now + v if isinstance(v, FromNow) else v for k, v in changes.items()}
    response = await request_token(client, assertion(ec_keys, registered["client_id"],
                                                     token_url, **changes))
    refused(response, "invalid_client", words)


async def test_a_small_clock_skew_is_allowed(client: Any, world: ClinicWorld, ec_keys: KeyPair,
                                             token_url: str) -> None:
    registered = await register(client, world, keys=ec_keys)
    now = int(time.time())
    response = await request_token(client, assertion(
        ec_keys, registered["client_id"], token_url, iat=now + 30, nbf=now + 30, exp=now + 320))
    assert response.status_code == 200, response.text


async def test_an_unknown_issuer_is_refused(client: Any, world: ClinicWorld, ec_keys: KeyPair,
                                            token_url: str) -> None:
    registered = await register(client, world, keys=ec_keys)
    response = await request_token(client, assertion(
        ec_keys, registered["client_id"], token_url, iss="smart_not-a-client"))
    refused(response, "invalid_client", "no active client")
    mismatch = await request_token(client, assertion(ec_keys, registered["client_id"], token_url),
                                   client_id="smart_someone-else")
    refused(mismatch, "invalid_client", "client_id does not match")


async def test_an_unknown_kid_is_refused(client: Any, world: ClinicWorld, ec_keys: KeyPair,
                                         token_url: str) -> None:
    registered = await register(client, world, keys=ec_keys)
    response = await request_token(client, sign(
        ec_keys, claims(registered["client_id"], token_url), kid="not-registered"))
    refused(response, "invalid_client", "no ES384 key with kid 'not-registered'")


async def test_unsigned_and_symmetric_assertions_are_refused(
        client: Any, world: ClinicWorld, rsa_keys: KeyPair, token_url: str) -> None:
    registered = await register(client, world, keys=rsa_keys)
    payload = claims(registered["client_id"], token_url)
    none = await request_token(client, unsigned({"alg": "none", "typ": "JWT",
                                                 "kid": rsa_keys.kid}, payload))
    refused(none, "invalid_client", "alg 'none' is not accepted")
    confused = await request_token(client, hs384_with_public_key(
        rsa_keys, claims(registered["client_id"], token_url)))
    refused(confused, "invalid_client", "alg 'HS384' is not accepted")
    garbage = await request_token(client, "not.a.jwt")
    refused(garbage, "invalid_client", "not a signed JWT")


async def test_an_algorithm_that_does_not_match_the_key_is_refused(
        client: Any, world: ClinicWorld, rsa_keys: KeyPair, token_url: str) -> None:
    """An RS384 key registered; an assertion claiming ES384 under its kid finds no key."""
    registered = await register(client, world, keys=rsa_keys)
    impostor = KeyPair("ES384", rsa_keys.kid, ec_pair().private_key)
    response = await request_token(client, assertion(impostor, registered["client_id"],
                                                     token_url))
    refused(response, "invalid_client", f"no ES384 key with kid {rsa_keys.kid!r}")


async def test_a_key_of_another_client_is_refused(client: Any, world: ClinicWorld,
                                                  token_url: str) -> None:
    mine, theirs = ec_pair("shared-kid"), ec_pair("shared-kid")
    registered = await register(client, world, keys=mine, name="Mine")
    await register(client, world, keys=theirs, name="Theirs")
    response = await request_token(client, assertion(theirs, registered["client_id"],
                                                     token_url))
    refused(response, "invalid_client", "signature does not verify")


async def test_request_shape_errors(client: Any, world: ClinicWorld, ec_keys: KeyPair,
                                    token_url: str) -> None:
    registered = await register(client, world, keys=ec_keys)
    signed = assertion(ec_keys, registered["client_id"], token_url)
    refused(await request_token(client, signed, grant_type="authorization_code"),
            "unsupported_grant_type", "client_credentials")
    as_json = await client.post("/auth/token", json={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed, "scope": "system/*.rs"})
    refused(as_json, "invalid_request", "x-www-form-urlencoded")
    refused(await request_token(client, signed, client_assertion_type="urn:other"),
            "invalid_client", "client_assertion_type")
    refused(await request_token(client, signed, scope=""), "invalid_request", "scope")
    twice = await client.post(
        "/auth/token", headers=FORM,
        content="grant_type=client_credentials&grant_type=client_credentials")
    refused(twice, "invalid_request", "more than once")
    empty = await client.post("/auth/token", headers=FORM, content="")
    refused(empty, "invalid_request", "grant_type is required")
    # none of these used the assertion up
    assert (await request_token(client, signed)).status_code == 200


async def test_scopes_not_allowed_are_invalid_scope(client: Any, world: ClinicWorld,
                                                    ec_keys: KeyPair, token_url: str) -> None:
    registered = await register(client, world, "system/CarePlan.rs", keys=ec_keys)
    response = await request_token(client, assertion(ec_keys, registered["client_id"],
                                                     token_url), scope="system/Patient.rs")
    refused(response, "invalid_scope", "system/CarePlan.rs")
    queried = await request_token(client, assertion(ec_keys, registered["client_id"],
                                                    token_url),
                                  scope="system/CarePlan.rs?status=active")
    refused(queried, "invalid_scope")
    narrowed = await request_token(client, assertion(ec_keys, registered["client_id"],
                                                     token_url), scope="system/*.read openid")
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "system/CarePlan.read"


# -- the token in use --------------------------------------------------------------------

async def token_for(client: Any, world: ClinicWorld, keys: KeyPair, token_url: str,
                    scopes: str = "system/*.rs") -> tuple[dict[str, Any], str]:
    registered = await register(client, world, scopes, keys=keys)
    response = await request_token(client, assertion(keys, registered["client_id"], token_url),
                                   scope=scopes)
    assert response.status_code == 200, response.text
    access_token: str = response.json()["access_token"]
    return registered, access_token


async def test_a_scope_for_another_resource_type_is_403(
        client: Any, world: ClinicWorld, ec_keys: KeyPair, token_url: str) -> None:
    patient_id = await new_patient(client, world)
    _, token = await token_for(client, world, ec_keys, token_url, "system/CarePlan.rs")
    response = await client.get(f"/fhir/Patient/{patient_id}", headers=bearer(token))
    assert response.status_code == 403, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "forbidden"
    assert "system/Patient.r" in outcome["issue"][0]["diagnostics"]


async def test_a_system_token_is_refused_on_the_internal_api(
        client: Any, world: ClinicWorld, ec_keys: KeyPair, token_url: str) -> None:
    _, token = await token_for(client, world, ec_keys, token_url, "system/*.cruds")
    for path in ("/api/v1/patients", "/api/v1/care-plans", "/api/v1/smart-clients"):
        response = await client.get(path, headers=bearer(token))
        assert response.status_code == 403, f"{path}: {response.text}"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "internal API is for clinic staff" in response.json()["detail"]


async def test_a_system_token_reads_only_its_own_clinic(
        client: Any, world: ClinicWorld, other_world: ClinicWorld, ec_keys: KeyPair,
        token_url: str) -> None:
    theirs = await new_patient(client, other_world)
    _, token = await token_for(client, world, ec_keys, token_url)
    response = await client.get(f"/fhir/Patient/{theirs}", headers=bearer(token))
    assert response.status_code == 404, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_an_expired_token_is_401(client: Any, engine: AsyncEngine, world: ClinicWorld,
                                       ec_keys: KeyPair, token_url: str) -> None:
    patient_id = await new_patient(client, world)
    registered, token = await token_for(client, world, ec_keys, token_url)
    assert (await client.get(f"/fhir/Patient/{patient_id}", headers=bearer(token))
            ).status_code == 200
    async with engine.begin() as conn:
        await conn.execute(
            t.api_tokens.update()
            .where(t.api_tokens.c.staff_id == uuid.UUID(registered["staff_id"]))
            .values(expires_at=sa.func.now() - sa.text("interval '1 second'")))
    response = await client.get(f"/fhir/Patient/{patient_id}", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_a_deactivated_client_gets_no_token_and_its_tokens_stop_working(
        client: Any, world: ClinicWorld, ec_keys: KeyPair, token_url: str) -> None:
    patient_id = await new_patient(client, world)
    registered, token = await token_for(client, world, ec_keys, token_url)
    gone = await client.delete(f"/api/v1/smart-clients/{registered['id']}",
                               headers=world.auth("admin"))
    assert gone.status_code == 200, gone.text
    assert gone.json()["active"] is False
    response = await client.get(f"/fhir/Patient/{patient_id}", headers=bearer(token))
    assert response.status_code == 401
    refused(await request_token(client, assertion(ec_keys, registered["client_id"], token_url)),
            "invalid_client", "no active client")
