"""Whatever a client sends to the write side, the answer is a FHIR answer, never a 500:
the official examples with their values swapped for values of other shapes, as a broken
or hostile client would send them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ClinicWorld

pytestmark = pytest.mark.asyncio

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "hl7"
PLACEHOLDER = re.compile(r"\{\{[^}]+\}\}")
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=30), st.just("\x00"), st.just("9999-99-99"), st.just("Patient/"),
    st.just("urn:uuid:not-here"), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.just({"reference": "Goal/00000000-0000-4000-8000-000000000000"}),
)


def _examples() -> list[dict[str, Any]]:
    found = []
    for path in sorted(EXAMPLES.glob("*.json")):
        text = PLACEHOLDER.sub("Patient/00000000-0000-4000-8000-000000000001",
                               path.read_text())
        found.append(json.loads(text))
    return found


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() if k != "resourceType"
                for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], rest, new)
    return copy


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_a_mangled_resource_gets_an_operation_outcome_not_a_500(
    client: Any, world: ClinicWorld, data: st.DataObject
) -> None:
    example = data.draw(st.sampled_from(_examples()))
    resource = example
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        leaves = _leaves(resource)
        if not leaves:
            break
        resource = _replaced(resource, data.draw(st.sampled_from(leaves)),
                             data.draw(ODD_VALUES))
    method = data.draw(st.sampled_from(["POST", "PUT", "transaction", "batch"]))
    url = f"/fhir/{example['resourceType']}"
    if method == "PUT":
        url += "/00000000-0000-4000-8000-000000000002"
    elif method in ("transaction", "batch"):
        resource = {"resourceType": "Bundle", "type": method, "entry": [
            {"fullUrl": "urn:uuid:6f1c1a52-0000-4000-8000-000000000003", "resource": resource,
             "request": {"method": "POST", "url": example["resourceType"]}}]}
        method, url = "POST", "/fhir"
    response = await client.request(
        method, url, content=json.dumps(resource, allow_nan=True),
        headers={**world.auth("coordinator"), "Content-Type": "application/fhir+json",
                 "If-Match": 'W/"1"'})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"
