"""Every patient-visible text Concord ships passes the Words Matter checker: the message
templates (service/outreach.py), the patient pages' strings (service/pages/i18n.py) and
the questionnaires' titles, item texts and answer labels (domain/instruments/data).
Module-level dicts are collected whole, so a template added later is checked too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import service.outreach
import service.pages.i18n
from domain.words import check_text

DATA = Path(__file__).parents[2] / "domain" / "instruments" / "data"


def strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from strings(item, f"{where}[{index}]")


def module_texts(module: ModuleType) -> Iterator[tuple[str, str]]:
    for name, value in vars(module).items():
        if isinstance(value, dict) and not name.startswith("__"):
            yield from strings(value, f"{module.__name__}.{name}")


def questionnaire_texts() -> Iterator[tuple[str, str]]:
    def items(raw: list[dict[str, Any]], where: str) -> Iterator[tuple[str, str]]:
        for item in raw:
            here = f"{where}/{item.get('linkId')}"
            if "text" in item:
                yield here, item["text"]
            for option in item.get("answerOption", []):
                coding = option.get("valueCoding", {})
                if "display" in coding:
                    yield f"{here}/{coding.get('code')}", coding["display"]
            yield from items(item.get("item", []), here)

    for path in sorted(DATA.glob("*.json")):
        resource = json.loads(path.read_text())
        yield f"{path.name}/title", resource.get("title", "")
        yield from items(resource.get("item", []), path.name)


TEXTS = [*module_texts(service.outreach), *module_texts(service.pages.i18n),
         *questionnaire_texts()]


def test_there_are_texts_from_each_source() -> None:
    sources = {where.split(".")[0] if ".json" not in where else "json" for where, _ in TEXTS}
    assert {"service", "json"} <= sources
    assert any("_CHECK_IN" in where for where, _ in TEXTS)
    assert any("STRINGS.es" in where for where, _ in TEXTS)
    assert len([w for w, _ in TEXTS if ".json" in w]) >= 10


@pytest.mark.parametrize(("where", "text"), TEXTS, ids=[where for where, _ in TEXTS])
def test_patient_text_uses_person_first_language(where: str, text: str) -> None:
    assert check_text(text) == [], where
