"""What /metadata says about search, history and $everything is what is served."""

from __future__ import annotations

from typing import Any

import pytest

from fhir.search.params import PARAMS, STORED_TYPES
from tests.factories import ClinicWorld

pytestmark = pytest.mark.asyncio

READ_SIDE = {"read", "vread", "history-instance", "history-type", "search-type"}


async def statement(client: Any) -> dict[str, dict[str, Any]]:
    body = (await client.get("/fhir/metadata")).json()
    return {r["type"]: r for r in body["rest"][0]["resource"]}


async def test_every_stored_type_lists_the_read_side(client: Any) -> None:
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    CapabilityStatement.model_validate((await client.get("/fhir/metadata")).json())
    resources = await statement(client)
    for name in STORED_TYPES:
        assert {i["code"] for i in resources[name]["interaction"]} >= READ_SIDE, name
        assert resources[name]["readHistory"] is True
    assert [i["code"] for i in resources["AuditEvent"]["interaction"]] == ["read", "search-type"]


async def test_search_parameters_come_from_the_table_the_search_runs_on(client: Any) -> None:
    resources = await statement(client)
    care_plan = {p["name"]: p for p in resources["CarePlan"]["searchParam"]}
    assert set(care_plan) == {"_id", "_lastUpdated", *PARAMS["CarePlan"]}
    assert care_plan["patient"] == {
        "name": "patient", "definition": "http://hl7.org/fhir/SearchParameter/clinical-patient",
        "type": "reference", "documentation": care_plan["patient"]["documentation"]}
    assert care_plan["date"]["type"] == "date"
    assert {"CarePlan:goal", "CarePlan:care-team", "CarePlan:subject"} <= set(
        resources["CarePlan"]["searchInclude"])
    assert "CarePlan:patient" in resources["Patient"]["searchRevInclude"]
    assert {p["name"] for p in resources["Communication"]["searchParam"]} == {
        "_id", "_lastUpdated", *PARAMS["Communication"]}
    # a search served by its own handler keeps what that takes
    assert [p["name"] for p in resources["DetectedIssue"]["searchParam"]] == ["implicated"]
    assert {p["name"] for p in resources["AuditEvent"]["searchParam"]} >= {
        "patient", "date", "action", "type", "entity-type", "agent"}


async def test_every_declared_parameter_is_accepted_by_a_strict_search(
    client: Any, world: ClinicWorld
) -> None:
    resources = await statement(client)
    for name in sorted(STORED_TYPES - {"Communication"}):
        for param in resources[name]["searchParam"]:
            value = {"token": "x", "reference": "Patient/x", "date": "2026", "string": "x",
                     "uri": "https://x.example"}[param["type"]]
            response = await client.get(
                f"/fhir/{name}", params={param["name"]: value},
                headers={**world.auth("coordinator"), "Prefer": "handling=strict"})
            assert response.status_code == 200, (name, param["name"], response.text)


async def test_patient_everything_is_declared(client: Any) -> None:
    patient = (await statement(client))["Patient"]
    assert patient["operation"] == [{
        "name": "everything",
        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        "documentation": patient["operation"][0]["documentation"]}]
