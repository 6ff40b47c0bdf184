"""What the SMART tests share: real key pairs (cryptography), client assertions signed
with PyJWT as an EHR would sign them, and the requests an EHR sends."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.factories import ClinicWorld

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class KeyPair:
    algorithm: str
    kid: str
    private_key: Any

    @property
    def public_jwk(self) -> dict[str, Any]:
        to_jwk = RSAAlgorithm.to_jwk if self.algorithm == "RS384" else ECAlgorithm.to_jwk
        jwk: dict[str, Any] = to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    @property
    def public_pem(self) -> bytes:
        return bytes(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def rsa_pair(kid: str = "rsa-1") -> KeyPair:
    return KeyPair("RS384", kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_pair(kid: str = "ec-1") -> KeyPair:
    return KeyPair("ES384", kid, ec.generate_private_key(ec.SECP384R1()))


def claims(client_id: str, token_url: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": client_id, "sub": client_id, "aud": token_url,
        "exp": now + 240, "iat": now, "jti": uuid.uuid4().hex,
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def sign(keys: KeyPair, payload: dict[str, Any], **header: Any) -> str:
    return jwt.encode(payload, keys.private_key, algorithm=keys.algorithm,
                      headers={"kid": keys.kid, "typ": "JWT", **header})


def assertion(keys: KeyPair, client_id: str, token_url: str, **changes: Any) -> str:
    return sign(keys, claims(client_id, token_url, **changes))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    head = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{head}.{_b64(signature)}"


def hs384_with_public_key(keys: KeyPair, payload: dict[str, Any]) -> str:
    """The algorithm-confusion attack: HS384 'signed' with the client's public key PEM as
    the HMAC secret (anyone has the public key). PyJWT refuses to build this, so by hand."""
    header = {"alg": "HS384", "typ": "JWT", "kid": keys.kid}
    head = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    mac = hmac.new(keys.public_pem, head.encode(), hashlib.sha384).digest()
    return f"{head}.{_b64(mac)}"


async def register(client: Any, world: ClinicWorld, scopes: str = "system/*.rs", *,
                   keys: KeyPair | None = None, jwks_url: str | None = None,
                   name: str = "Riverside EHR") -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "scopes": scopes}
    if jwks_url is not None:
        body["jwks_url"] = jwks_url
    else:
        body["jwks"] = (keys or ec_pair()).jwks
    response = await client.post("/api/v1/smart-clients", json=body,
                                 headers=world.auth("admin"))
    assert response.status_code == 201, response.text
    registered: dict[str, Any] = response.json()
    return registered


async def request_token(client: Any, client_assertion: str, scope: str = "system/*.rs",
                        **form: str) -> Any:
    fields = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
              "client_assertion": client_assertion, "scope": scope, **form}
    return await client.post("/auth/token", content=urlencode(fields), headers=FORM)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
