"""The CapabilityStatement, built from what the router really serves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.mapping import extensions as ext
from fhir.mapping import opioids

FHIR_VERSION = "4.0.1"

# resource type -> interactions this server implements for it
IMPLEMENTED: dict[str, list[str]] = {
    "CarePlan": ["read"],
    "CareTeam": ["read"],
    "Patient": ["read"],
    "Practitioner": ["read"],
    "Goal": ["read"],
    "MedicationStatement": ["read"],
    "Communication": ["read", "search-type"],
    "Observation": ["read"],
    "DetectedIssue": ["read", "search-type"],
}

# computed from the plan on each read: no versions, no ETag
UNVERSIONED = frozenset({"Observation", "DetectedIssue"})

# resource type -> search parameters this server implements for it
SEARCH_PARAMS: dict[str, list[dict[str, str]]] = {
    "Communication": [
        {"name": "subject", "definition": "http://hl7.org/fhir/SearchParameter/Communication-subject",
         "type": "reference", "documentation": "Patient/{id}: the patient's sent messages"},
        {"name": "patient", "definition": "http://hl7.org/fhir/SearchParameter/Communication-patient",
         "type": "reference", "documentation": "Patient/{id}, as subject"},
    ],
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
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "Bearer tokens issued to clinic staff",
                },
                "resource": [_resource(name, codes) for name, codes in IMPLEMENTED.items()],
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
        "versioning": "no-version" if name in UNVERSIONED else "versioned",
        "readHistory": False,
    }
    if name in SEARCH_PARAMS:
        resource["searchParam"] = SEARCH_PARAMS[name]
    return resource
