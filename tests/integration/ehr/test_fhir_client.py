"""The FHIR client against a stand-in EHR over real HTTP: SMART Backend Services sign-in
(the assertion checked as an EHR checks it), token reuse and renewal, paged search,
version-aware writes and what each failure becomes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from fhir.client import (
    ASSERTION_TYPE,
    AuthenticationFailed,
    Credentials,
    FhirClient,
    FhirError,
    FhirUnavailable,
    PreconditionFailed,
    TokenCache,
    public_jwk,
    signing_key,
)
from tests.integration.ehr.standin import Answer, Seen, bundle, outcome, serve

pytestmark = pytest.mark.asyncio
SCOPES = "system/Patient.rs system/MedicationRequest.rs"


def private_jwk(kind: str) -> dict[str, Any]:
    if kind == "RSA":
        key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    else:
        key = ec.generate_private_key(ec.SECP384R1())
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    return {**jwk, "kid": f"concord-{kind.lower()}"}


class Ehr:
    """A SMART token endpoint and a little FHIR server, checking what Concord sends."""

    def __init__(self, jwk: dict[str, Any], client_id: str = "concord") -> None:
        self.jwk, self.client_id = jwk, client_id
        self.base = ""
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.jtis: set[str] = set()
        self.routes: dict[tuple[str, str], Any] = {}

    def handle(self, seen: Seen) -> Answer:
        if seen.path == "/auth/token":
            return self.token(seen)
        auth = seen.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.issued \
                or auth[7:] in self.revoked:
            return 401, outcome("token expired", "login"), {}
        route = self.routes.get((seen.method, seen.path))
        if route is None:
            return 404, outcome("no such resource", "not-found"), {}
        answer: Answer = route(seen)
        return answer

    def token(self, seen: Seen) -> Answer:
        form = seen.form
        assert form["grant_type"] == "client_credentials"
        assert form["client_assertion_type"] == ASSERTION_TYPE
        assert form["scope"] == SCOPES
        header = jwt.get_unverified_header(form["client_assertion"])
        assert header["kid"] == self.jwk["kid"] and header["typ"] == "JWT"
        assert header["alg"] == ("RS384" if self.jwk["kty"] == "RSA" else "ES384")
        public = jwt.PyJWK(public_jwk(self.jwk), algorithm=header["alg"])
        token_url = f"{self.base}/auth/token"
        claims = jwt.decode(form["client_assertion"], public.key, algorithms=[header["alg"]],
                            audience=token_url, issuer=self.client_id)
        assert claims["sub"] == self.client_id
        assert 0 < claims["exp"] - time.time() <= 300
        assert str(uuid.UUID(claims["jti"])) == claims["jti"]
        assert claims["jti"] not in self.jtis, "a client assertion was replayed"
        self.jtis.add(claims["jti"])
        token = f"tok-{len(self.issued)}"
        self.issued.append(token)
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": 300,
                     "scope": SCOPES}, {"Content-Type": "application/json"}


def credentials(ehr: Ehr, base: str) -> Credentials:
    return Credentials(token_url=f"{base}/auth/token", client_id=ehr.client_id,
                       private_key=ehr.jwk, scopes=SCOPES)


@pytest.mark.parametrize("kind", ["RSA", "EC"])
async def test_signs_in_once_and_reuses_the_token(kind: str) -> None:
    ehr = Ehr(private_jwk(kind))
    ehr.routes[("GET", "/fhir/Patient/p1")] = lambda s: (
        200, {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "2"}}, {})
    with serve(ehr.handle) as server:
        ehr.base = server.base
        tokens = TokenCache()
        async with FhirClient(f"{server.base}/fhir", credentials(ehr, server.base),
                              tokens=tokens) as client:
            assert (await client.read("Patient", "p1"))["id"] == "p1"
            assert (await client.read("Patient", "p1"))["meta"]["versionId"] == "2"
        # a later run (a new client, the same process) still has the token
        async with FhirClient(f"{server.base}/fhir", credentials(ehr, server.base),
                              tokens=tokens) as client:
            await client.read("Patient", "p1")
    assert len(server.requests_to("/auth/token")) == 1
    assert {s.headers["authorization"] for s in server.requests_to("/fhir/Patient/p1")} == {
        "Bearer tok-0"}


async def test_a_refused_token_is_renewed_once() -> None:
    ehr = Ehr(private_jwk("EC"))
    ehr.routes[("GET", "/fhir/Patient/p1")] = lambda s: (
        200, {"resourceType": "Patient", "id": "p1"}, {})
    with serve(ehr.handle) as server:
        ehr.base = server.base
        async with FhirClient(f"{server.base}/fhir", credentials(ehr, server.base)) as client:
            await client.read("Patient", "p1")
            ehr.revoked.add("tok-0")  # the EHR revokes it before it expires
            await client.read("Patient", "p1")
            assert ehr.issued == ["tok-0", "tok-1"]
            ehr.client_id = "someone-else"  # now every new assertion is refused

            def refuse(seen: Seen) -> Answer:
                return 401, {"error": "invalid_client"}, {}

            ehr.revoked.add("tok-1")
            ehr.token = refuse  # type: ignore[method-assign]
            with pytest.raises(AuthenticationFailed) as refused:
                await client.read("Patient", "p1")
    assert refused.value.status == 401 and refused.value.diagnostics == "invalid_client"


async def test_search_follows_next_links_on_the_same_server_only() -> None:
    ehr = Ehr(private_jwk("RSA"))
    with serve(ehr.handle) as server:
        ehr.base = server.base
        page2 = f"{server.base}/fhir/MedicationRequest/_page2"
        ehr.routes[("GET", "/fhir/MedicationRequest")] = lambda s: (200, bundle(
            [{"resourceType": "MedicationRequest", "id": "m1"}], next_url=page2,
            included=[{"resourceType": "Medication", "id": "med1"}]), {})
        ehr.routes[("GET", "/fhir/MedicationRequest/_page2")] = lambda s: (200, bundle(
            [{"resourceType": "MedicationRequest", "id": "m2"}]), {})
        async with FhirClient(f"{server.base}/fhir", credentials(ehr, server.base)) as client:
            found = [r["id"] async for r in client.search(
                "MedicationRequest", [("patient", "p1"), ("_lastUpdated", "ge2026-01-01")])]
            assert found == ["m1", "m2"]
            first = server.requests_to("/fhir/MedicationRequest")[0]
            assert first.query == {"patient": ["p1"], "_lastUpdated": ["ge2026-01-01"]}
            # a page that links elsewhere would take the bearer token with it
            ehr.routes[("GET", "/fhir/MedicationRequest")] = lambda s: (200, bundle(
                [], next_url="https://elsewhere.example/fhir/_page2"), {})
            with pytest.raises(FhirError, match="another server"):
                _ = [r async for r in client.search("MedicationRequest", {"patient": "p1"})]


async def test_writes_are_version_aware() -> None:
    ehr = Ehr(private_jwk("EC"))
    goal = {"resourceType": "Goal", "id": "g1", "lifecycleStatus": "active",
            "description": {"text": "Walk"}, "subject": {"reference": "Patient/p1"}}

    def put(seen: Seen) -> Answer:
        if seen.headers.get("if-match") != 'W/"3"':
            return 412, outcome("version conflict", "conflict"), {}
        return 200, {**seen.json, "meta": {"versionId": "4"}}, {"ETag": 'W/"4"'}

    ehr.routes[("PUT", "/fhir/Goal/g1")] = put
    # a create answered with only its Location, as servers may without Prefer
    ehr.routes[("POST", "/fhir/Goal")] = lambda s: (
        201, None, {"Location": f"{ehr.base}/fhir/Goal/g1/_history/1"})
    ehr.routes[("GET", "/fhir/Goal/g1")] = lambda s: (200, goal, {"ETag": 'W/"1"'})
    with serve(ehr.handle) as server:
        ehr.base = server.base
        async with FhirClient(f"{server.base}/fhir", credentials(ehr, server.base)) as client:
            created = await client.create({k: v for k, v in goal.items() if k != "id"},
                                          if_none_exist="identifier=urn:ietf:rfc:3986|urn:uuid:x")
            assert created["id"] == "g1" and created["meta"]["versionId"] == "1"
            post = server.requests_to("/fhir/Goal")[0]
            assert post.headers["if-none-exist"] == "identifier=urn:ietf:rfc:3986|urn:uuid:x"
            assert post.headers["content-type"] == "application/fhir+json"
            updated = await client.update(goal, version="3")
            assert updated["meta"]["versionId"] == "4"
            with pytest.raises(PreconditionFailed):
                await client.update(goal, version="2")


async def test_an_ehr_that_is_down_or_failing_is_unavailable() -> None:
    ehr = Ehr(private_jwk("EC"))
    ehr.routes[("GET", "/fhir/Patient/p1")] = lambda s: (503, outcome("maintenance"), {})
    with serve(ehr.handle) as server:
        ehr.base = server.base
        async with FhirClient(f"{server.base}/fhir", credentials(ehr, server.base)) as client:
            with pytest.raises(FhirUnavailable) as failing:
                await client.read("Patient", "p1")
    assert failing.value.status == 503 and failing.value.diagnostics == "maintenance"
    # the server is gone now: nothing listens on its port
    async with FhirClient(f"{server.base}/fhir", credentials(ehr, server.base)) as client:
        with pytest.raises(FhirUnavailable):
            await client.read("Patient", "p1")


@pytest.mark.parametrize(("change", "reason"), [
    ({"kty": "oct", "k": "c2VjcmV0"}, "the key must be an RSA or EC key (kty RSA or EC)"),
    ({"kid": None}, "the key needs a `kid`, which the EHR finds the public key by"),
    ({"d": None}, "the key has no private part (`d`)"),
    ({"alg": "ES256"}, "an EC key signs with ES384 here, not ES256"),
])
async def test_unusable_keys_say_why(change: dict[str, Any], reason: str) -> None:
    jwk = {**private_jwk("EC"), **change}
    jwk = {k: v for k, v in jwk.items() if v is not None}
    with pytest.raises(ValueError) as refused:
        signing_key(jwk)
    assert str(refused.value) == reason


async def test_a_p256_key_is_refused() -> None:
    jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
    with pytest.raises(ValueError, match="P-384"):
        signing_key({**jwk, "kid": "k"})
