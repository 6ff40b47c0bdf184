"""The CapabilityStatement, built from what the router really serves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.mapping import extensions as ext
from fhir.mapping import opioids
from fhir.search.params import AUDIT_EVENT_PARAMS, COMMON, PARAMS, STORED_TYPES, SearchParam
from fhir.subscriptions import topics
from fhir.writes.engine import DELETABLE, WRITABLE

FHIR_VERSION = "4.0.1"

# resource type -> interactions this server implements for it
IMPLEMENTED: dict[str, list[str]] = {
    "CarePlan": ["read"],
    "CareTeam": ["read"],
    "Patient": ["read"],
    "Practitioner": ["read"],
    "Goal": ["read"],
    "MedicationStatement": ["read"],
    "Observation": ["read"],
    "DetectedIssue": ["read", "search-type"],
}

# what fhir.api.reads serves for every type in the resource store
_READ_SIDE = ("read", "vread", "history-instance", "history-type", "search-type")


def _add_read_side(implemented: dict[str, list[str]]) -> None:
    for name in sorted(STORED_TYPES):
        codes = implemented.setdefault(name, [])
        codes += [code for code in _READ_SIDE if code not in codes]
    implemented.setdefault("AuditEvent", ["read", "search-type"])


_add_read_side(IMPLEMENTED)


def _add_write_side(implemented: dict[str, list[str]]) -> None:
    """What fhir.api.writes serves: create and version-aware update of the types a client
    may write, delete of those that are not clinical records."""
    for name in sorted(WRITABLE):
        codes = implemented.setdefault(name, [])
        codes += [code for code in ("create", "update") if code not in codes]
        if name in DELETABLE:
            codes.append("delete")


_add_write_side(IMPLEMENTED)

# computed from the plan on each read: no versions, no ETag
UNVERSIONED = frozenset({"Observation", "DetectedIssue"})

# Searches served by their own handlers (fhir.api.routes), with what those take.
_HAND_WRITTEN: dict[str, list[dict[str, str]]] = {
    "DetectedIssue": [
        {
            "name": "implicated",
            "definition": "http://hl7.org/fhir/SearchParameter/DetectedIssue-implicated",
            "type": "reference",
            "documentation": (
                "CarePlan/{id} only: the opioid taper guardrail hits of that plan not yet "
                "acknowledged; required"
            ),
        }
    ],
}


def _declared(param: SearchParam) -> dict[str, str]:
    return {"name": param.name, "definition": param.definition, "type": param.type,
            "documentation": param.documentation}


def _generated() -> dict[str, list[dict[str, str]]]:
    """From the declarative table the index and the search run on (fhir.search.params)."""
    common = [_declared(p) for p in COMMON.values()]
    found = {name: common + [_declared(p) for p in params.values()]
             for name, params in PARAMS.items()}
    found["AuditEvent"] = [_declared(COMMON["_id"]),
                           *(_declared(p) for p in AUDIT_EVENT_PARAMS.values())]
    return found


# resource type -> search parameters this server implements for it
SEARCH_PARAMS: dict[str, list[dict[str, str]]] = {**_generated(), **_HAND_WRITTEN}


def _includes(name: str) -> dict[str, list[str]]:
    """searchInclude / searchRevInclude of a type searched over the store."""
    if name not in PARAMS or name in _HAND_WRITTEN:
        return {}
    forward = [f"{name}:{p.name}" for p in PARAMS[name].values() if p.type == "reference"]
    reverse = [f"{source}:{p.name}" for source, params in PARAMS.items()
               for p in params.values()
               if p.type == "reference" and (not p.targets or name in p.targets)]
    return {key: value for key, value in
            (("searchInclude", forward), ("searchRevInclude", reverse)) if value}


EVERYTHING = {"name": "everything",
              "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
              "documentation": "the Patient, every current resource of theirs and the "
                               "Practitioners those refer to; _count and _since"}


def capability_statement(base_url: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": dt.date.today().isoformat(),
        "kind": "instance",
        "software": {"name": "Concord"},
        "implementation": {"description": "Concord shared care plan", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                            "extension": [
                                {
                                    "url": "token",
                                    # {public base}/fhir -> {public base}/auth/token
                                    "valueUri": f"{base_url.removesuffix('/fhir')}/auth/token",
                                }
                            ],
                        }
                    ],
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ],
                            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
                        }
                    ],
                    "description": (
                        "Bearer tokens: clinic staff's, limited by their role; or a system's, "
                        "from SMART Backend Services (client_credentials with a private_key_jwt "
                        "assertion signed RS384 or ES384, at the token endpoint above), limited "
                        "by its system/ scopes (SMART v1 read/write or v2 cruds). See "
                        ".well-known/smart-configuration."
                    ),
                },
                "resource": with_subscription_topics(
                    [_resource(name, codes) for name, codes in IMPLEMENTED.items()], base_url),
                "interaction": [
                    {"code": "transaction",
                     "documentation": "all or nothing; urn:uuid full URLs and conditional "
                                      "references resolved"},
                    {"code": "batch", "documentation": "each entry on its own"},
                ],
            }
        ],
        "extension": [
            {
                "url": "https://concord.invalid/fhir/StructureDefinition/defines-extension",
                "valueUri": url,
            }
            for url in (*ext.ALL, *opioids.EXTENSIONS)
        ],
    }


def _resource(name: str, codes: list[str]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "type": name,
        "interaction": [{"code": code} for code in codes],
        "versioning": "no-version" if name in UNVERSIONED else "versioned-update",
        "readHistory": "vread" in codes,
    }
    if "create" in codes:
        resource["conditionalCreate"] = True
    if "update" in codes:
        resource["updateCreate"] = False
        resource["conditionalUpdate"] = False
    if "delete" in codes:
        resource["conditionalDelete"] = "not-supported"
    resource.update(_includes(name))
    if name in SEARCH_PARAMS:
        resource["searchParam"] = SEARCH_PARAMS[name]
    if name == "Patient":
        resource["operation"] = [EVERYTHING]
    return resource


def with_subscription_topics(resources: list[dict[str, Any]],
                             base_url: str) -> list[dict[str, Any]]:
    """The Subscription entry names the topics a topic-based subscription (Subscriptions
    R5 Backport, R4) may take, as that IG advertises them."""
    for resource in resources:
        if resource["type"] == "Subscription":
            resource["extension"] = [{"url": topics.TOPIC_CANONICAL, "valueCanonical": url}
                                     for url in topics.topic_urls(base_url)]
            profiles = resource.setdefault("supportedProfile", [])
            if topics.BACKPORT_SUBSCRIPTION not in profiles:
                profiles.append(topics.BACKPORT_SUBSCRIPTION)
    return resources
