"""Tasks between team members as FHIR R4 Tasks an EHR's worklist can take in."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from domain.task import Task
from domain.vocab import TaskKind, TaskPriority, TaskStatus
from fhir.mapping.task import task
from tests.fhir.fhir_shapes import empty_elements, valid

NOW = dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.UTC)


def _task(**changes: Any) -> Task:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "clinic_id": uuid.uuid4(),
        "title": "Review walking goal with Ana",
        "kind": TaskKind.REVIEW_DUE,
        "description": "She said the mornings are the hardest.",
        "patient_id": uuid.uuid4(),
        "care_plan_id": uuid.uuid4(),
        "goal_id": uuid.uuid4(),
        "owner_id": uuid.uuid4(),
        "requester_id": uuid.uuid4(),
        "due_on": dt.date(2026, 12, 1),
        "created_at": NOW,
        "updated_at": NOW + dt.timedelta(hours=2),
        "version": 3,
    }
    return Task(**{**values, **changes})




class TestTask:
    @pytest.mark.parametrize(("domain", "fhir"), [
        (TaskStatus.REQUESTED, "requested"),
        (TaskStatus.ACCEPTED, "accepted"),
        (TaskStatus.IN_PROGRESS, "in-progress"),
        (TaskStatus.ON_HOLD, "on-hold"),
        (TaskStatus.COMPLETED, "completed"),
        (TaskStatus.CANCELLED, "cancelled"),
        (TaskStatus.REJECTED, "rejected"),
    ])
    def test_status_maps_to_the_r4_task_status(self, domain: TaskStatus, fhir: str) -> None:
        resource = valid(task(_task(status=domain)))
        assert resource.status == fhir
        assert resource.intent == "order"

    def test_every_domain_status_and_priority_is_mapped(self) -> None:
        for status in TaskStatus:
            assert valid(task(_task(status=status))).status
        for priority in TaskPriority:
            assert valid(task(_task(priority=priority))).priority == priority.value

    def test_references_point_at_the_patient_goal_plan_and_staff(self) -> None:
        item = _task()
        resource = valid(task(item))
        assert resource.for_fhir.reference == f"Patient/{item.patient_id}"
        assert resource.focus.reference == f"Goal/{item.goal_id}"
        assert [r.reference for r in resource.basedOn] == [f"CarePlan/{item.care_plan_id}"]
        assert resource.owner.reference == f"Practitioner/{item.owner_id}"
        assert resource.requester.reference == f"Practitioner/{item.requester_id}"

    def test_a_task_about_a_plan_without_a_goal_focuses_on_the_plan(self) -> None:
        item = _task(goal_id=None)
        resource = valid(task(item))
        assert resource.focus.reference == f"CarePlan/{item.care_plan_id}"

    def test_kind_title_due_date_and_times(self) -> None:
        item = _task(kind=TaskKind.ALLIANCE_DROP)
        body = task(item)
        resource = valid(body)
        (coding,) = resource.code.coding
        assert coding.system == "https://concord.invalid/fhir/CodeSystem/task-kind"
        assert coding.code == "alliance-drop" and coding.display
        assert resource.description == "Review walking goal with Ana"
        assert resource.note[0].text == "She said the mornings are the hardest."
        assert body["restriction"] == {"period": {"end": "2026-12-01"}}
        assert body["authoredOn"] == "2026-11-21T09:30:00+00:00"
        assert body["lastModified"] == "2026-11-21T11:30:00+00:00"
        assert body["meta"]["versionId"] == "3"
        assert body["id"] == str(item.id)

    def test_status_reason_travels_as_text(self) -> None:
        body = task(_task(status=TaskStatus.CANCELLED, status_reason="patient moved away"))
        assert valid(body).statusReason.text == "patient moved away"

    def test_a_task_with_nothing_optional_has_noempty_elements(self) -> None:
        item = Task(id=uuid.uuid4(), clinic_id=uuid.uuid4(), title="Call the pharmacy",
                    status_reason="")
        body = task(item)
        valid(body)
        assert empty_elements(body) == []
        for absent in ("for", "focus", "basedOn", "owner", "requester", "restriction",
                       "note", "statusReason", "authoredOn", "lastModified"):
            assert absent not in body
        assert body["code"]["coding"][0]["code"] == "general"
