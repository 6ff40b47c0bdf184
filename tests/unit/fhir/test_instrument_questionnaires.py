"""The shipped instrument definitions are valid FHIR R4 Questionnaires (R4B models)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from domain.instruments.questionnaire import (
    BUILTINS,
    ORDINAL_VALUE_EXTENSION,
    load_builtin,
    read_builtin,
)


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_validates_as_questionnaire(name: str) -> None:
    body: dict[str, Any] = json.loads(read_builtin(name))
    resource = Questionnaire.model_validate(body)
    assert resource.id == name
    assert resource.status == "active"
    assert resource.url == f"https://concord.invalid/fhir/Questionnaire/{name}"
    assert resource.copyright
    # Round trip: nothing in the file is dropped by the model.
    assert json.loads(resource.model_dump_json(exclude_none=True)) == body


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_keeps_the_questionnaire_rules_pydantic_does_not_check(name: str) -> None:
    resource = Questionnaire.model_validate(json.loads(read_builtin(name)))
    link_ids = [item.linkId for item in resource.item]
    assert len(link_ids) == len(set(link_ids))  # que-2: linkIds unique
    for item in resource.item:
        assert item.type == "choice"
        assert item.answerOption  # a choice item offers its answers
        assert item.item is None  # flat
        for answer in item.answerOption:
            assert answer.valueCoding is not None
            assert answer.valueCoding.code and answer.valueCoding.display
            (score,) = [e for e in answer.extension if e.url == ORDINAL_VALUE_EXTENSION]
            assert score.valueDecimal is not None


@pytest.mark.parametrize("name", BUILTINS)
def test_the_domain_reads_what_fhir_validates(name: str) -> None:
    resource = Questionnaire.model_validate(json.loads(read_builtin(name)))
    instrument = load_builtin(name)
    assert instrument.url == resource.url
    assert instrument.version == resource.version
    assert instrument.title == resource.title
    assert instrument.link_ids == tuple(item.linkId for item in resource.item)
    assert [item.text for item in instrument.items] == [item.text for item in resource.item]
