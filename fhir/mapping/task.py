"""A task between team members as a FHIR R4 Task.

The domain's task statuses and priorities are FHIR's own value sets (TaskStatus,
RequestPriority), so `STATUS` and `PRIORITY` map code to same code; they are spelt out
so that a status the domain adds later fails the mapping tests instead of passing through
unchecked. The kind of task is a Concord code (`extensions.TASK_KIND`).

References: `for` the patient, `focus` the goal the task is about (or its care plan when
it names no goal), `basedOn` the care plan it serves, `owner` and `requester` the staff
members as Practitioners. The title is the Task's `description`; the longer text a
clinician wrote is its `note`, and the due date is `restriction.period.end` (the date by
which the task is to be done)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.task import Task
from domain.vocab import TaskKind, TaskPriority, TaskStatus
from fhir.mapping import extensions as ext

STATUS: Mapping[TaskStatus, str] = {
    TaskStatus.REQUESTED: "requested",
    TaskStatus.ACCEPTED: "accepted",
    TaskStatus.IN_PROGRESS: "in-progress",
    TaskStatus.ON_HOLD: "on-hold",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.CANCELLED: "cancelled",
    TaskStatus.REJECTED: "rejected",
}
PRIORITY: Mapping[TaskPriority, str] = {
    TaskPriority.ROUTINE: "routine",
    TaskPriority.URGENT: "urgent",
    TaskPriority.ASAP: "asap",
    TaskPriority.STAT: "stat",
}
KIND_DISPLAY: Mapping[TaskKind, str] = {
    TaskKind.GENERAL: "Task between team members",
    TaskKind.REVIEW_DUE: "Goal review due",
    TaskKind.ALLIANCE_DROP: "Therapeutic alliance dropped",
    TaskKind.REVISIT_GOALS: "Revisit goals with the patient",
    TaskKind.TAPER_GUARDRAIL: "Opioid taper guardrail hit",
}


def task(item: Task) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(item.id),
        "meta": _meta(item),
        "status": STATUS[item.status],
        "intent": "order",
        "priority": PRIORITY[item.priority],
        "code": {"coding": [{"system": ext.TASK_KIND, "code": item.kind.value,
                             "display": KIND_DISPLAY[item.kind]}]},
        "description": item.title,
    }
    if item.status_reason:
        resource["statusReason"] = {"text": item.status_reason}
    resource.update(_references(item))
    if item.created_at is not None:
        resource["authoredOn"] = item.created_at.isoformat()
    if item.updated_at is not None:
        resource["lastModified"] = item.updated_at.isoformat()
    if item.due_on is not None:
        resource["restriction"] = {"period": {"end": item.due_on.isoformat()}}
    if item.description:
        resource["note"] = [{"text": item.description}]
    return resource


def _meta(item: Task) -> dict[str, Any]:
    meta: dict[str, Any] = {"versionId": str(item.version)}
    if item.updated_at is not None:
        meta["lastUpdated"] = item.updated_at.isoformat()
    return meta


def _references(item: Task) -> dict[str, Any]:
    references: dict[str, Any] = {}
    if item.care_plan_id is not None:
        references["basedOn"] = [{"reference": f"CarePlan/{item.care_plan_id}"}]
    if item.goal_id is not None:
        references["focus"] = {"reference": f"Goal/{item.goal_id}"}
    elif item.care_plan_id is not None:
        references["focus"] = {"reference": f"CarePlan/{item.care_plan_id}"}
    if item.patient_id is not None:
        references["for"] = {"reference": f"Patient/{item.patient_id}"}
    if item.requester_id is not None:
        references["requester"] = {"reference": f"Practitioner/{item.requester_id}"}
    if item.owner_id is not None:
        references["owner"] = {"reference": f"Practitioner/{item.owner_id}"}
    return references
