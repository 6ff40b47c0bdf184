"""An EHR integrator's view of Concord: the base URL, what it discovers there (the token
endpoint, from the CapabilityStatement and .well-known/smart-configuration), a SMART
Backend Services token got with a signed RS384 client assertion, and fhirpy clients that
carry it. Raw httpx is kept for what fhirpy cannot send or does not show: response
headers (ETag, Location), a wrong Content-Type, a body that is not JSON."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import BaseFHIRError

from service.settings import Settings
from tests.factories import ClinicWorld
from tests.smart.support import ASSERTION_TYPE, KeyPair, sign

FHIR_JSON = "application/fhir+json"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SCOPES = "system/*.cruds"


@dataclass(frozen=True)
class LiveServer:
    url: str
    settings: Settings

    @property
    def fhir_base(self) -> str:
        return f"{self.url}/fhir"


@dataclass
class Integrator:
    """One EHR registered with one clinic, holding a token."""

    server: LiveServer
    world: ClinicWorld
    client_id: str
    staff_id: str
    """The staff row the system acts as: the agent the audit trail names."""
    token: str
    scope: str
    token_endpoint: str
    http: httpx.AsyncClient
    """Raw HTTP to the FHIR base, with the token."""
    fhir: AsyncFHIRClient

    @property
    def base(self) -> str:
        return self.server.fhir_base

    def fhirpy(self, **headers: str) -> AsyncFHIRClient:
        """A fhirpy client sending `headers` on every request (fhirpy's only way to send
        If-Match, Prefer, If-None-Exist: its save() and search() take no headers)."""
        return client_for(self.server, f"Bearer {self.token}", headers)

    def staff_fhir(self, who: str) -> AsyncFHIRClient:
        """fhirpy as one of the clinic's staff (their bearer token), not the system."""
        return client_for(self.server, f"Bearer {self.world.tokens[who]}", {})

    def staff_http(self, who: str) -> httpx.AsyncClient:
        """Raw HTTP to the server root as a staff member (for the internal API)."""
        return httpx.AsyncClient(base_url=self.server.url, headers=self.world.auth(who),
                                 timeout=30)


def client_for(server: LiveServer, authorization: str,
               headers: dict[str, str]) -> AsyncFHIRClient:
    return AsyncFHIRClient(server.fhir_base, authorization=authorization,
                           extra_headers=headers or None)


def token_endpoint_of(capability: dict[str, Any]) -> str:
    """The token URL a CapabilityStatement advertises (SMART oauth-uris extension)."""
    for extension in capability["rest"][0]["security"].get("extension", []):
        if extension.get("url") == OAUTH_URIS:
            for inner in extension.get("extension", []):
                if inner.get("url") == "token":
                    return str(inner["valueUri"])
    raise AssertionError("the CapabilityStatement names no token endpoint")


async def discover(http: httpx.AsyncClient, fhir_base: str) -> str:
    """The token endpoint, as a client finds it: the CapabilityStatement and
    {base}/.well-known/smart-configuration must agree."""
    metadata = await http.get(f"{fhir_base}/metadata", headers={"Accept": FHIR_JSON})
    assert metadata.status_code == 200, metadata.text
    assert metadata.headers["content-type"].startswith(FHIR_JSON)
    from_statement = token_endpoint_of(metadata.json())
    well_known = await http.get(f"{fhir_base}/.well-known/smart-configuration")
    assert well_known.status_code == 200, well_known.text
    configuration = well_known.json()
    assert configuration["token_endpoint"] == from_statement
    assert "private_key_jwt" in configuration["token_endpoint_auth_methods_supported"]
    assert "RS384" in configuration["token_endpoint_auth_signing_alg_values_supported"]
    return from_statement


def client_assertion(keys: KeyPair, client_id: str, token_endpoint: str) -> str:
    now = int(time.time())
    return sign(keys, {"iss": client_id, "sub": client_id, "aud": token_endpoint,
                       "exp": now + 240, "iat": now, "jti": uuid.uuid4().hex})


async def backend_token(http: httpx.AsyncClient, token_endpoint: str, keys: KeyPair,
                        client_id: str, scope: str = SCOPES) -> dict[str, Any]:
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(keys, client_id, token_endpoint),
            "scope": scope}
    response = await http.post(token_endpoint, content=urlencode(form),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["token_type"].lower() == "bearer"
    return body


async def register(http: httpx.AsyncClient, server: LiveServer, world: ClinicWorld,
                   keys: KeyPair, scopes: str = SCOPES) -> dict[str, Any]:
    """The clinic's admin registers the EHR and its public key (out of band for the EHR)."""
    response = await http.post(f"{server.url}/api/v1/smart-clients",
                               json={"name": "Riverside EHR", "scopes": scopes,
                                     "jwks": keys.jwks},
                               headers=world.auth("admin"))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@asynccontextmanager
async def connect(server: LiveServer, world: ClinicWorld, keys: KeyPair,
                  scopes: str = SCOPES) -> AsyncIterator[Integrator]:
    async with httpx.AsyncClient(timeout=30) as bare:
        registered = await register(bare, server, world, keys, scopes)
        token_endpoint = await discover(bare, server.fhir_base)
        token = await backend_token(bare, token_endpoint, keys, registered["client_id"],
                                    scopes)
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": FHIR_JSON}
    async with httpx.AsyncClient(base_url=server.fhir_base, headers=headers,
                                 timeout=30) as http:
        yield Integrator(
            server=server, world=world, client_id=registered["client_id"],
            staff_id=registered["staff_id"], token=token["access_token"],
            scope=token["scope"], token_endpoint=token_endpoint, http=http,
            fhir=client_for(server, f"Bearer {token['access_token']}", {}),
        )


def outcome_of(error: BaseFHIRError) -> dict[str, Any]:
    """The OperationOutcome a fhirpy exception carries (fhirpy keeps the body as the
    message for 404/410/412 and as `.resource` for other 4xx)."""
    resource = getattr(error, "resource", None)
    if isinstance(resource, dict):
        return resource
    parsed: dict[str, Any] = json.loads(str(error))
    return parsed


def plain(value: Any) -> Any:
    """fhirpy's resources and AttrDicts as plain JSON values, for comparisons."""
    if hasattr(value, "serialize"):
        value = value.serialize()
    return json.loads(json.dumps(value))
