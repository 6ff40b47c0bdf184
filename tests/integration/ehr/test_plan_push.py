"""The push of CarePlans and Goals to a real FHIR server (a second Concord, see conftest):
a conditional create the first time, version-aware updates after, references rewritten to
the EHR's ids, and on 412 a merge by ownership that keeps what the EHR added."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fhir.mapping import extensions as ext
from fhir.outbound.ownership import UUID_SYSTEM
from tests.factories import add_goal
from tests.integration.ehr.conftest import Linked
from workers.ehr_sync import push_changes

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
EHR_EXTENSION = {"url": "https://ehr.example.org/fhir/StructureDefinition/goal-source",
                 "valueString": "entered at the front desk"}


async def pushed_copy(linked: Linked, resource_type: str, concord_id: str) -> dict[str, Any]:
    found = await linked.ehr_search(resource_type,
                                    identifier=f"{UUID_SYSTEM}|urn:uuid:{concord_id}")
    assert len(found) == 1, found
    return found[0]


async def edit_goal(linked: Linked, plan_id: str, goal_id: str, **changes: Any) -> None:
    path = f"/api/v1/care-plans/{plan_id}/goals/{goal_id}"
    therapist = linked.world.auth("physical_therapist")
    current = await linked.client.get(path, headers=therapist)
    response = await linked.client.patch(path, json=changes, headers={
        **therapist, "If-Match": current.headers["etag"]})
    assert response.status_code == 200, response.text


async def test_goals_go_once_then_as_version_aware_updates(linked: Linked,
                                                          engine: AsyncEngine) -> None:
    ehr_patient = await linked.ehr_patient("MRN-2001")
    plan = await linked.concord_plan("MRN-2001")
    goal = await add_goal(linked.client, linked.world, plan["id"], "physical_therapist",
                          "Walk to the corner shop and back")

    report = await push_changes(engine, linked.connection_id)
    assert report.error is None, report.error
    copy = await pushed_copy(linked, "Goal", goal["id"])
    assert copy["subject"] == {"reference": f"Patient/{ehr_patient}"}
    assert copy["description"]["text"] == "Walk to the corner shop and back"
    assert {"url": ext.OWNING_DISCIPLINE, "valueCode": "physical_therapist"} in copy["extension"]
    connection = await linked.connection()
    assert connection["last_error"] is None and connection["push_cursor_seq"] > 0

    # nothing changed: nothing is sent
    again = await push_changes(engine, linked.connection_id)
    assert again.error is None and again.pushed == 0
    assert (await pushed_copy(linked, "Goal", goal["id"]))["meta"]["versionId"] == \
        copy["meta"]["versionId"]

    await edit_goal(linked, plan["id"], goal["id"], description="Walk to the park and back")
    report = await push_changes(engine, linked.connection_id)
    assert report.error is None, report.error
    updated = await pushed_copy(linked, "Goal", goal["id"])
    assert updated["id"] == copy["id"]
    assert updated["description"]["text"] == "Walk to the park and back"
    assert int(updated["meta"]["versionId"]) > int(copy["meta"]["versionId"])


async def test_a_412_merges_by_ownership_and_keeps_both_sides(linked: Linked,
                                                             engine: AsyncEngine) -> None:
    await linked.ehr_patient("MRN-2002")
    plan = await linked.concord_plan("MRN-2002")
    goal = await add_goal(linked.client, linked.world, plan["id"], "physical_therapist",
                          "Garden for an hour")
    assert (await push_changes(engine, linked.connection_id)).error is None
    copy = await pushed_copy(linked, "Goal", goal["id"])

    # The EHR's own clinician adds its identifier, an extension and a priority...
    theirs = {**copy, "identifier": [*copy["identifier"],
                                     {"system": "https://ehr.example.org/goals", "value": "G-77"}],
              "extension": [*copy["extension"], EHR_EXTENSION],
              "priority": {"text": "high priority"}}
    theirs.pop("meta")
    await linked.ehr_write(theirs, version=copy["meta"]["versionId"])
    # ...while Concord's therapist rewrites the goal with the patient
    await edit_goal(linked, plan["id"], goal["id"], description="Garden for two hours")

    report = await push_changes(engine, linked.connection_id)
    assert report.error is None, report.error
    merged = await linked.ehr_read("Goal", copy["id"])
    assert merged["description"]["text"] == "Garden for two hours"  # Concord's element
    assert {"system": "https://ehr.example.org/goals", "value": "G-77"} in merged["identifier"]
    assert EHR_EXTENSION in merged["extension"]
    assert merged["priority"] == {"text": "high priority"}  # the EHR's elements, kept
    assert {"system": UUID_SYSTEM, "value": f"urn:uuid:{goal['id']}"} in merged["identifier"]
    assert (await linked.connection())["last_error"] is None


async def retitle(linked: Linked, plan_id: str, title: str) -> None:
    path = f"/api/v1/care-plans/{plan_id}"
    coordinator = linked.world.auth("coordinator")
    current = await linked.client.get(path, headers=coordinator)
    response = await linked.client.patch(path, json={"title": title}, headers={
        **coordinator, "If-Match": current.headers["etag"]})
    assert response.status_code == 200, response.text


async def test_a_care_plan_goes_about_the_ehrs_patient(linked: Linked,
                                                      engine: AsyncEngine) -> None:
    """A plan still in draft (the EHR here, a Concord, activates a plan only with a lead
    of its own staff on its team, and Concord's team is not the EHR's staff)."""
    ehr_patient = await linked.ehr_patient("MRN-2003")
    plan = await linked.concord_plan("MRN-2003", activate=False)
    report = await push_changes(engine, linked.connection_id)
    assert report.error is None, report.error
    copy = await pushed_copy(linked, "CarePlan", plan["id"])
    assert copy["subject"] == {"reference": f"Patient/{ehr_patient}"}
    assert (copy["title"], copy["status"]) == ("Chronic low back pain plan", "draft")
    # Concord's CareTeam is not sent (its members are not the EHR's staff)
    assert {"reference": f"CareTeam/{plan['id']}"} not in copy.get("careTeam", [])

    # the EHR adds its own identifier and author; Concord retitles the plan meanwhile
    theirs = {**copy, "identifier": [*copy["identifier"],
                                     {"system": "https://ehr.example.org/plans", "value": "P-9"}],
              "author": {"display": "Dr. Okafor (EHR)"}}
    theirs.pop("meta")
    await linked.ehr_write(theirs, version=copy["meta"]["versionId"])
    await retitle(linked, plan["id"], "Back pain: walking and sleep")
    report = await push_changes(engine, linked.connection_id)
    assert report.error is None, report.error
    merged = await linked.ehr_read("CarePlan", copy["id"])
    assert merged["title"] == "Back pain: walking and sleep"
    assert {"system": "https://ehr.example.org/plans", "value": "P-9"} in merged["identifier"]
    assert merged["author"] == {"display": "Dr. Okafor (EHR)"}


async def test_what_the_ehr_refuses_is_listed_and_holds_nothing_up(
        linked: Linked, engine: AsyncEngine) -> None:
    await linked.ehr_patient("MRN-2005")
    plan = await linked.concord_plan("MRN-2005")
    goal = await add_goal(linked.client, linked.world, plan["id"], "physical_therapist")
    report = await push_changes(engine, linked.connection_id)
    assert report.error is None, report.error
    await pushed_copy(linked, "Goal", goal["id"])  # the goal went
    connection = await linked.connection()
    # The EHR (a Concord) cannot put a physical therapist's goal on a plan whose team it
    # does not have: its answer is listed against the plan, and the rest went on.
    [refused] = [s for s in connection["skipped"]
                 if s["source"] == f"Concord CarePlan/{plan['id']}"]
    assert refused["reason"].startswith("the EHR refused it: FhirError: POST answered 422")
    assert refused["patient_id"] == plan["patient_id"]
    assert connection["last_error"] is None
    assert connection["push_cursor_seq"] == report.cursor


async def test_patients_the_ehr_does_not_know_are_not_pushed(linked: Linked,
                                                             engine: AsyncEngine) -> None:
    plan = await linked.concord_plan("MRN-2999")
    goal = await add_goal(linked.client, linked.world, plan["id"], "physical_therapist")
    report = await push_changes(engine, linked.connection_id)
    assert report.error is None and report.pushed == 0
    assert await linked.ehr_search("Goal", identifier=f"{UUID_SYSTEM}|urn:uuid:{goal['id']}") \
        == []


async def test_ehr_down_keeps_the_cursor_until_it_is_back(linked: Linked,
                                                          engine: AsyncEngine) -> None:
    await linked.ehr_patient("MRN-2004")
    plan = await linked.concord_plan("MRN-2004")
    goal = await add_goal(linked.client, linked.world, plan["id"], "physical_therapist")
    before = (await linked.connection())["push_cursor_seq"]
    linked.server.stop()
    try:
        report = await push_changes(engine, linked.connection_id)
        assert report.error is not None and report.error.startswith("FhirUnavailable")
        connection = await linked.connection()
        assert connection["last_error"].startswith("push: FhirUnavailable")
        assert connection["push_cursor_seq"] == before
    finally:
        linked.server.start()
    report = await push_changes(engine, linked.connection_id)
    assert report.error is None, report.error
    await pushed_copy(linked, "Goal", goal["id"])
    assert (await linked.connection())["last_error"] is None
