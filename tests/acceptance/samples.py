"""Resources as an EHR sends them: R4 JSON, references by Type/id or by urn:uuid inside a
transaction, the hospital's medical record number as the Patient's identifier."""

from __future__ import annotations

import uuid
from typing import Any

from fhir.mapping import extensions as ext
from tests.factories import ClinicWorld

MRN = "urn:oid:2.16.840.1.113883.19.5.99999.1"
"""The hospital's medical record numbers."""
PLAN_IDS = "urn:oid:2.16.840.1.113883.19.5.99999.7"
"""The hospital's care plan identifiers."""
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
ASSESS_PLAN = {"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                           "code": "assess-plan"}]}
CHRONIC_PAIN = {"coding": [{"system": SNOMED, "code": "82423001", "display": "Chronic pain"}]}
PHYSIOTHERAPY = {"coding": [{"system": SNOMED, "code": "91251008",
                             "display": "Physical therapy procedure"}], "text": "Physiotherapy"}
NAPROXEN = {"coding": [{"system": RXNORM, "code": "198013",
                        "display": "naproxen 500 MG Oral Tablet"}]}


def mrn() -> str:
    return f"MRN-{uuid.uuid4().hex[:10]}"


def patient(number: str, family: str = "Rivera", given: str = "Ana",
            birth_date: str = "1961-04-02") -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [{"system": MRN, "value": number}],
            "name": [{"use": "official", "family": family, "given": [given]}],
            "gender": "female", "birthDate": birth_date}


def care_plan(patient_id: str, title: str = "Chronic low back pain plan",
              status: str = "draft") -> dict[str, Any]:
    return {"resourceType": "CarePlan", "status": status, "intent": "plan", "title": title,
            "identifier": [{"system": PLAN_IDS, "value": f"CP-{uuid.uuid4().hex[:10]}"}],
            "category": [ASSESS_PLAN], "subject": {"reference": f"Patient/{patient_id}"}}


def care_team(patient_id: str, *practitioners: str) -> dict[str, Any]:
    return {"resourceType": "CareTeam", "status": "active", "name": "Pain team",
            "subject": {"reference": f"Patient/{patient_id}"},
            "participant": [{"role": [{"text": "lead" if i == 0 else "member"}],
                             "member": {"reference": f"Practitioner/{p}"}}
                            for i, p in enumerate(practitioners)]}


def goal(patient_id: str, text: str = "Walk my granddaughter to school",
         discipline: str = "physical_therapist") -> dict[str, Any]:
    return {"resourceType": "Goal", "lifecycleStatus": "active",
            "description": {"text": text},
            "subject": {"reference": f"Patient/{patient_id}"},
            "extension": [{"url": ext.OWNING_DISCIPLINE, "valueCode": discipline}]}


def medication_statement(patient_id: str) -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": NAPROXEN,
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectivePeriod": {"start": "2026-01-05"},
            "dosage": [{"text": "one tablet twice a day with food"}]}


def questionnaire(url: str) -> dict[str, Any]:
    return {"resourceType": "Questionnaire", "url": url, "status": "active",
            "name": "PainIntensity", "title": "Pain intensity",
            "item": [{"linkId": "pain", "type": "integer",
                      "code": [{"system": LOINC, "code": "72514-3"}],
                      "text": "Pain severity, 0-10, now"}]}


def questionnaire_response(patient_id: str, questionnaire_url: str) -> dict[str, Any]:
    return {"resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": questionnaire_url,
            "subject": {"reference": f"Patient/{patient_id}"},
            "authored": "2026-11-02T09:30:00Z",
            "item": [{"linkId": "pain", "answer": [{"valueInteger": 6}]}]}


def service_request(patient_id: str) -> dict[str, Any]:
    return {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "code": PHYSIOTHERAPY, "subject": {"reference": f"Patient/{patient_id}"},
            "authoredOn": "2026-11-01"}


def task(patient_id: str) -> dict[str, Any]:
    return {"resourceType": "Task", "status": "requested", "intent": "order",
            "description": "Book the first physiotherapy session",
            "for": {"reference": f"Patient/{patient_id}"}, "authoredOn": "2026-11-01"}


def subscription(endpoint: str, criteria: str, *,
                 payload: str | None = None) -> dict[str, Any]:
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": endpoint}
    if payload is not None:
        channel["payload"] = payload
    return {"resourceType": "Subscription", "status": "requested",
            "reason": "Keep the EHR's copy of the care plan current",
            "criteria": criteria, "channel": channel}


def plan_transaction(world: ClinicWorld, number: str, *,
                     title: str = "Back pain plan") -> dict[str, Any]:
    """A patient's whole plan in one transaction: the Patient, a CareTeam of the clinic's
    physician (lead) and physical therapist, the patient's Goal owned by physiotherapy,
    and the active CarePlan, all referring to each other by urn:uuid."""
    ids = {name: f"urn:uuid:{uuid.uuid4()}" for name in ("patient", "team", "goal", "plan")}
    physician = world.staff["physician"].id
    therapist = world.staff["physical_therapist"].id
    subject = {"reference": ids["patient"]}
    entries = [
        (ids["plan"], {
            "resourceType": "CarePlan", "status": "active", "intent": "plan", "title": title,
            "identifier": [{"system": PLAN_IDS, "value": f"CP-{number}"}],
            "category": [ASSESS_PLAN], "subject": subject,
            "addresses": [{"reference": "Condition/low-back-pain", "display": "Chronic pain"}],
            "careTeam": [{"reference": ids["team"]}], "goal": [{"reference": ids["goal"]}],
        }),
        (ids["patient"], patient(number)),
        (ids["team"], {
            "resourceType": "CareTeam", "status": "active", "name": "Pain team",
            "subject": subject,
            "participant": [
                {"role": [{"text": "lead physician"}],
                 "member": {"reference": f"Practitioner/{physician}"}},
                {"role": [{"text": "physical therapist"}],
                 "member": {"reference": f"Practitioner/{therapist}"}},
            ],
        }),
        (ids["goal"], {**goal("x"), "subject": subject, "expressedBy": subject}),
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": full_url, "resource": resource,
         "request": {"method": "POST", "url": resource["resourceType"]}}
        for full_url, resource in entries
    ]}
