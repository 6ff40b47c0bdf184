"""The CapabilityStatement, built from what the router really serves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.mapping import extensions as ext

FHIR_VERSION = "4.0.1"

# resource type -> interactions this server implements for it
IMPLEMENTED: dict[str, list[str]] = {
    "CarePlan": ["read"],
    "Goal": ["read"],
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
                "resource": [
                    {
                        "type": name,
                        "interaction": [{"code": code} for code in codes],
                        "versioning": "versioned",
                        "readHistory": False,
                    }
                    for name, codes in IMPLEMENTED.items()
                ],
            }
        ],
        "extension": [
            {
                "url": "https://concord.invalid/fhir/StructureDefinition/defines-extension",
                "valueUri": url,
            }
            for url in ext.ALL
        ],
    }
