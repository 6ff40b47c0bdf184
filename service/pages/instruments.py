"""Which questionnaires a check-in page asks, in the patient's language, and how a submitted
form becomes validated answers and scores.

A check-in names its questionnaires by canonical url (`CheckIn.questionnaires`). The PEG is
asked as shipped (in Spanish in Concord's translation, see `i18n.PEG_ES`). The alliance
questionnaire is the clinic's: the WAI-SR once the clinic has loaded its licensed item texts
(for the patient's language), the Concord alliance pulse until then -- whichever of the two
the check-in names."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import msgspec

from domain.check_in import ALLIANCE_PULSE, DEFAULT_QUESTIONNAIRES, PEG
from domain.instruments import alliance, peg, pulse
from domain.instruments.questionnaire import Instrument, Item, load_builtin, with_item_texts
from service.db.uow import UnitOfWork
from service.pages import i18n

WAI_SR = "https://concord.invalid/fhir/Questionnaire/wai-sr"
ALLIANCE_URLS = frozenset({ALLIANCE_PULSE, WAI_SR})

Kind = Literal["pain", "alliance"]


class Asked(msgspec.Struct, frozen=True, kw_only=True):
    """One questionnaire on the page."""

    key: str
    """Its Questionnaire.id: the prefix of its form fields (`peg.pain`)."""
    url: str
    """Its canonical url, as check-ins and stored responses name it."""
    kind: Kind
    instrument: Instrument
    """In the patient's language."""
    canonical: Instrument
    """As defined (the Questionnaire's own language): what a stored response codes with."""
    language: str
    scorer: Callable[[Mapping[str, int]], msgspec.Struct]

    def field(self, item: Item) -> str:
        return f"{self.key}.{item.link_id}"

    def score(self, codes: Mapping[str, str]) -> dict[str, Any]:
        values = {link_id: self.instrument.answer_value(link_id, c) for link_id, c in codes.items()}
        scored: dict[str, Any] = msgspec.to_builtins(self.scorer(values))
        return scored


async def clinic_wai_sr_texts(
    uow: UnitOfWork, clinic_id: uuid.UUID, language: str
) -> Mapping[str, str] | None:
    """The WAI-SR item texts a clinic has loaded from its licensed copy
    (`PUT /api/v1/questionnaires/wai-sr/item-texts`), when they are in the patient's
    language; None otherwise, and the alliance pulse is asked instead."""
    row = await uow.questionnaires.get(clinic_id, WAI_SR)
    if row is None or row.item_texts is None:
        return None
    if row.item_texts.language != i18n.language_of(language):
        return None
    return row.item_texts.texts


def _peg(language: str) -> Instrument:
    instrument = load_builtin("peg")
    if i18n.language_of(language) != "es":
        return instrument
    items = []
    for item in instrument.items:
        anchors = i18n.PEG_ANCHORS_ES.get(item.link_id, {})
        items.append(
            msgspec.structs.replace(
                item,
                text=i18n.PEG_ES.get(item.link_id, item.text),
                options=tuple(
                    msgspec.structs.replace(o, label=anchors.get(o.code, o.label))
                    for o in item.options
                ),
            )
        )
    return msgspec.structs.replace(instrument, items=tuple(items))


def _alliance(language: str, wai_sr_texts: Mapping[str, str] | None) -> Asked:
    if wai_sr_texts:
        wai_sr = with_item_texts(load_builtin("wai-sr"), wai_sr_texts)
        return Asked(
            key="wai-sr",
            url=WAI_SR,
            kind="alliance",
            instrument=wai_sr,
            canonical=wai_sr,
            language=language,
            scorer=alliance.score,
        )
    return Asked(
        key=pulse.INSTRUMENT,
        url=pulse.URL,
        kind="alliance",
        instrument=pulse.localized(i18n.language_of(language)),
        canonical=pulse.load(),
        language=language,
        scorer=pulse.score,
    )


def asked_for(
    questionnaires: Sequence[str], language: str, wai_sr_texts: Mapping[str, str] | None
) -> list[Asked]:
    """What the page asks for these questionnaire urls: the PEG first, then the alliance;
    urls Concord cannot ask (unknown ones) are left out, and a check-in left with nothing
    asks the defaults."""
    wanted = [url for url in questionnaires if url == PEG or url in ALLIANCE_URLS]
    if not wanted:
        wanted = list(DEFAULT_QUESTIONNAIRES)
    asked: list[Asked] = []
    if PEG in wanted:
        asked.append(
            Asked(
                key=peg.INSTRUMENT,
                url=PEG,
                kind="pain",
                instrument=_peg(language),
                canonical=load_builtin("peg"),
                language=language,
                scorer=peg.score,
            )
        )
    if any(url in ALLIANCE_URLS for url in wanted):
        asked.append(_alliance(language, wai_sr_texts))
    return asked


def read_answers(
    asked: Sequence[Asked], form: Mapping[str, Sequence[str]]
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Answers by questionnaire key and link id (the chosen option's code), and the
    fields that are unanswered or answered with something that is not an option, so the
    page can say which. Fields the page did not ask for are ignored."""
    answers: dict[str, dict[str, str]] = {}
    problems: dict[str, str] = {}
    for one in asked:
        codes: dict[str, str] = {}
        for item in one.instrument.items:
            name = one.field(item)
            given = [v for v in form.get(name, []) if v != ""]
            valid = {o.code for o in item.options}
            if len(given) != 1 or given[0] not in valid:
                problems[name] = "missing" if not given else "invalid"
                continue
            codes[item.link_id] = given[0]
        answers[one.key] = codes
    return answers, problems
