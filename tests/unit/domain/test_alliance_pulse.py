"""The Concord alliance pulse: its definition is valid FHIR, its Spanish is inside it, and
it is scored per item and by the mean."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from domain.errors import Invalid
from domain.instruments import pulse
from domain.instruments.questionnaire import is_available


def test_the_definition_is_a_valid_r4_questionnaire_kept_whole() -> None:
    body: dict[str, Any] = json.loads(pulse.read())
    resource = Questionnaire.model_validate(body)
    assert resource.url == pulse.URL
    assert resource.id == pulse.INSTRUMENT
    assert json.loads(resource.model_dump_json(exclude_none=True)) == body


def test_it_says_what_it_is_cc0_and_not_validated() -> None:
    instrument = pulse.load()
    assert "CC0" in instrument.terms.text
    assert "Not a validated instrument" in instrument.terms.text
    assert "NOT" in instrument.title.upper() and "validated" in instrument.title
    assert instrument.terms.url == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert is_available(instrument, clinic_has_permission=False)


def test_four_items_answered_one_to_five() -> None:
    instrument = pulse.load()
    assert instrument.link_ids == pulse.LINK_IDS == ("goal", "task", "bond", "heard")
    for item in instrument.items:
        assert item.text
        assert [(o.code, o.value) for o in item.options] == [(str(n), n) for n in range(1, 6)]
    assert [o.label for o in instrument.items[0].options] == [
        "Not at all", "A little", "Somewhat", "Mostly", "Completely"]


def test_spanish_comes_from_the_translation_extensions() -> None:
    spanish = pulse.localized("es")
    english = pulse.load()
    assert spanish.items[0].text == (
        "Estamos de acuerdo en lo que más quiero lograr con mi tratamiento.")
    assert [o.label for o in spanish.items[3].options] == [
        "Nada", "Un poco", "Algo", "Bastante", "Totalmente"]
    for es, en in zip(spanish.items, english.items, strict=True):
        assert es.link_id == en.link_id and es.text != en.text
        assert [(o.code, o.value) for o in es.options] == [(o.code, o.value) for o in en.options]
    assert pulse.localized("en") == english
    assert pulse.localized("fr") == english, "a language without translations stays English"


def test_scores_each_item_and_the_mean() -> None:
    scored = pulse.score({"goal": 4, "task": 5, "bond": 3, "heard": 4})
    assert (scored.goal, scored.task, scored.bond, scored.heard) == (4, 5, 3, 4)
    assert scored.mean == 4.0
    assert pulse.score({"goal": 1, "task": 2, "bond": 2, "heard": 2}).mean == 1.75


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"goal": 4, "task": 5, "bond": 3}, "answers.heard"),
        ({"goal": 4, "task": 5, "bond": 3, "heard": 6}, "answers.heard"),
        ({"goal": 0, "task": 5, "bond": 3, "heard": 4}, "answers.goal"),
        ({"goal": 4, "task": 5, "bond": 3, "heard": 4, "extra": 1}, "answers.extra"),
        ({"goal": True, "task": 5, "bond": 3, "heard": 4}, "answers.goal"),
    ],
)
def test_rejects_incomplete_or_out_of_range_answers(answers: dict[str, int], field: str) -> None:
    with pytest.raises(Invalid) as raised:
        pulse.score(answers)
    assert raised.value.field == field
