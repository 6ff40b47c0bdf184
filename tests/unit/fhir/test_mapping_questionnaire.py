"""A clinic's questionnaires as FHIR R4 Questionnaires: the shipped instruments with what
the clinic loaded for them (and nothing it did not), and its own."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from domain.instruments.questionnaire import REQUIRES_PERMISSION_EXTENSION, read_builtin
from fhir.mapping.questionnaire import (
    LANGUAGE_EXTENSION,
    clinic_questionnaire,
    questionnaire,
    questionnaire_id,
    questionnaires,
    shipped_questionnaire,
)
from service.db.repos.questionnaires import ClinicQuestionnaire, LoadedTexts
from tests.fhir.fhir_shapes import empty_elements, valid

BASE = "https://concord.invalid/fhir/Questionnaire"
WAI_SR = f"{BASE}/wai-sr"
OWN = "https://clinic.example/fhir/Questionnaire/sleep"
WAI_SR_TEXTS = {str(n): f"Clinic wording of item {n}" for n in range(1, 13)}


def _row(url: str, *, texts: dict[str, str] | None = None, language: str = "en",
         resource: dict[str, Any] | None = None, row_version: int = 1) -> ClinicQuestionnaire:
    return ClinicQuestionnaire(
        url=url, version="1.0.0", resource=resource,
        item_texts=None if texts is None else LoadedTexts(
            language=language, terms_note="Licensed copy, letter of 2026-03-02", texts=texts),
        permission_recorded_at=None, permission_note=None, row_version=row_version)


def _own(**changes: Any) -> dict[str, Any]:
    option = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                             "valueDecimal": 0}],
              "valueCoding": {"system": "https://clinic.example/cs/sleep", "code": "0",
                              "display": "Not at all"}}
    other = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                            "valueDecimal": 1}],
             "valueCoding": {"code": "1", "display": "A lot"}}
    return {
        "resourceType": "Questionnaire", "id": "peg", "url": OWN, "version": "2",
        "name": "Sleep", "title": "Sleep and pain", "status": "draft",
        "subjectType": ["Patient"], "description": "How pain got in the way of sleep.",
        "copyright": "Written by the clinic.",
        "item": [{"linkId": "night", "text": "Did pain wake you at night?", "type": "choice",
                  "required": True, "answerOption": [option, other]}],
        **changes,
    }




class TestShippedQuestionnaire:
    @pytest.mark.parametrize("name", ["peg", "wai-sr", "concord-alliance-pulse"])
    def test_serves_the_shipped_definition_under_its_id(self, name: str) -> None:
        body = shipped_questionnaire(name)
        resource = valid(body)
        assert resource.id == name and resource.url == f"{BASE}/{name}"
        assert resource.version == "1.0.0" and resource.status == "active"
        assert body["meta"] == {"versionId": "1"}
        assert empty_elements(body) == []

    def test_wai_sr_has_no_item_text_until_the_clinic_loads_its_own(self) -> None:
        for row in (None, _row(WAI_SR)):  # a row with only a permission recorded
            body = shipped_questionnaire("wai-sr", row)
            valid(body)
            assert [i for i in body["item"] if "text" in i] == []

    def test_wai_sr_carries_the_wording_the_clinic_loaded(self) -> None:
        body = shipped_questionnaire("wai-sr", _row(WAI_SR, texts=WAI_SR_TEXTS, row_version=2))
        resource = valid(body)
        assert {i.linkId: i.text for i in resource.item} == WAI_SR_TEXTS
        assert body["meta"] == {"versionId": "3"}
        assert "_text" not in body["item"][0]
        assert resource.item[0].answerOption[0].valueCoding.display == "Seldom"

    def test_wording_in_another_language_is_marked_as_such(self) -> None:
        texts = {k: f"Redacción de la clínica {k}" for k in WAI_SR_TEXTS}
        body = shipped_questionnaire("wai-sr", _row(WAI_SR, texts=texts, language="es"))
        resource = valid(body)
        (marker,) = resource.item[0].text__ext.extension
        assert (marker.url, marker.valueCode) == (LANGUAGE_EXTENSION, "es")

    def test_loaded_wording_never_replaces_a_shipped_text(self) -> None:
        peg_url = f"{BASE}/peg"
        body = shipped_questionnaire("peg", _row(peg_url, texts={"pain": "Other words"}))
        assert body["item"][0]["text"] == json.loads(read_builtin("peg"))["item"][0]["text"]

    def test_a_row_for_another_questionnaire_is_refused(self) -> None:
        with pytest.raises(ValueError):
            shipped_questionnaire("peg", _row(WAI_SR, texts=WAI_SR_TEXTS))

    def test_each_call_is_a_fresh_copy(self) -> None:
        shipped_questionnaire("wai-sr", _row(WAI_SR, texts=WAI_SR_TEXTS))["item"][0]["x"] = 1
        assert [i for i in shipped_questionnaire("wai-sr")["item"] if "text" in i or "x" in i] \
            == []

    def test_the_clinics_permission_note_is_not_published(self) -> None:
        row = ClinicQuestionnaire(
            url=WAI_SR, version="1.0.0", resource=None, item_texts=None,
            permission_recorded_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            permission_note="Written permission from the owner", row_version=1)
        body = shipped_questionnaire("wai-sr", row)
        assert "Written permission" not in json.dumps(body)
        assert "Licensed copy" not in json.dumps(
            shipped_questionnaire("wai-sr", _row(WAI_SR, texts=WAI_SR_TEXTS)))


class TestClinicQuestionnaire:
    def test_serves_the_clinics_own_under_an_id_derived_from_its_url(self) -> None:
        body = clinic_questionnaire(_row(OWN, resource=_own(), row_version=4))
        resource = valid(body)
        assert resource.id == str(uuid.uuid5(uuid.NAMESPACE_URL, OWN)) != "peg"
        assert (resource.url, resource.version, resource.status) == (OWN, "2", "draft")
        assert body["meta"] == {"versionId": "4"}
        (item,) = resource.item
        assert (item.linkId, item.text, item.required) == (
            "night", "Did pain wake you at night?", True)
        codings = [o.valueCoding for o in item.answerOption]
        assert [(c.system, c.code) for c in codings] == [
            ("https://clinic.example/cs/sleep", "0"), (None, "1")]
        assert [o.extension[0].valueDecimal for o in item.answerOption] == [0, 1]
        assert {e.url: e.valueBoolean for e in resource.extension}[
            REQUIRES_PERMISSION_EXTENSION] is False
        assert empty_elements(body) == []

    def test_elements_fhir_would_reject_are_not_served(self) -> None:
        stored = _own(status="published", date="last week", language="not a language!",
                      subjectType=["Patient", ""], publisher="  ", unknownElement=1)
        body = clinic_questionnaire(_row(OWN, resource=stored))
        valid(body)
        assert body["status"] == "active"
        for absent in ("date", "language", "subjectType", "publisher", "unknownElement"):
            assert absent not in body

    def test_a_row_about_a_shipped_instrument_is_refused(self) -> None:
        with pytest.raises(ValueError):
            clinic_questionnaire(_row(WAI_SR, texts=WAI_SR_TEXTS))


class TestQuestionnaireId:
    def test_shipped_instruments_keep_their_ids(self) -> None:
        assert [questionnaire_id(f"{BASE}/{n}") for n in
                ("peg", "wai-sr", "concord-alliance-pulse")] == [
                    "peg", "wai-sr", "concord-alliance-pulse"]

    def test_a_clinics_own_id_is_stable_and_distinct(self) -> None:
        assert questionnaire_id(OWN) == questionnaire_id(OWN) != questionnaire_id(OWN + "2")
        assert questionnaire_id(f"{BASE}/peg/") not in ("peg", questionnaire_id(OWN))


class TestQuestionnaire:
    def test_finds_the_shipped_or_the_clinics_own_by_url(self) -> None:
        shipped = questionnaire(WAI_SR, _row(WAI_SR, texts=WAI_SR_TEXTS))
        assert shipped is not None and shipped["item"][0]["text"] == WAI_SR_TEXTS["1"]
        own = questionnaire(OWN, _row(OWN, resource=_own()))
        assert own is not None and own["url"] == OWN
        assert questionnaire("https://unknown.example/Q", None) is None
        assert questionnaire(OWN, None) is None


class TestQuestionnaires:
    def test_lists_the_shipped_then_the_clinics_own_once_each(self) -> None:
        rows = [
            _row(OWN, resource=_own()),
            _row(WAI_SR, texts=WAI_SR_TEXTS),
            # A clinic's own posted at a shipped url does not shadow the shipped one.
            _row(f"{BASE}/concord-alliance-pulse",
                 resource=_own(url=f"{BASE}/concord-alliance-pulse")),
        ]
        found = questionnaires(rows)
        for body in found:
            valid(body)
        assert [q["id"] for q in found] == [
            "peg", "wai-sr", "concord-alliance-pulse", questionnaire_id(OWN)]
        assert found[1]["item"][0]["text"] == WAI_SR_TEXTS["1"]
        assert found[2]["title"] != "Sleep and pain"

    def test_a_clinic_with_no_rows_gets_the_shipped_without_licensed_texts(self) -> None:
        found = questionnaires([])
        assert [q["id"] for q in found] == ["peg", "wai-sr", "concord-alliance-pulse"]
        assert all("text" not in i for i in found[1]["item"])

