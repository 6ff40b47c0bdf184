"""Instruments as data: the PEG and WAI-SR scoring rules, the Questionnaire model and loading.

Where the expected values come from
-----------------------------------
PEG (Krebs EE, Lorenz KA, Bair MJ, et al. J Gen Intern Med 2009;24(6):733-738). Rule: the
PEG score is the mean of the three items, 0-10 -- "average all three responses to get a total
PEG score out of 10" (TOPCARE, mytopcare.org); "PEG score = average 3 individual question
scores" (CDC, Checklist for prescribing opioids for chronic pain). Published worked examples:
  * TOPCARE "Assessing Analgesia and Function Tool (PEG)" (plustopcare.org): pain 5,
    enjoyment 5, general activity 5 -> "5 + 5 + 5 = 15 ... 15 / 3 = 5.0";
  * iatrox PEG calculator page: "If P=7, E=8, G=6, PEG = (7+8+6)/3 = 7.0".
Every other PEG number below is worked BY HAND from that rule, with the arithmetic beside it.

WAI-SR (Hatcher RL, Gillaspy JA. Psychother Res 2006;16(1):12-25). No published worked example
with numbers was found. The rule -- goal items 4, 6, 8, 11; task 1, 2, 10, 12; bond 3, 5, 7, 9;
answers 1-5; nothing reversed -- is from Rivet's WAI-SR template documentation and an
independent R scoring package (see domain/instruments/data/TERMS.md). Every WAI-SR expected
score below is worked BY HAND from that rule; none is produced by calling the code under test.

The WAI-SR item texts are not shipped (unclear terms): the texts loaded in these tests are
obvious placeholders, never the instrument's wording.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.errors import Invalid
from domain.instruments import alliance, peg
from domain.instruments.questionnaire import (
    BUILTINS,
    ORDINAL_VALUE_EXTENSION,
    REQUIRES_PERMISSION_EXTENSION,
    TERMS_URL_EXTENSION,
    Instrument,
    is_available,
    load_builtin,
    parse_questionnaire,
    read_builtin,
    with_item_texts,
)

# --- helpers --------------------------------------------------------------------------------


def peg_answers(pain: Any, enjoyment: Any, activity: Any) -> dict[str, Any]:
    return {"pain": pain, "enjoyment": enjoyment, "activity": activity}


def wai_answers(values: list[int]) -> dict[str, int]:
    """Answers to items 1..12 in published order."""
    assert len(values) == 12
    return {str(number): value for number, value in zip(range(1, 13), values, strict=True)}


def placeholder_texts(link_ids: tuple[str, ...]) -> dict[str, str]:
    return {link_id: f"[clinic-licensed text of item {link_id}]" for link_id in link_ids}


def option(code: str, display: str, score: Any) -> dict[str, Any]:
    return {
        "extension": [{"url": ORDINAL_VALUE_EXTENSION, "valueDecimal": score}],
        "valueCoding": {"code": code, "display": display},
    }


def clinic_questionnaire(**changes: Any) -> dict[str, Any]:
    """A small, valid clinic-defined questionnaire; `changes` replace top-level fields."""
    body: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "url": "https://clinic.example/fhir/Questionnaire/sleep",
        "version": "3",
        "name": "SleepCheck",
        "title": "Sleep check",
        "status": "active",
        "copyright": "Written by the clinic; free to use within it.",
        "item": [
            {
                "linkId": "sleep",
                "text": "How well did you sleep this week?",
                "type": "choice",
                "answerOption": [option("0", "Badly", 0), option("1", "Well", 1)],
            }
        ],
    }
    body.update(changes)
    return body


# --- PEG ------------------------------------------------------------------------------------


class TestPegPublishedExamples:
    def test_topcare_example_5_5_5_is_5(self) -> None:
        # TOPCARE (plustopcare.org): 5 + 5 + 5 = 15; 15 / 3 = 5.0.
        result = peg.score(peg_answers(5, 5, 5))
        assert result.total == 5.0
        assert (result.pain, result.enjoyment, result.activity) == (5, 5, 5)

    def test_iatrox_example_7_8_6_is_7(self) -> None:
        # iatrox: "If P=7, E=8, G=6, PEG = (7+8+6)/3 = 7.0".
        result = peg.score(peg_answers(7, 8, 6))
        assert result.total == 7.0
        assert (result.pain, result.enjoyment, result.activity) == (7, 8, 6)


class TestPegByHand:
    @pytest.mark.parametrize(
        ("pain", "enjoyment", "activity", "expected"),
        [
            (0, 0, 0, 0.0),  # 0 / 3 = 0: the scale's floor
            (10, 10, 10, 10.0),  # 30 / 3 = 10: the scale's ceiling
            (7, 5, 4, 16 / 3),  # 7 + 5 + 4 = 16; 16 / 3 = 5.333...
            (1, 0, 0, 1 / 3),  # 1 / 3 = 0.333...
            (9, 10, 10, 29 / 3),  # 29 / 3 = 9.666...
            (2, 8, 5, 5.0),  # 15 / 3 = 5: order does not matter
        ],
    )
    def test_mean_of_three_items(
        self, pain: int, enjoyment: int, activity: int, expected: float
    ) -> None:
        assert peg.score(peg_answers(pain, enjoyment, activity)).total == pytest.approx(
            expected, abs=1e-12
        )

    def test_total_is_not_rounded(self) -> None:
        # (7 + 5 + 4) / 3 = 5.333...; no published rounding rule, so none is applied.
        assert peg.score(peg_answers(7, 5, 4)).total != round(16 / 3, 1)


class TestPegValidation:
    @pytest.mark.parametrize("bad", [-1, 11, 100, 2.5, 5.0, True, "5", None])
    @pytest.mark.parametrize("link_id", ["pain", "enjoyment", "activity"])
    def test_each_item_is_a_whole_number_0_to_10(self, link_id: str, bad: Any) -> None:
        answers = peg_answers(5, 5, 5) | {link_id: bad}
        with pytest.raises(Invalid) as caught:
            peg.score(answers)
        assert caught.value.field == f"answers.{link_id}"

    @pytest.mark.parametrize("link_id", ["pain", "enjoyment", "activity"])
    def test_all_three_items_are_required(self, link_id: str) -> None:
        answers = peg_answers(5, 5, 5)
        del answers[link_id]
        with pytest.raises(Invalid) as caught:
            peg.score(answers)
        assert caught.value.field == f"answers.{link_id}"
        assert "missing" in caught.value.detail

    def test_unknown_item_is_named(self) -> None:
        with pytest.raises(Invalid) as caught:
            peg.score(peg_answers(5, 5, 5) | {"sleep": 3})
        assert caught.value.field == "answers.sleep"

    def test_answers_must_be_a_mapping(self) -> None:
        with pytest.raises(Invalid) as caught:
            peg.score([5, 5, 5])  # type: ignore[arg-type]
        assert caught.value.field == "answers"


# --- WAI-SR ---------------------------------------------------------------------------------


class TestAllianceSubscales:
    def test_membership_exactly_as_published(self) -> None:
        # Hatcher & Gillaspy 2006, as scored by the keys in TERMS.md.
        assert alliance.GOAL_ITEMS == ("4", "6", "8", "11")
        assert alliance.TASK_ITEMS == ("1", "2", "10", "12")
        assert alliance.BOND_ITEMS == ("3", "5", "7", "9")

    def test_subscales_partition_the_twelve_items(self) -> None:
        members = alliance.GOAL_ITEMS + alliance.TASK_ITEMS + alliance.BOND_ITEMS
        assert sorted(members, key=int) == [str(n) for n in range(1, 13)]
        assert len(set(members)) == 12
        assert list(alliance.LINK_IDS) == [str(n) for n in range(1, 13)]

    def test_no_item_is_reversed(self) -> None:
        assert not alliance.REVERSED_ITEMS
        # By hand: raising only item 4 from 1 to 5 raises goal by 4 / 4 = 1 and the total by
        # 4 / 12; had it been reversed, the scores would have fallen.
        low = alliance.score(wai_answers([1] * 12))
        high = alliance.score(wai_answers([1, 1, 1, 5] + [1] * 8))
        assert high.goal - low.goal == pytest.approx(1.0)
        assert high.total - low.total == pytest.approx(4 / 12)
        assert (high.task, high.bond) == (low.task, low.bond)


class TestAllianceByHand:
    def test_all_fives(self) -> None:
        # Every mean of 5s is 5.
        result = alliance.score(wai_answers([5] * 12))
        assert (result.goal, result.task, result.bond, result.total) == (5.0, 5.0, 5.0, 5.0)
        assert result.item_count == 12

    def test_all_ones(self) -> None:
        result = alliance.score(wai_answers([1] * 12))
        assert (result.goal, result.task, result.bond, result.total) == (1.0, 1.0, 1.0, 1.0)

    def test_each_subscale_reads_only_its_own_items(self) -> None:
        # Task items (1, 2, 10, 12) = 5, bond items (3, 5, 7, 9) = 4, goal (4, 6, 8, 11) = 2.
        # item:     1  2  3  4  5  6  7  8  9 10 11 12
        values = [5, 5, 4, 2, 4, 2, 4, 2, 4, 5, 2, 5]
        result = alliance.score(wai_answers(values))
        assert result.task == 5.0  # (5 + 5 + 5 + 5) / 4
        assert result.bond == 4.0  # (4 + 4 + 4 + 4) / 4
        assert result.goal == 2.0  # (2 + 2 + 2 + 2) / 4
        assert result.total == pytest.approx(11 / 3)  # (20 + 16 + 8) / 12 = 44 / 12

    def test_mixed_answers(self) -> None:
        # item:     1  2  3  4  5  6  7  8  9 10 11 12
        values = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]
        # goal  = items 4, 6, 8, 11  = 4 + 1 + 3 + 1 = 9   -> 9 / 4  = 2.25
        # task  = items 1, 2, 10, 12 = 1 + 2 + 5 + 2 = 10  -> 10 / 4 = 2.5
        # bond  = items 3, 5, 7, 9   = 3 + 5 + 2 + 4 = 14  -> 14 / 4 = 3.5
        # total = 9 + 10 + 14 = 33 -> 33 / 12 = 2.75
        result = alliance.score(wai_answers(values))
        assert result.goal == pytest.approx(2.25)
        assert result.task == pytest.approx(2.5)
        assert result.bond == pytest.approx(3.5)
        assert result.total == pytest.approx(2.75)
        assert result.item_count == 12

    def test_total_is_the_mean_of_the_subscale_means(self) -> None:
        # Equal-sized subscales: (2.25 + 2.5 + 3.5) / 3 = 8.25 / 3 = 2.75, as above.
        result = alliance.score(wai_answers([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]))
        assert (result.goal + result.task + result.bond) / 3 == pytest.approx(result.total)


class TestAllianceValidation:
    @pytest.mark.parametrize("bad", [0, 6, -1, 3.0, False, "4", None])
    def test_answers_are_whole_numbers_1_to_5(self, bad: Any) -> None:
        answers: dict[str, Any] = wai_answers([3] * 12)
        answers["7"] = bad
        with pytest.raises(Invalid) as caught:
            alliance.score(answers)
        assert caught.value.field == "answers.7"

    def test_every_item_is_required(self) -> None:
        answers = wai_answers([3] * 12)
        del answers["11"]
        with pytest.raises(Invalid) as caught:
            alliance.score(answers)
        assert caught.value.field == "answers.11"

    def test_unknown_item_is_named(self) -> None:
        with pytest.raises(Invalid) as caught:
            alliance.score(wai_answers([3] * 12) | {"13": 3})
        assert caught.value.field == "answers.13"


# --- The built-in definitions ---------------------------------------------------------------


class TestBuiltins:
    def test_both_load(self) -> None:
        assert BUILTINS == ("peg", "wai-sr")
        for name in BUILTINS:
            assert isinstance(load_builtin(name), Instrument)

    def test_unknown_builtin_is_invalid(self) -> None:
        with pytest.raises(Invalid) as caught:
            load_builtin("phq-9")
        assert caught.value.field == "name"

    def test_peg_ships_its_published_wording_and_anchors(self) -> None:
        # Krebs et al. 2009, Figure 1, as reproduced by TOPCARE and others (TERMS.md).
        instrument = load_builtin("peg")
        assert instrument.url == "https://concord.invalid/fhir/Questionnaire/peg"
        assert instrument.link_ids == peg.LINK_IDS
        texts = {item.link_id: item.text for item in instrument.items}
        assert texts == {
            "pain": "What number best describes your pain on average in the past week?",
            "enjoyment": "What number best describes how, during the past week, pain has "
            "interfered with your enjoyment of life?",
            "activity": "What number best describes how, during the past week, pain has "
            "interfered with your general activity?",
        }
        anchors = {
            item.link_id: (item.options[0].label, item.options[-1].label)
            for item in instrument.items
        }
        assert anchors == {
            "pain": ("No pain", "Pain as bad as you can imagine"),
            "enjoyment": ("Does not interfere", "Completely interferes"),
            "activity": ("Does not interfere", "Completely interferes"),
        }

    def test_peg_options_are_the_scoring_range(self) -> None:
        for item in load_builtin("peg").items:
            assert [o.value for o in item.options] == list(range(peg.ITEM_MIN, peg.ITEM_MAX + 1))
            assert [o.code for o in item.options] == [str(v) for v in range(11)]

    def test_peg_terms_recorded_and_available(self) -> None:
        instrument = load_builtin("peg")
        assert instrument.texts_loaded
        assert not instrument.requires_permission
        assert "public domain" in instrument.terms.text
        assert "Krebs" in instrument.terms.text
        assert instrument.terms.url == "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC2686775/"
        assert is_available(instrument, clinic_has_permission=False)

    def test_wai_sr_ships_no_item_texts(self) -> None:
        instrument = load_builtin("wai-sr")
        assert instrument.link_ids == alliance.LINK_IDS
        assert all(item.text is None for item in instrument.items)
        assert not instrument.texts_loaded
        raw = json.loads(read_builtin("wai-sr"))
        assert all("text" not in item for item in raw["item"])

    def test_wai_sr_answer_scale(self) -> None:
        for item in load_builtin("wai-sr").items:
            assert [(o.value, o.label) for o in item.options] == [
                (1, "Seldom"),
                (2, "Sometimes"),
                (3, "Fairly often"),
                (4, "Very often"),
                (5, "Always"),
            ]

    def test_wai_sr_is_off_until_the_clinic_loads_its_texts(self) -> None:
        instrument = load_builtin("wai-sr")
        assert instrument.terms.text
        assert instrument.terms.url == "https://wai.profhorvath.com/downloads"
        assert not is_available(instrument, clinic_has_permission=False)
        assert not is_available(instrument, clinic_has_permission=True)
        loaded = with_item_texts(instrument, placeholder_texts(instrument.link_ids))
        assert loaded.texts_loaded
        assert is_available(loaded, clinic_has_permission=False)
        assert loaded.items[6].text == "[clinic-licensed text of item 7]"
        # The shared built-in is untouched.
        assert not load_builtin("wai-sr").texts_loaded

    def test_answer_codes_map_to_scores(self) -> None:
        instrument = load_builtin("wai-sr")
        assert instrument.answer_value("4", "5") == 5
        answers = {
            link_id: instrument.answer_value(link_id, "3") for link_id in instrument.link_ids
        }
        assert alliance.score(answers).total == 3.0  # 36 / 12
        with pytest.raises(Invalid) as caught:
            instrument.answer_value("4", "6")
        assert caught.value.field == "answers.4"
        with pytest.raises(Invalid) as caught:
            instrument.answer_value("13", "1")
        assert caught.value.field == "answers.13"


# --- Loading licensed texts -----------------------------------------------------------------


class TestWithItemTexts:
    def test_unknown_link_id_is_named(self) -> None:
        instrument = load_builtin("wai-sr")
        texts = placeholder_texts(instrument.link_ids) | {"13": "extra"}
        with pytest.raises(Invalid) as caught:
            with_item_texts(instrument, texts)
        assert caught.value.field == "texts.13"

    @pytest.mark.parametrize("blank", ["", "   ", "\n\t", None, 7])
    def test_blank_or_non_text_is_refused(self, blank: Any) -> None:
        instrument = load_builtin("wai-sr")
        texts: dict[str, Any] = placeholder_texts(instrument.link_ids)
        texts["5"] = blank
        with pytest.raises(Invalid) as caught:
            with_item_texts(instrument, texts)
        assert caught.value.field == "texts.5"

    def test_every_item_needs_a_text(self) -> None:
        instrument = load_builtin("wai-sr")
        texts = placeholder_texts(instrument.link_ids)
        del texts["9"]
        del texts["12"]
        with pytest.raises(Invalid) as caught:
            with_item_texts(instrument, texts)
        assert caught.value.field == "texts.9"
        assert "9, 12" in caught.value.detail

    def test_texts_are_trimmed(self) -> None:
        instrument = load_builtin("wai-sr")
        texts = placeholder_texts(instrument.link_ids) | {"1": "  [item one]  "}
        assert with_item_texts(instrument, texts).items[0].text == "[item one]"

    def test_a_shipped_text_can_be_replaced(self) -> None:
        # E.g. a clinic's licensed translation of the PEG.
        loaded = with_item_texts(load_builtin("peg"), {"pain": "[translated item]"})
        assert loaded.items[0].text == "[translated item]"
        assert loaded.items[1].text == load_builtin("peg").items[1].text

    def test_texts_must_be_a_mapping(self) -> None:
        with pytest.raises(Invalid) as caught:
            with_item_texts(load_builtin("wai-sr"), ["a"] * 12)  # type: ignore[arg-type]
        assert caught.value.field == "texts"

    def test_texts_loaded_cannot_lie(self) -> None:
        instrument = load_builtin("wai-sr")
        with pytest.raises(Invalid) as caught:
            Instrument(
                url=instrument.url,
                version=instrument.version,
                name=instrument.name,
                title=instrument.title,
                items=instrument.items,
                terms=instrument.terms,
                requires_permission=False,
                texts_loaded=True,
            )
        assert caught.value.field == "texts_loaded"


# --- A clinic's own questionnaires ----------------------------------------------------------


class TestClinicQuestionnaires:
    def test_a_valid_one_parses_from_json_or_mapping(self) -> None:
        body = clinic_questionnaire()
        for source in (body, json.dumps(body), json.dumps(body).encode()):
            instrument = parse_questionnaire(source)
            assert instrument.name == "SleepCheck"
            assert instrument.terms.text == "Written by the clinic; free to use within it."
            assert instrument.terms.url is None
            assert not instrument.requires_permission
            assert instrument.items[0].options[1].value == 1
            assert is_available(instrument, clinic_has_permission=False)

    def test_requires_permission_keeps_it_off_until_recorded(self) -> None:
        # E.g. a PROMIS short form a clinic adds: off until it records written permission.
        body = clinic_questionnaire(
            extension=[
                {"url": REQUIRES_PERMISSION_EXTENSION, "valueBoolean": True},
                {"url": TERMS_URL_EXTENSION, "valueUri": "https://owner.example/terms"},
            ]
        )
        instrument = parse_questionnaire(body)
        assert instrument.requires_permission
        assert instrument.terms.url == "https://owner.example/terms"
        assert not is_available(instrument, clinic_has_permission=False)
        assert is_available(instrument, clinic_has_permission=True)

    def test_items_without_text_wait_for_the_clinic(self) -> None:
        item = clinic_questionnaire()["item"][0] | {"text": None}
        del item["text"]
        instrument = parse_questionnaire(clinic_questionnaire(item=[item]))
        assert not instrument.texts_loaded
        assert not is_available(instrument, clinic_has_permission=True)

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"resourceType": "Patient"}, "resourceType"),
            ({"url": " "}, "url"),
            ({"version": None}, "version"),
            ({"name": ""}, "name"),
            ({"title": 3}, "title"),
            ({"copyright": None}, "copyright"),
            ({"item": []}, "item"),
            (
                {"extension": [{"url": REQUIRES_PERMISSION_EXTENSION}]},
                "extension[0].valueBoolean",
            ),
            ({"extension": [{"url": TERMS_URL_EXTENSION}]}, "extension[0].valueUri"),
        ],
    )
    def test_bad_top_level_fields_are_named(self, changes: dict[str, Any], field: str) -> None:
        with pytest.raises(Invalid) as caught:
            parse_questionnaire(clinic_questionnaire(**changes))
        assert caught.value.field == field

    @pytest.mark.parametrize(
        ("item_changes", "field"),
        [
            ({"linkId": ""}, "item[0].linkId"),
            ({"linkId": " sleep"}, "item[0].linkId"),
            ({"linkId": 5}, "item[0].linkId"),
            ({"type": "string"}, "item[0].type"),
            ({"text": "  "}, "item[0].text"),
            ({"answerOption": []}, "item[0].answerOption"),
            ({"item": [{"linkId": "x", "type": "display"}]}, "item[0].item"),
            ({"answerOption": [{"valueInteger": 1}]}, "item[0].answerOption[0].valueCoding"),
            (
                {"answerOption": [option("", "Badly", 0)]},
                "item[0].answerOption[0].valueCoding.code",
            ),
            (
                {"answerOption": [option("0", "", 0)]},
                "item[0].answerOption[0].valueCoding.display",
            ),
            (
                {"answerOption": [{"valueCoding": {"code": "0", "display": "Badly"}}]},
                "item[0].answerOption[0].extension",
            ),
            ({"answerOption": [option("0", "Badly", 0.5)]}, "item[0].answerOption[0].extension"),
            (
                {"answerOption": [option("0", "Badly", 0), option("0", "Well", 1)]},
                "item[0].answerOption[1]",
            ),
            (
                {"answerOption": [option("0", "Badly", 1), option("1", "Well", 1)]},
                "item[0].answerOption[1]",
            ),
        ],
    )
    def test_bad_items_are_named(self, item_changes: dict[str, Any], field: str) -> None:
        item = clinic_questionnaire()["item"][0] | item_changes
        with pytest.raises(Invalid) as caught:
            parse_questionnaire(clinic_questionnaire(item=[item]))
        assert caught.value.field == field

    def test_duplicate_link_ids_are_refused(self) -> None:
        item = clinic_questionnaire()["item"][0]
        with pytest.raises(Invalid) as caught:
            parse_questionnaire(clinic_questionnaire(item=[item, item]))
        assert caught.value.field == "item[1].linkId"

    def test_missing_required_field_is_named(self) -> None:
        item = dict(clinic_questionnaire()["item"][0])
        del item["linkId"]
        with pytest.raises(Invalid) as caught:
            parse_questionnaire(clinic_questionnaire(item=[item]))
        assert caught.value.field == "item[0].linkId"

    @pytest.mark.parametrize("source", [b"{", b"[]", "not json", b""])
    def test_malformed_json_is_invalid_not_a_crash(self, source: bytes | str) -> None:
        with pytest.raises(Invalid) as caught:
            parse_questionnaire(source)
        assert caught.value.field == "questionnaire"
