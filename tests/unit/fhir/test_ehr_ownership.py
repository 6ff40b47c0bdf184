"""What Concord sends an EHR, and the merge by ownership after a 412: Concord's elements
are Concord's, everything else on the EHR's copy stays the EHR's."""

from __future__ import annotations

from typing import Any

from fhir.mapping import extensions as ext
from fhir.outbound.ownership import (
    UUID_SYSTEM,
    activity_detail,
    inline_activities,
    merge_owned,
    outbound,
    references,
)

PLAN = "5f0d1c2e-0000-4000-8000-000000000001"
PATIENT = "5f0d1c2e-0000-4000-8000-0000000000aa"
GOAL = "5f0d1c2e-0000-4000-8000-0000000000b1"
REQUEST = "5f0d1c2e-0000-4000-8000-0000000000c1"
EHR_EXTENSION = {"url": "https://ehr.example.org/fhir/StructureDefinition/encounter-type",
                 "valueString": "outpatient"}


def concord_plan(**changes: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "resourceType": "CarePlan", "id": PLAN,
        "meta": {"versionId": "4", "lastUpdated": "2026-11-20T10:00:00+00:00"},
        "status": "active", "intent": "plan",
        "category": [{"coding": [{"system": "http://loinc.org", "code": "80764-4"}]}],
        "title": "Chronic low back pain plan",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "careTeam": [{"reference": f"CareTeam/{PLAN}"}],
        "extension": [{"url": ext.WHAT_MATTERS, "valueString": "Picking up my granddaughter"}],
        "period": {"start": "2026-11-01"},
        "goal": [{"reference": f"Goal/{GOAL}"}],
        "activity": [{"reference": {"reference": f"ServiceRequest/{REQUEST}"}}],
        "note": [{"text": "Slept better", "time": "2026-11-19T09:00:00+00:00"}],
    }
    plan.update(changes)
    return plan


def resolve(kind: str, local: str) -> str | None:
    return {("Patient", PATIENT): "ehr-pat-1", ("Goal", GOAL): "ehr-goal-9"}.get((kind, local))


def test_a_new_copy_carries_concords_identifier_and_the_ehrs_ids() -> None:
    body = outbound(concord_plan(), resolve)
    assert "id" not in body and "meta" not in body and "careTeam" not in body
    assert body["identifier"] == [{"system": UUID_SYSTEM, "value": f"urn:uuid:{PLAN}"}]
    assert body["subject"] == {"reference": "Patient/ehr-pat-1"}
    assert body["goal"] == [{"reference": "Goal/ehr-goal-9"}]
    # the EHR has no copy of the ServiceRequest: the reference keeps only words
    assert body["activity"] == [{"reference": {"display": "ServiceRequest kept in Concord"}}]


def test_activities_go_inline() -> None:
    request = {
        "resourceType": "ServiceRequest", "id": REQUEST, "status": "active",
        "extension": [
            {"url": ext.OWNING_DISCIPLINE, "valueCode": "physical_therapist"},
            {"url": ext.ACTIVITY_STATUS, "valueCode": "scheduled"},
            {"url": "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal",
             "valueReference": {"reference": f"Goal/{GOAL}"}}],
        "code": {"text": "exercise"}, "patientInstruction": "Pelvic tilts every morning",
        "occurrenceTiming": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
    }
    plan = inline_activities(concord_plan(), {REQUEST: request})
    assert plan["activity"] == [{"detail": activity_detail(request)}]
    detail = plan["activity"][0]["detail"]
    assert detail["status"] == "scheduled" and detail["kind"] == "ServiceRequest"
    assert detail["description"] == "Pelvic tilts every morning"
    assert detail["goal"] == [{"reference": f"Goal/{GOAL}"}]
    assert references(plan, "Goal") == [GOAL]
    body = outbound(plan, resolve)
    assert body["activity"][0]["detail"]["goal"] == [{"reference": "Goal/ehr-goal-9"}]


def test_merge_keeps_the_ehrs_elements_and_puts_concords_in() -> None:
    theirs = {
        "resourceType": "CarePlan", "id": "ehr-cp-3",
        "meta": {"versionId": "12", "lastUpdated": "2026-11-20T11:00:00Z",
                 "tag": [{"system": "https://ehr.example.org/tags", "code": "synced"}]},
        "identifier": [{"system": "https://ehr.example.org/careplans", "value": "CP-77"},
                       {"system": UUID_SYSTEM, "value": f"urn:uuid:{PLAN}"}],
        "extension": [EHR_EXTENSION,
                      {"url": ext.WHAT_MATTERS, "valueString": "an old wording"}],
        "status": "on-hold", "intent": "order", "title": "Old title",
        "author": {"reference": "Practitioner/ehr-dr-5"},
        "subject": {"reference": "Patient/ehr-pat-1"},
        "period": {"start": "2026-10-01", "end": "2026-12-31"},
        "note": [{"text": "Written in the EHR"}],
        "addresses": [{"reference": "Condition/ehr-lbp"}],
    }
    ours = outbound(concord_plan(title="New title", period={"start": "2026-11-01"}), resolve)
    merged = merge_owned(theirs, ours)
    # the EHR's: id, meta other than its version, identifiers, intent, author, addresses...
    assert merged["id"] == "ehr-cp-3"
    assert merged["meta"] == {"tag": theirs["meta"]["tag"]}
    assert merged["identifier"] == theirs["identifier"]
    assert (merged["intent"], merged["author"], merged["addresses"]) == (
        "order", theirs["author"], theirs["addresses"])
    assert merged["subject"] == {"reference": "Patient/ehr-pat-1"}
    assert "category" not in merged  # not Concord's: the EHR's copy has none
    # ...and its own extension beside Concord's current ones
    assert merged["extension"] == [EHR_EXTENSION, ours["extension"][0]]
    # Concord's: status, title, period (its end is gone: Concord has none), goals, notes
    assert (merged["status"], merged["title"]) == ("active", "New title")
    assert merged["period"] == {"start": "2026-11-01"}
    assert merged["goal"] == [{"reference": "Goal/ehr-goal-9"}]
    assert merged["note"] == ours["note"]


def test_merge_removes_an_owned_element_concord_no_longer_has() -> None:
    theirs = {"resourceType": "Goal", "id": "ehr-goal-9", "lifecycleStatus": "active",
              "achievementStatus": {"text": "improving"}, "description": {"text": "Walk"},
              "subject": {"reference": "Patient/ehr-pat-1"},
              "priority": {"text": "high"}}
    ours = {"resourceType": "Goal", "lifecycleStatus": "completed",
            "description": {"text": "Walk to the corner shop"},
            "subject": {"reference": "Patient/ehr-pat-1"},
            "identifier": [{"system": UUID_SYSTEM, "value": f"urn:uuid:{GOAL}"}]}
    merged = merge_owned(theirs, ours)
    assert "achievementStatus" not in merged
    assert merged["lifecycleStatus"] == "completed"
    assert merged["priority"] == {"text": "high"}
    assert merged["identifier"] == ours["identifier"]
