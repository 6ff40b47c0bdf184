"""A row of the audit trail as a FHIR R4 AuditEvent: a RESTful operation (type `rest`),
the interaction as its subtype, who did it from where, and what and whose data."""

from __future__ import annotations

import uuid
from typing import Any

from service.db.queries import AuditEvent

EVENT_TYPES = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTIONS = "http://hl7.org/fhir/restful-interaction"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
ENTITY_TYPES = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLES = "http://terminology.hl7.org/CodeSystem/object-role"
# Concord's own records that are not FHIR resources (a taper plan, a check-in) are named
# by identifier under this system, as `Type/id`.
RECORD_SYSTEM = "https://concord.invalid/fhir/CodeSystem/record"

# what the trail records -> (restful-interaction subtype, AuditEvent.action)
ACTIONS: dict[str, tuple[str, str]] = {
    "create": ("create", "C"),
    "read": ("read", "R"),
    "vread": ("vread", "R"),
    "history": ("history-instance", "R"),
    "update": ("update", "U"),
    "transition": ("update", "U"),
    "delete": ("delete", "D"),
    "search": ("search-type", "E"),
}

# The FHIR resource types Concord serves, as the trail names them; anything else is one
# of Concord's own records.
FHIR_TYPES = frozenset({
    "Patient", "Practitioner", "CareTeam", "CarePlan", "Goal", "MedicationStatement",
    "Questionnaire", "QuestionnaireResponse", "Communication", "Task", "Subscription",
    "ServiceRequest", "Observation", "DetectedIssue", "AuditEvent",
})


# One row of the audit trail, as the internal API lists it.
AuditRow = AuditEvent


def actions_of(subtype: str | None = None, action: str | None = None) -> list[str]:
    """The trail's action names that map to a subtype code and/or an action letter."""
    return [name for name, (code, letter) in ACTIONS.items()
            if (subtype is None or code == subtype) and (action is None or letter == action)]


def audit_event(row: AuditRow) -> dict[str, Any]:
    subtype, action = ACTIONS.get(row.action, (row.action, "E"))
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(row.id),
        "type": {"system": EVENT_TYPES, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": INTERACTIONS, "code": subtype}],
        "action": action,
        "recorded": row.occurred_at.isoformat(),
        "outcome": "0",
        "agent": [_agent(row)],
        "source": {"observer": {"display": "Concord"}},
    }
    entities = [_entity(row)]
    if row.patient_id is not None and not (
        row.resource_type == "Patient" and row.resource_id == row.patient_id
    ):
        entities.append(_patient(row.patient_id))
    event["entity"] = entities
    return event


def _agent(row: AuditRow) -> dict[str, Any]:
    agent: dict[str, Any] = {"requestor": row.actor_type == "staff"}
    if row.actor_id is not None:
        agent["who"] = {"reference": f"Practitioner/{row.actor_id}"}
    else:
        agent["who"] = {"display": "Concord (scheduled work)"}
    if row.client_address:
        agent["network"] = {"address": row.client_address, "type": "2"}
    return agent


def _entity(row: AuditRow) -> dict[str, Any]:
    name = row.resource_type
    target = f"{name}/{row.resource_id}" if row.resource_id is not None else name
    entity: dict[str, Any]
    if name in FHIR_TYPES:
        entity = {"type": {"system": RESOURCE_TYPES, "code": name}}
        entity["what"] = ({"reference": target} if row.resource_id is not None
                          else {"display": f"{name} resources"})
    else:
        entity = {"type": {"system": ENTITY_TYPES, "code": "2", "display": "System Object"},
                  "what": {"identifier": {"system": RECORD_SYSTEM, "value": target}},
                  "name": name}
    if row.resource_type == "Patient" and row.resource_id is not None:
        entity["role"] = {"system": OBJECT_ROLES, "code": "1", "display": "Patient"}
    return entity


def _patient(patient_id: uuid.UUID) -> dict[str, Any]:
    return {
        "what": {"reference": f"Patient/{patient_id}"},
        "type": {"system": RESOURCE_TYPES, "code": "Patient"},
        "role": {"system": OBJECT_ROLES, "code": "1", "display": "Patient"},
    }
