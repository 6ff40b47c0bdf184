"""Patient, Practitioner and CareTeam as FHIR R4 JSON from the domain.

The CareTeam follows the HL7 MCC eCare Plan IG in putting the patient on the team beside
the clinicians; its id is the plan's, as each plan has exactly one team."""

from __future__ import annotations

from typing import Any

from domain.care_plan import CarePlan
from domain.patient import Patient
from domain.staff import Staff
from domain.vocab import ContactSystem

_TELECOM = {ContactSystem.EMAIL: "email", ContactSystem.SMS: "sms", ContactSystem.PHONE: "phone"}


def patient(item: Patient) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(item.id),
        "meta": {"versionId": str(item.version)},
        "name": [{"family": item.family_name, "given": [item.given_name]}],
        "birthDate": item.birth_date.isoformat(),
        "communication": [{"language": {"coding": [{
            "system": "urn:ietf:bcp:47", "code": item.language}]}, "preferred": True}],
    }
    if item.identifiers:
        resource["identifier"] = [{"system": i.system, "value": i.value} for i in item.identifiers]
    if item.contact_points:
        resource["telecom"] = [{"system": _TELECOM[c.system], "value": c.value}
                               for c in item.contact_points]
    return resource


def practitioner(item: Staff) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": str(item.id),
        "meta": {"versionId": str(item.version)},
        "active": item.active,
        "name": [{"text": item.name}],
        "qualification": [{"code": {"text": item.discipline}}],
    }
    if item.email:
        resource["telecom"] = [{"system": "email", "value": item.email}]
    return resource


def care_team(plan: CarePlan) -> dict[str, Any]:
    participants: list[dict[str, Any]] = [{
        "role": [{"text": "patient"}],
        "member": {"reference": f"Patient/{plan.patient_id}"},
    }]
    for member in plan.team:
        entry: dict[str, Any] = {
            "role": [{"text": member.discipline + (" (lead)" if member.lead else "")}],
            "member": {"reference": f"Practitioner/{member.staff_id}", "display": member.name},
        }
        participants.append(entry)
    return {
        "resourceType": "CareTeam",
        "id": str(plan.id),
        "meta": {"versionId": str(plan.version)},
        "status": "active" if plan.status.value in ("active", "on-hold", "draft")
        else "inactive",
        "subject": {"reference": f"Patient/{plan.patient_id}"},
        "participant": participants,
    }
