"""The Concord alliance pulse: four questions about the work with one clinician.

Written for Concord and dedicated to the public domain (CC0 1.0); **not a validated
instrument** -- no published psychometrics, norms or cut-offs. It is the check-in's
alliance questionnaire until a clinic has loaded the item texts of the WAI-SR
(`domain.instruments.alliance`), which then replaces it. Read a patient's pulse against
their own earlier answers, never against other patients.

Four items, each answered 1 "Not at all", 2 "A little", 3 "Somewhat", 4 "Mostly",
5 "Completely"; higher means a stronger alliance. After Bordin's (1979) three parts of the
working alliance, plus feeling heard:

* `goal`: agreement on what the patient most wants to achieve;
* `task`: agreement on the steps being taken;
* `bond`: feeling respected and cared about;
* `heard`: feeling listened to and understood.

Scores: each item as answered, and the mean of the four (1-5, unrounded). No item is
reversed; all four are required (no prorating).

The definition is `data/concord-alliance-pulse.json`, a FHIR R4 Questionnaire whose Spanish
wording rides on the standard `translation` extension of each `text` and `display`
(`localized` reads it).

Sources:
    Bordin ES. The generalizability of the psychoanalytic concept of the working alliance.
    Psychotherapy: Theory, Research & Practice 1979;16(3):252-260 (goals, tasks, bond).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources

import msgspec

from domain.instruments.questionnaire import Instrument, checked_answers, parse_questionnaire

INSTRUMENT = "concord-alliance-pulse"
"""The Questionnaire.id of the definition shipped as `data/concord-alliance-pulse.json`."""
URL = f"https://concord.invalid/fhir/Questionnaire/{INSTRUMENT}"

GOAL = "goal"
TASK = "task"
BOND = "bond"
HEARD = "heard"
LINK_IDS: tuple[str, ...] = (GOAL, TASK, BOND, HEARD)

ITEM_MIN = 1
ITEM_MAX = 5

TRANSLATION_EXTENSION = "http://hl7.org/fhir/StructureDefinition/translation"
"""FHIR core extension carrying a translation of a string element (`lang`, `content`)."""


class PulseScore(msgspec.Struct, frozen=True, kw_only=True):
    goal: int
    task: int
    bond: int
    heard: int
    mean: float
    """Mean of the four items, 1-5, unrounded."""


def score(answers: Mapping[str, int]) -> PulseScore:
    """Score one pulse: each item as answered and their mean.

    Args:
        answers: the answer to each item by link id (`goal`, `task`, `bond`, `heard`),
            each a whole number 1-5. All four are required.

    Returns:
        The items and their unrounded mean: 4, 5, 3, 4 gives a mean of 4.0.

    Raises:
        Invalid: field `answers` when it is not a mapping, `answers.<link id>` for an
            unknown item, a missing one, or an answer that is not a whole number 1-5.
    """
    checked = checked_answers(answers, LINK_IDS, ITEM_MIN, ITEM_MAX)
    return PulseScore(
        goal=checked[GOAL],
        task=checked[TASK],
        bond=checked[BOND],
        heard=checked[HEARD],
        mean=sum(checked.values()) / len(LINK_IDS),
    )


def read() -> bytes:
    """The shipped FHIR Questionnaire JSON, as published to EHRs."""
    return (resources.files("domain.instruments") / "data" / f"{INSTRUMENT}.json").read_bytes()


@functools.cache
def load() -> Instrument:
    """The pulse in English (the Questionnaire's own language), parsed once."""
    return parse_questionnaire(read())


# --- Translations -----------------------------------------------------------------------------


class _Part(msgspec.Struct):
    url: str
    value_code: str | None = msgspec.field(default=None, name="valueCode")
    value_string: str | None = msgspec.field(default=None, name="valueString")


class _Translation(msgspec.Struct):
    url: str
    extension: list[_Part] = []


class _Element(msgspec.Struct):
    extension: list[_Translation] = []


class _Coding(msgspec.Struct):
    code: str | None = None
    display_element: _Element | None = msgspec.field(default=None, name="_display")


class _Option(msgspec.Struct):
    value_coding: _Coding | None = msgspec.field(default=None, name="valueCoding")


class _Item(msgspec.Struct):
    link_id: str = msgspec.field(name="linkId")
    text_element: _Element | None = msgspec.field(default=None, name="_text")
    answer_option: list[_Option] = msgspec.field(default_factory=list, name="answerOption")


class _Questionnaire(msgspec.Struct):
    item: list[_Item] = []


def _translated(element: _Element | None, language: str) -> str | None:
    for translation in element.extension if element else []:
        if translation.url != TRANSLATION_EXTENSION:
            continue
        parts = {p.url: p for p in translation.extension}
        lang, content = parts.get("lang"), parts.get("content")
        if lang and content and lang.value_code == language and content.value_string:
            return content.value_string.strip() or None
    return None


def translate(instrument: Instrument, source: bytes, language: str) -> Instrument:
    """`instrument` with the item texts and answer labels that `source` (its FHIR
    Questionnaire JSON) translates into `language`; what has no translation stays as is.
    Only the words change: link ids, codes and scores are those of `instrument`."""
    raw = msgspec.json.decode(source, type=_Questionnaire)
    by_link = {item.link_id: item for item in raw.item}
    items = []
    for item in instrument.items:
        found = by_link.get(item.link_id)
        if found is None:
            items.append(item)
            continue
        labels = {
            option.value_coding.code: text
            for option in found.answer_option
            if option.value_coding is not None
            and option.value_coding.code is not None
            and (text := _translated(option.value_coding.display_element, language))
        }
        items.append(
            msgspec.structs.replace(
                item,
                text=_translated(found.text_element, language) or item.text,
                options=tuple(
                    msgspec.structs.replace(o, label=labels.get(o.code, o.label))
                    for o in item.options
                ),
            )
        )
    return msgspec.structs.replace(instrument, items=tuple(items))


@functools.cache
def localized(language: str) -> Instrument:
    """The pulse in `language` (`en` or `es`); English where a translation is missing."""
    if language == "en":
        return load()
    return translate(load(), read(), language)
