"""A plan's activity as a ServiceRequest, which the CarePlan references: the HL7 MCC eCare
Plan IG (CarePlan.activity.reference) in place of the inline, deprecated-in-R5 detail."""

from __future__ import annotations

from typing import Any

from domain.activity import Activity
from domain.care_plan import CarePlan
from domain.vocab import ActivityStatus
from fhir.mapping import extensions as ext

PERTAINS_TO_GOAL = "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal"

# CarePlan activity status -> ServiceRequest status; the exact one travels as an extension
STATUS = {
    ActivityStatus.NOT_STARTED: "active",
    ActivityStatus.SCHEDULED: "active",
    ActivityStatus.IN_PROGRESS: "active",
    ActivityStatus.ON_HOLD: "on-hold",
    ActivityStatus.COMPLETED: "completed",
    ActivityStatus.CANCELLED: "revoked",
    ActivityStatus.STOPPED: "revoked",
    ActivityStatus.UNKNOWN: "unknown",
    ActivityStatus.ENTERED_IN_ERROR: "entered-in-error",
}


def service_request(activity: Activity, plan: CarePlan) -> dict[str, Any]:
    extensions: list[dict[str, Any]] = [
        {"url": ext.OWNING_DISCIPLINE, "valueCode": activity.discipline},
        {"url": ext.ACTIVITY_STATUS, "valueCode": activity.status.value},
    ]
    extensions += [
        {"url": PERTAINS_TO_GOAL, "valueReference": {"reference": f"Goal/{goal_id}"}}
        for goal_id in activity.goal_ids
    ]
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(activity.id),
        "extension": extensions,
        "status": STATUS[activity.status],
        "intent": "plan",
        "code": {"text": activity.kind.value},
        "subject": {"reference": f"Patient/{plan.patient_id}"},
        "basedOn": [{"reference": f"CarePlan/{plan.id}"}],
        "performerType": {"text": activity.discipline},
        "patientInstruction": activity.description,
    }
    if activity.frequency is not None:
        resource["occurrenceTiming"] = {
            "repeat": {
                "frequency": activity.frequency.count,
                "period": activity.frequency.period,
                "periodUnit": activity.frequency.unit,
            }
        }
    return resource
