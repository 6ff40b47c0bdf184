"""What Concord needs from a FHIR Questionnaire, and where the definitions come from.

An instrument is a FHIR R4 Questionnaire. Concord reads only what it needs to show and score
one: its canonical url and version, its name and title, its items (link id, text, and the
answer options with the score each one carries) and its terms of use. The subset read, and
what each part means here:

* `url`, `version`, `name`, `title`: required, non-blank.
* `copyright`: required, the terms of use of the instrument, in words. Every instrument --
  built-in or a clinic's own -- records its terms beside it.
* extension `instrument-terms-url` (valueUri): where those terms are published, optional.
* extension `instrument-requires-permission` (valueBoolean): the instrument may only be used
  by a clinic that has recorded written permission from its owner (PROMIS, for one); it
  stays off until then. Absent means false.
* `item`: one or more, flat (no groups, no nested items), each of `type` `choice` with a
  unique `linkId`, an optional `text` and one or more `answerOption`. Each option is a
  `valueCoding` (code and display required) whose score is the standard `ordinalValue`
  extension (valueDecimal, a whole number); codes and scores are unique within the item.
  Anything else in the resource is ignored here (the FHIR layer validates the full resource).

An item without `text` is one whose published wording Concord may not ship (see
`data/TERMS.md`): its clinic loads the wording from its own licensed copy with
`with_item_texts`, and until every item has a text the instrument cannot be given to a
patient (`is_available` is False).

The built-in definitions are `data/<id>.json`, read with importlib.resources; a clinic's own
questionnaire goes through the same parser (`parse_questionnaire`), so it is held to the
same rules. Bad input raises `domain.errors.Invalid` naming the offending field, e.g.
`item[2].answerOption[0]` or `texts.7`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from importlib import resources

import msgspec

from domain.errors import Invalid

EXTENSION_BASE = "https://concord.invalid/fhir/StructureDefinition"
"""Concord's own extensions; the same base as `fhir/mapping/extensions.py` (which `domain`
cannot import)."""
TERMS_URL_EXTENSION = f"{EXTENSION_BASE}/instrument-terms-url"
REQUIRES_PERMISSION_EXTENSION = f"{EXTENSION_BASE}/instrument-requires-permission"
ORDINAL_VALUE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
"""FHIR R4 core extension: the score of an answer option (R5 calls it itemWeight)."""

BUILTINS: tuple[str, ...] = ("peg", "wai-sr")
"""The built-in instruments by Questionnaire.id, each shipped as `data/<id>.json`."""

MAX_ITEMS = 200
MAX_OPTIONS = 101
MAX_TEXT_LENGTH = 2000
MAX_LINK_ID_LENGTH = 255  # FHIR R4: linkId is a string of at most 255 characters


# --- The model ----------------------------------------------------------------------------


class AnswerOption(msgspec.Struct, frozen=True, kw_only=True):
    """One answer a patient can give to an item, and the score it carries."""

    code: str
    """The option's code (Coding.code), what a QuestionnaireResponse answers with."""
    value: int
    """The score of the option (its `ordinalValue`), what scoring works with."""
    label: str
    """What the patient sees (Coding.display)."""


class Item(msgspec.Struct, frozen=True, kw_only=True):
    link_id: str
    text: str | None
    """The item's wording, or None when it is to be loaded by the clinic (licensed text)."""
    options: tuple[AnswerOption, ...]

    def value_of(self, code: str) -> int:
        """The score of the option with this code; `Invalid` naming the item otherwise."""
        for option in self.options:
            if option.code == code:
                return option.value
        raise Invalid(
            f"answers.{self.link_id}", f"{code!r} is not one of the item's answer options"
        )


class Terms(msgspec.Struct, frozen=True, kw_only=True):
    """An instrument's terms of use: what they say, and where they are published."""

    text: str
    url: str | None = None


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    """Canonical url of the Questionnaire."""
    version: str
    name: str
    title: str
    items: tuple[Item, ...]
    terms: Terms
    requires_permission: bool
    """True for an instrument a clinic may use only once it has recorded written permission
    from the owner (e.g. PROMIS); such an instrument stays off until then."""
    texts_loaded: bool
    """True when every item has its text; False while licensed texts are still to be loaded
    by the clinic. Always equal to `all(item.text is not None for item in items)`."""

    def __post_init__(self) -> None:
        complete = all(item.text is not None for item in self.items)
        if self.texts_loaded != complete:
            raise Invalid(
                "texts_loaded",
                f"is {self.texts_loaded} but {'every' if complete else 'not every'} "
                "item has a text",
            )

    @property
    def link_ids(self) -> tuple[str, ...]:
        return tuple(item.link_id for item in self.items)

    def item(self, link_id: str) -> Item:
        """The item with this link id; `Invalid` naming it when there is none."""
        for item in self.items:
            if item.link_id == link_id:
                return item
        raise Invalid(f"answers.{link_id}", f"{self.name} has no item with this link id")

    def answer_value(self, link_id: str, code: str) -> int:
        """The score of answering `code` to the item `link_id`, as scoring functions take it."""
        return self.item(link_id).value_of(code)


def is_available(instrument: Instrument, clinic_has_permission: bool) -> bool:
    """Whether a clinic can give this instrument to patients now.

    Only when every item has its text (licensed texts loaded, see `with_item_texts`) and,
    for an instrument that requires written permission from its owner, only once the clinic
    has recorded that permission.
    """
    if not instrument.texts_loaded:
        return False
    return clinic_has_permission or not instrument.requires_permission


def with_item_texts(instrument: Instrument, texts: Mapping[str, str]) -> Instrument:
    """The instrument with item texts loaded by a clinic from its own licensed copy.

    `texts` maps link ids to wording. Every key must be a link id of the instrument and
    every value non-blank text (surrounding whitespace is dropped); a text given for an item
    that already has one replaces it (a licensed translation, say). After loading, every
    item must have a text: a clinic loads a complete instrument or none.

    Raises:
        Invalid: field `texts` when it is not a mapping, `texts.<link id>` for an unknown
            link id, a blank or over-long text, or an item left without one.
    """
    if not isinstance(texts, Mapping):
        raise Invalid("texts", "must map item link ids to their texts")
    known = set(instrument.link_ids)
    loaded: dict[str, str] = {}
    for link_id, text in texts.items():
        if not isinstance(link_id, str) or link_id not in known:
            raise Invalid(f"texts.{link_id}", f"{instrument.name} has no item with this link id")
        loaded[link_id] = _require_text(f"texts.{link_id}", text)
    items = tuple(
        msgspec.structs.replace(item, text=loaded[item.link_id]) if item.link_id in loaded else item
        for item in instrument.items
    )
    missing = [item.link_id for item in items if item.text is None]
    if missing:
        raise Invalid(
            f"texts.{missing[0]}",
            f"every item needs a text; still missing for link ids {', '.join(missing)}",
        )
    return msgspec.structs.replace(instrument, items=items, texts_loaded=True)


def checked_answers(
    answers: Mapping[str, int], link_ids: Sequence[str], lowest: int, highest: int
) -> dict[str, int]:
    """Every one of `link_ids` answered with a whole number in lowest..highest, nothing else.

    Shared by the scoring functions. Raises `Invalid` with field `answers` when `answers` is
    not a mapping, or `answers.<link id>` for an unknown, missing or out-of-range answer.
    """
    if not isinstance(answers, Mapping):
        raise Invalid("answers", "must map item link ids to answer values")
    for key in answers:
        if key not in link_ids:
            raise Invalid(f"answers.{key}", "not an item of this instrument")
    checked: dict[str, int] = {}
    for link_id in link_ids:
        if link_id not in answers:
            raise Invalid(f"answers.{link_id}", "missing: every item must be answered")
        value = answers[link_id]
        if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
            raise Invalid(
                f"answers.{link_id}", f"must be a whole number {lowest}..{highest}, got {value!r}"
            )
        checked[link_id] = value
    return checked


# --- Reading a FHIR Questionnaire ------------------------------------------------------------


class _Coding(msgspec.Struct, rename="camel"):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class _Extension(msgspec.Struct, rename="camel"):
    url: str
    value_boolean: bool | None = None
    value_uri: str | None = None
    value_decimal: float | None = None


class _AnswerOption(msgspec.Struct, rename="camel"):
    value_coding: _Coding | None = None
    extension: list[_Extension] = []


class _Item(msgspec.Struct, rename="camel"):
    link_id: str
    type: str
    text: str | None = None
    answer_option: list[_AnswerOption] = []
    item: list[object] = []


class _Questionnaire(msgspec.Struct, rename="camel"):
    resource_type: str
    url: str | None = None
    version: str | None = None
    name: str | None = None
    title: str | None = None
    copyright: str | None = None
    extension: list[_Extension] = []
    item: list[_Item] = []


_ERROR_PATH = re.compile(r" - at `\$\.?(?P<path>.*)`$")
_MISSING_FIELD = re.compile(r"missing required field `(?P<name>[^`]+)`")


def _error_field(message: str) -> str:
    """The FHIR path msgspec names in a validation error, e.g. `item[0].linkId`."""
    at = _ERROR_PATH.search(message)
    path = at["path"] if at else ""
    missing = _MISSING_FIELD.search(message)
    if missing:
        path = f"{path}.{missing['name']}" if path else missing["name"]
    return path or "questionnaire"


def parse_questionnaire(source: bytes | str | Mapping[str, object]) -> Instrument:
    """Read an instrument from a FHIR R4 Questionnaire (JSON text, or JSON already decoded).

    The rules are in this module's docstring. Raises `Invalid` naming the offending field.
    """
    try:
        if isinstance(source, bytes | str):
            raw = msgspec.json.decode(source, type=_Questionnaire)
        else:
            raw = msgspec.convert(source, type=_Questionnaire)
    except msgspec.ValidationError as exc:
        raise Invalid(_error_field(str(exc)), str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise Invalid("questionnaire", f"not valid JSON: {exc}") from exc

    if raw.resource_type != "Questionnaire":
        raise Invalid("resourceType", f"must be 'Questionnaire', got {raw.resource_type!r}")
    url = _require_text("url", raw.url)
    version = _require_text("version", raw.version)
    name = _require_text("name", raw.name)
    title = _require_text("title", raw.title)
    terms_text = _require_text("copyright", raw.copyright, max_length=10_000)

    terms_url: str | None = None
    requires_permission = False
    for index, extension in enumerate(raw.extension):
        field = f"extension[{index}]"
        if extension.url == TERMS_URL_EXTENSION:
            terms_url = _require_text(f"{field}.valueUri", extension.value_uri)
        elif extension.url == REQUIRES_PERMISSION_EXTENSION:
            if extension.value_boolean is None:
                raise Invalid(f"{field}.valueBoolean", "required for this extension")
            requires_permission = extension.value_boolean

    if not raw.item:
        raise Invalid("item", "a questionnaire needs at least one item")
    if len(raw.item) > MAX_ITEMS:
        raise Invalid("item", f"at most {MAX_ITEMS} items, got {len(raw.item)}")
    items: list[Item] = []
    seen: set[str] = set()
    for index, raw_item in enumerate(raw.item):
        item = _item(f"item[{index}]", raw_item)
        if item.link_id in seen:
            raise Invalid(f"item[{index}].linkId", f"{item.link_id!r} is used twice")
        seen.add(item.link_id)
        items.append(item)

    return Instrument(
        url=url,
        version=version,
        name=name,
        title=title,
        items=tuple(items),
        terms=Terms(text=terms_text, url=terms_url),
        requires_permission=requires_permission,
        texts_loaded=all(item.text is not None for item in items),
    )


def _item(field: str, raw: _Item) -> Item:
    link_id = _require_text(f"{field}.linkId", raw.link_id, max_length=MAX_LINK_ID_LENGTH)
    if link_id != raw.link_id:
        raise Invalid(f"{field}.linkId", "must not start or end with whitespace")
    if raw.item:
        raise Invalid(f"{field}.item", "nested items are not supported")
    if raw.type != "choice":
        raise Invalid(f"{field}.type", f"only 'choice' items are supported, got {raw.type!r}")
    text = None if raw.text is None else _require_text(f"{field}.text", raw.text)
    if not raw.answer_option:
        raise Invalid(f"{field}.answerOption", "a choice item needs answer options")
    if len(raw.answer_option) > MAX_OPTIONS:
        raise Invalid(f"{field}.answerOption", f"at most {MAX_OPTIONS} options")
    options: list[AnswerOption] = []
    codes: set[str] = set()
    values: set[int] = set()
    for index, raw_option in enumerate(raw.answer_option):
        option = _option(f"{field}.answerOption[{index}]", raw_option)
        if option.code in codes:
            raise Invalid(f"{field}.answerOption[{index}]", f"code {option.code!r} used twice")
        if option.value in values:
            raise Invalid(f"{field}.answerOption[{index}]", f"score {option.value} used twice")
        codes.add(option.code)
        values.add(option.value)
        options.append(option)
    return Item(link_id=link_id, text=text, options=tuple(options))


def _option(field: str, raw: _AnswerOption) -> AnswerOption:
    if raw.value_coding is None:
        raise Invalid(f"{field}.valueCoding", "each answer option must be a Coding")
    code = _require_text(f"{field}.valueCoding.code", raw.value_coding.code, max_length=255)
    label = _require_text(f"{field}.valueCoding.display", raw.value_coding.display)
    scores = [e for e in raw.extension if e.url == ORDINAL_VALUE_EXTENSION]
    if len(scores) != 1 or scores[0].value_decimal is None:
        raise Invalid(
            f"{field}.extension",
            f"needs exactly one {ORDINAL_VALUE_EXTENSION} extension with a valueDecimal",
        )
    score = scores[0].value_decimal
    if not math.isfinite(score) or score != int(score) or abs(score) > 1_000_000:
        raise Invalid(f"{field}.extension", f"the score must be a whole number, got {score!r}")
    return AnswerOption(code=code, value=int(score), label=label)


def _require_text(field: str, value: object, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(field, "required, and must not be blank")
    if len(value) > max_length:
        raise Invalid(field, f"at most {max_length} characters, got {len(value)}")
    return value.strip()


# --- The built-in definitions ----------------------------------------------------------------


def read_builtin(name: str) -> bytes:
    """The shipped FHIR Questionnaire JSON of a built-in instrument, as published to EHRs."""
    if name not in BUILTINS:
        raise Invalid("name", f"no built-in instrument {name!r}; there are {', '.join(BUILTINS)}")
    return (resources.files("domain.instruments") / "data" / f"{name}.json").read_bytes()


@functools.cache
def load_builtin(name: str) -> Instrument:
    """A built-in instrument by its Questionnaire.id (`peg`, `wai-sr`), parsed once."""
    return parse_questionnaire(read_builtin(name))
