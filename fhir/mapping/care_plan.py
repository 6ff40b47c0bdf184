"""Pure mappers from the domain to FHIR R4 JSON (dicts). Validated against fhir.resources'
models in the tests; served from these dicts with msgspec, never through pydantic."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.care_plan import CarePlan
from domain.goal import Goal
from domain.vocab import PATIENT_PARTICIPANT, AcceptanceStatus
from fhir.mapping import extensions as ext

CAREPLAN_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
LOINC = "http://loinc.org"
ACTIVITY_STATUS_NOT_IN_R4 = {"entered-in-error": "entered-in-error"}


def _meta(version: int, updated: dt.datetime | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"versionId": str(version)}
    if updated is not None:
        meta["lastUpdated"] = updated.isoformat()
    return meta


def care_plan(plan: CarePlan) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": str(plan.id),
        "meta": _meta(plan.version, plan.updated_at),
        "status": plan.status.value,
        "intent": "plan",
        # A pain treatment plan: assess-plan plus LOINC 80764-4 ("Pain management plan"),
        # so that CDC opioid decision-support rules can find it.
        "category": [
            {"coding": [{"system": CAREPLAN_CATEGORY, "code": "assess-plan"}]},
            {"coding": [{"system": LOINC, "code": "80764-4", "display": "Pain management plan"}]},
        ],
        "title": plan.title,
        "subject": {"reference": f"Patient/{plan.patient_id}"},
        "careTeam": [{"reference": f"CareTeam/{plan.id}"}],
    }
    extensions = []
    if plan.what_matters:
        extensions.append({"url": ext.WHAT_MATTERS, "valueString": plan.what_matters})
    extensions += [{"url": ext.HEALTH_CONCERN, "valueString": c} for c in plan.health_concerns]
    if extensions:
        resource["extension"] = extensions
    period = {
        k: v.isoformat()
        for k, v in (("start", plan.period_start), ("end", plan.period_end))
        if v is not None
    }
    if period:
        resource["period"] = period
    if plan.created_at is not None:
        resource["created"] = plan.created_at.isoformat()
    if plan.goals:
        resource["goal"] = [{"reference": f"Goal/{g.id}"} for g in plan.goals]
    if plan.activities:
        resource["activity"] = [
            {"reference": {"reference": f"ServiceRequest/{a.id}"}} for a in plan.activities
        ]
    if plan.notes:
        resource["note"] = [{"text": n.text, "time": n.written_at.isoformat()} for n in plan.notes]
    return resource


def goal(item: Goal, plan: CarePlan) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Goal",
        "id": str(item.id),
        "meta": _meta(item.version, None),
        "lifecycleStatus": item.lifecycle_status.value,
        "description": {"text": item.description},
        "subject": {"reference": f"Patient/{plan.patient_id}"},
    }
    if item.achievement_status is not None:
        resource["achievementStatus"] = {
            "coding": [{"system": GOAL_ACHIEVEMENT, "code": item.achievement_status.value}]
        }
    if item.expressed_by == PATIENT_PARTICIPANT:
        resource["expressedBy"] = {"reference": f"Patient/{plan.patient_id}"}
    if item.next_review_date is not None:
        resource["statusDate"] = item.next_review_date.isoformat()
    if item.measure is not None:
        resource["target"] = [
            {"measure": {"text": item.measure.description}, "detailString": item.measure.target}
        ]
    resource["extension"] = _goal_extensions(item, plan)
    return resource


def _goal_extensions(item: Goal, plan: CarePlan) -> list[dict[str, Any]]:
    extensions: list[dict[str, Any]] = [
        {"url": ext.OWNING_DISCIPLINE, "valueCode": owner} for owner in item.owners
    ]
    extensions.append(
        {
            "url": ext.REVIEW_CADENCE,
            "valueDuration": {
                "value": item.review_cadence_days,
                "unit": "d",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        }
    )
    if item.gas is not None:
        levels = [
            ("-2", item.gas.much_less),
            ("-1", item.gas.less),
            ("0", item.gas.expected),
            ("+1", item.gas.more),
            ("+2", item.gas.much_more),
        ]
        extensions.append(
            {
                "url": ext.GAS_LEVELS,
                "extension": [{"url": level, "valueString": text} for level, text in levels],
            }
        )
        extensions.append({"url": ext.GAS_WEIGHT, "valueDecimal": item.gas_weight})
    for acceptance in item.acceptance_of(plan.participants):
        if acceptance.status is AcceptanceStatus.PENDING:
            continue
        individual = (
            {"reference": f"Patient/{plan.patient_id}"}
            if acceptance.participant == PATIENT_PARTICIPANT
            else {"display": acceptance.participant}
        )
        extensions.append(
            {
                "url": ext.GOAL_ACCEPTANCE,
                "extension": [
                    {"url": "individual", "valueReference": individual},
                    {"url": "status", "valueCode": acceptance.status.value},
                ],
            }
        )
    return extensions
