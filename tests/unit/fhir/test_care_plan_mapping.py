"""The domain -> FHIR mappers produce resources that fhir.resources' R4B models accept."""

from __future__ import annotations

import datetime as dt
import uuid

from fhir.resources.R4B.careplan import CarePlan as FhirCarePlan
from fhir.resources.R4B.goal import Goal as FhirGoal
from fhir.resources.R4B.servicerequest import ServiceRequest as FhirServiceRequest

from domain.activity import Activity, Frequency
from domain.care_plan import CarePlan, TeamMember
from domain.goal import Acceptance, GasLevels, Goal, Measure
from domain.vocab import AcceptanceStatus, ActivityKind, GoalLifecycle, PlanStatus
from fhir.mapping import care_plan as mapping
from fhir.mapping import extensions as ext
from fhir.mapping.service_request import PERTAINS_TO_GOAL, service_request


def _plan() -> CarePlan:
    plan_id = uuid.uuid4()
    goal = Goal(
        id=uuid.uuid4(),
        care_plan_id=plan_id,
        description="Walk my dog every morning",
        owners=["physical_therapist"],
        lifecycle_status=GoalLifecycle.ACTIVE,
        measure=Measure(description="minutes walked", target="20"),
        gas=GasLevels(much_less="a", less="b", expected="c", more="d", much_more="e"),
        acceptances=[Acceptance(participant="patient", status=AcceptanceStatus.AGREE)],
        next_review_date=dt.date(2026, 12, 1),
    )
    return CarePlan(
        id=plan_id,
        clinic_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        title="Pain plan",
        status=PlanStatus.ACTIVE,
        what_matters="Gardening again",
        period_start=dt.date(2026, 11, 1),
        team=[
            TeamMember(
                id=uuid.uuid4(),
                staff_id=uuid.uuid4(),
                name="PT",
                discipline="physical_therapist",
                lead=True,
            )
        ],
        goals=[goal],
        activities=[
            Activity(
                id=uuid.uuid4(),
                care_plan_id=plan_id,
                discipline="physical_therapist",
                kind=ActivityKind.EXERCISE,
                description="Graded walking",
                frequency=Frequency(count=5),
                goal_ids=[goal.id],
            )
        ],
        updated_at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
        version=4,
    )


def test_care_plan_is_a_valid_r4_care_plan_found_by_pain_plan_rules() -> None:
    plan = _plan()
    resource = FhirCarePlan.model_validate(mapping.care_plan(plan))
    assert resource.status == "active" and resource.intent == "plan"
    codes = {c.code for cat in resource.category for c in cat.coding}
    assert {"assess-plan", "80764-4"} <= codes
    assert resource.meta.versionId == "4"
    assert resource.extension[0].url == ext.WHAT_MATTERS
    assert resource.extension[0].valueString == "Gardening again"
    # MCC eCare Plan: the activity is a ServiceRequest the plan references
    assert resource.activity[0].reference.reference == f"ServiceRequest/{plan.activities[0].id}"
    assert resource.activity[0].detail is None


def test_activity_is_a_service_request_keeping_status_timing_goal_and_discipline() -> None:
    plan = _plan()
    activity = plan.activities[0]
    resource = FhirServiceRequest.model_validate(service_request(activity, plan))
    assert resource.status == "active" and resource.intent == "plan"
    assert resource.occurrenceTiming.repeat.frequency == 5
    assert resource.basedOn[0].reference == f"CarePlan/{plan.id}"
    urls = {e.url: e for e in resource.extension}
    assert urls[ext.ACTIVITY_STATUS].valueCode == "not-started"
    assert urls[ext.OWNING_DISCIPLINE].valueCode == activity.discipline
    assert urls[PERTAINS_TO_GOAL].valueReference.reference == f"Goal/{plan.goals[0].id}"


def test_goal_carries_patient_words_acceptance_and_gas_levels() -> None:
    plan = _plan()
    resource = FhirGoal.model_validate(mapping.goal(plan.goals[0], plan))
    assert resource.description.text == "Walk my dog every morning"
    assert resource.expressedBy.reference == f"Patient/{plan.patient_id}"
    urls = [e.url for e in resource.extension]
    assert ext.GAS_LEVELS in urls and ext.GOAL_ACCEPTANCE in urls
