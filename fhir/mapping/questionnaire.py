"""The questionnaires a clinic gives its patients, as FHIR R4 Questionnaires.

Two kinds, one row each in `clinic_questionnaires` (`ClinicQuestionnaire`) when the clinic
has done something with them:

* The instruments Concord ships (`SHIPPED`: the PEG, the WAI-SR, the Concord alliance
  pulse), served as their shipped definition. Their id is the shipped Questionnaire.id.
  The WAI-SR ships without its item wording (its terms do not allow Concord to); a clinic
  that loaded the wording from its own licensed copy gets it in `item.text`, marked with
  the core `language` extension when it is not in the definition's language. Loaded
  wording only ever fills an item Concord ships without text: an item's shipped text is
  what patients are asked, so it is what the Questionnaire says. A clinic that loaded
  nothing gets the items without text, never another clinic's.
* A clinic's own Questionnaire, stored as the clinic posted it. What is served is rebuilt
  from what Concord read and checked of it (`parse_questionnaire`) plus its plain
  descriptive elements, so that a stored body with elements FHIR would reject cannot
  make an invalid resource. Its id is derived from its canonical url (`questionnaire_id`),
  so it is stable without a lookup and never one of the shipped ids.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from domain.instruments import alliance, peg, pulse
from domain.instruments.questionnaire import (
    ORDINAL_VALUE_EXTENSION,
    REQUIRES_PERMISSION_EXTENSION,
    TERMS_URL_EXTENSION,
    Instrument,
    Item,
    parse_questionnaire,
    read_builtin,
)
from service.db.repos.questionnaires import ClinicQuestionnaire, LoadedTexts

SHIPPED: Mapping[str, Callable[[], bytes]] = {
    peg.INSTRUMENT: functools.partial(read_builtin, peg.INSTRUMENT),
    alliance.INSTRUMENT: functools.partial(read_builtin, alliance.INSTRUMENT),
    pulse.INSTRUMENT: pulse.read,
}
"""The shipped definitions by Questionnaire.id."""

LANGUAGE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/language"
"""FHIR core extension: the language of one element when it differs from the resource's."""
DEFINITION_LANGUAGE = "en"
"""The language of a shipped definition that does not state one."""
STATUSES = frozenset({"draft", "active", "retired", "unknown"})
_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_URI = re.compile(r"\S+")


@functools.cache
def shipped_urls() -> Mapping[str, str]:
    """Questionnaire.id of each shipped definition by its canonical url."""
    return {_decode(name)["url"]: name for name in SHIPPED}


def questionnaire_id(url: str) -> str:
    """The id of the Questionnaire at this canonical url: the shipped id for a shipped
    instrument, otherwise a name-based UUID of the url."""
    return shipped_urls().get(url) or str(uuid.uuid5(uuid.NAMESPACE_URL, url))


def questionnaire(url: str, row: ClinicQuestionnaire | None = None) -> dict[str, Any] | None:
    """The Questionnaire at `url` for a clinic whose row for that url is `row` (None if it
    has none); None when it is neither shipped nor the clinic's own."""
    name = shipped_urls().get(url)
    if name is not None:
        return shipped_questionnaire(name, row)
    if row is not None and row.url == url and row.resource is not None:
        return clinic_questionnaire(row)
    return None


def questionnaires(rows: Iterable[ClinicQuestionnaire]) -> list[dict[str, Any]]:
    """Every Questionnaire of a clinic with these rows: the shipped ones, then its own."""
    by_url = {row.url: row for row in rows}
    found = [shipped_questionnaire(name, by_url.pop(url, None))
             for url, name in shipped_urls().items()]
    found += [clinic_questionnaire(row) for row in by_url.values() if row.resource is not None]
    return found


def shipped_questionnaire(name: str, row: ClinicQuestionnaire | None = None) -> dict[str, Any]:
    """A shipped instrument (`name` one of `SHIPPED`) with what the clinic loaded for it.

    Its version goes up with each change to the clinic's row (texts loaded, permission
    recorded), the definition alone being version 1."""
    definition = _decode(name)
    if row is not None and row.url != definition["url"]:
        raise ValueError(f"the row is for {row.url}, not {definition['url']}")
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": name,
        "meta": {"versionId": str(1 if row is None else row.row_version + 1)},
    }
    resource.update((k, v) for k, v in definition.items() if k not in resource)
    if row is not None and row.item_texts is not None:
        language = definition.get("language", DEFINITION_LANGUAGE)
        resource["item"] = [_with_loaded_text(item, row.item_texts, language)
                            for item in definition["item"]]
    return resource


def clinic_questionnaire(row: ClinicQuestionnaire) -> dict[str, Any]:
    """A clinic's own Questionnaire (`row.resource` set)."""
    if row.resource is None:
        raise ValueError(f"the row for {row.url} is about a shipped instrument")
    raw = row.resource
    instrument = parse_questionnaire(raw)
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(instrument.url),
        "meta": {"versionId": str(row.row_version)},
    }
    language = raw.get("language")
    if isinstance(language, str) and _LANGUAGE_CODE.fullmatch(language):
        resource["language"] = language
    resource["extension"] = _terms_extensions(instrument)
    resource.update(url=instrument.url, version=instrument.version, name=instrument.name,
                    title=instrument.title)
    status = raw.get("status")
    resource["status"] = status if status in STATUSES else "active"
    subjects = raw.get("subjectType")
    if isinstance(subjects, list) and subjects and all(_is_code(s) for s in subjects):
        resource["subjectType"] = subjects
    for key in ("publisher", "description", "purpose"):
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            resource[key] = value.strip()
    resource["copyright"] = instrument.terms.text
    raw_items = raw.get("item")
    resource["item"] = [_own_item(item, _at(raw_items, i)) for i, item in
                        enumerate(instrument.items)]
    return resource


@functools.cache
def _shipped_bytes(name: str) -> bytes:
    return SHIPPED[name]()


def _decode(name: str) -> dict[str, Any]:
    """A fresh copy of the shipped definition, which the caller may change."""
    definition: dict[str, Any] = msgspec.json.decode(_shipped_bytes(name))
    return definition


def _with_loaded_text(item: dict[str, Any], loaded: LoadedTexts,
                      language: str) -> dict[str, Any]:
    text = loaded.texts.get(item["linkId"], "").strip()
    if item.get("text") or not text:
        return item
    wording: dict[str, Any] = {"text": text}
    if loaded.language != language:
        wording["_text"] = {"extension": [
            {"url": LANGUAGE_EXTENSION, "valueCode": loaded.language}]}
    # FHIR's element order puts the text just before the type.
    head = {k: v for k, v in item.items() if k in ("extension", "linkId")}
    return {**head, **wording, **{k: v for k, v in item.items() if k not in head}}


def _terms_extensions(instrument: Instrument) -> list[dict[str, Any]]:
    extensions: list[dict[str, Any]] = []
    if instrument.terms.url:
        extensions.append({"url": TERMS_URL_EXTENSION, "valueUri": instrument.terms.url})
    extensions.append({"url": REQUIRES_PERMISSION_EXTENSION,
                       "valueBoolean": instrument.requires_permission})
    return extensions


def _own_item(item: Item, raw: object) -> dict[str, Any]:
    entry: dict[str, Any] = {"linkId": item.link_id}
    if item.text is not None:
        entry["text"] = item.text
    entry["type"] = "choice"
    required = raw.get("required") if isinstance(raw, dict) else None
    if isinstance(required, bool):
        entry["required"] = required
    raw_options = raw.get("answerOption") if isinstance(raw, dict) else None
    options = []
    for index, option in enumerate(item.options):
        coding: dict[str, Any] = {}
        system = _at(raw_options, index, "valueCoding", "system")
        if isinstance(system, str) and _URI.fullmatch(system):
            coding["system"] = system
        coding.update(code=option.code, display=option.label)
        options.append({
            "extension": [{"url": ORDINAL_VALUE_EXTENSION, "valueDecimal": option.value}],
            "valueCoding": coding,
        })
    entry["answerOption"] = options
    return entry


def _at(value: object, index: int, *keys: str) -> object:
    """`value[index][key]...`, or None where the stored JSON has no such element."""
    found: object = value[index] if isinstance(value, list) and index < len(value) else None
    for key in keys:
        found = found.get(key) if isinstance(found, dict) else None
    return found


def _is_code(value: object) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"[A-Za-z]+", value))
