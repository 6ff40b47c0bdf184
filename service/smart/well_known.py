"""GET /.well-known/smart-configuration, at the server root and under the FHIR base (where
SMART clients look for it: {fhir base}/.well-known/smart-configuration)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from service.smart.keys import ALGORITHMS
from service.smart.token import GRANT_TYPE, token_url

SCOPES_SUPPORTED = [
    "system/*.rs",
    "system/*.cruds",
    "system/*.read",
    "system/*.write",
    "system/*.*",
]
"""Wildcards; any narrower system/ scope (system/CarePlan.rs) is understood as well.
Scopes with query parameters are not."""


def smart_configuration(public_base_url: str) -> dict[str, Any]:
    return {
        "token_endpoint": token_url(public_base_url),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "grant_types_supported": [GRANT_TYPE],
        "scopes_supported": SCOPES_SUPPORTED,
        "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
    }


@get(
    ["/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"],
    sync_to_thread=False,
    tags=["smart"],
)
def well_known(state: State) -> Response[dict[str, Any]]:
    return Response(
        smart_configuration(state.settings.public_base_url),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=3600"},
    )
