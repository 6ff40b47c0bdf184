"""Everything the CapabilityStatement promises, exercised over HTTP with fhirpy.

The cases are generated from the statement (built at collection the way GET
/fhir/metadata builds it; the first test proves the live one lists the same): one case
per (resource type, interaction), per operation and per whole-system interaction. A case
with no scenario in tests/acceptance/scenarios.py fails, so a new promise cannot go
untested. Every search parameter and _include the statement lists is sent with
`Prefer: handling=strict`, where the server must refuse what it does not understand."""

from __future__ import annotations

from typing import Any

import pytest

from fhir.api.capability import capability_statement
from tests.acceptance.bench import Bench
from tests.acceptance.integrator import Integrator, plain
from tests.acceptance.scenarios import NOT_LISTED, SCENARIOS, listed_interactions

pytestmark = pytest.mark.asyncio

LISTED = sorted(listed_interactions(capability_statement("http://collecting.invalid/fhir")))
STATEMENT = capability_statement("http://collecting.invalid/fhir")["rest"][0]["resource"]


def _case_id(case: tuple[str, str]) -> str:
    return f"{case[0]}-{case[1]}"


async def test_the_live_statement_lists_what_the_cases_were_made_from(
        integrator: Integrator) -> None:
    statement = plain(await integrator.fhir.execute("metadata", method="get"))
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    assert statement["implementation"]["url"] == integrator.base
    assert "json" in statement["format"]
    assert sorted(listed_interactions(statement)) == LISTED


@pytest.mark.parametrize("case", LISTED, ids=_case_id)
async def test_every_listed_interaction_works(case: tuple[str, str], bench: Bench) -> None:
    scenario = SCENARIOS.get(case)
    assert scenario is not None, (
        f"the CapabilityStatement lists {case[1]} on {case[0]} and no acceptance "
        "scenario exercises it: add one to tests/acceptance/scenarios.py")
    await scenario(bench, case[0])


async def test_every_scenario_is_of_something_the_statement_lists() -> None:
    assert set(SCENARIOS) - set(LISTED) == set()
    assert set(NOT_LISTED) & set(LISTED) == set()


@pytest.mark.parametrize("case", sorted(NOT_LISTED), ids=_case_id)
async def test_what_the_statement_leaves_out_is_refused(case: tuple[str, str],
                                                        bench: Bench) -> None:
    await NOT_LISTED[case](bench, case[0])


# -- search parameters and includes -------------------------------------------------------

_SAMPLE_VALUES = {"token": "active", "reference": "Patient/0", "date": "ge2026-01-01",
                  "string": "Ri", "uri": "https://ehr.example/fhir", "number": "1",
                  "quantity": "1", "composite": "x$y"}


def _searchable() -> list[dict[str, Any]]:
    return [r for r in STATEMENT if r.get("searchParam")]


@pytest.mark.parametrize("resource", _searchable(), ids=lambda r: str(r["type"]))
async def test_every_listed_search_parameter_is_understood(
        resource: dict[str, Any], integrator: Integrator) -> None:
    """Each parameter, alone, under strict handling: a searchset, never 'unknown'."""
    refused = {}
    for param in resource["searchParam"]:
        value = _SAMPLE_VALUES[param["type"]]
        if param["name"] == "implicated":
            value = "CarePlan/00000000-0000-4000-8000-000000000000"
        response = await integrator.http.get(resource["type"], params={param["name"]: value},
                                             headers={"Prefer": "handling=strict"})
        if response.status_code != 200 or response.json().get("type") != "searchset":
            refused[param["name"]] = (response.status_code, response.text[:300])
    assert refused == {}


@pytest.mark.parametrize("resource", [r for r in STATEMENT if r.get("searchInclude")],
                         ids=lambda r: str(r["type"]))
async def test_every_listed_include_is_understood(resource: dict[str, Any],
                                                 integrator: Integrator) -> None:
    refused = {}
    for include in resource["searchInclude"]:
        response = await integrator.http.get(resource["type"], params={"_include": include},
                                             headers={"Prefer": "handling=strict"})
        if response.status_code != 200:
            refused[include] = (response.status_code, response.text[:300])
    assert refused == {}
