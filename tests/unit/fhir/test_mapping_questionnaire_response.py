"""Stored check-in answers as FHIR R4 QuestionnaireResponses an EHR can file: the
questionnaire they answer, whose they are, each answer, and Concord's scores."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec

from domain.check_in import ALLIANCE_PULSE, PEG
from domain.instruments import alliance, peg, pulse
from domain.instruments.questionnaire import Instrument, load_builtin, with_item_texts
from fhir.mapping import extensions as ext
from fhir.mapping.questionnaire_response import questionnaire_response
from service.db.repos.responses import StoredResponse
from service.pages.fhir_response import questionnaire_response as submitted
from tests.fhir.fhir_shapes import empty_elements, valid

AUTHORED = dt.datetime(2026, 11, 21, 15, 4, tzinfo=dt.UTC)
WAI_SR = "https://concord.invalid/fhir/Questionnaire/wai-sr"


def _stored(instrument: Instrument, codes: Mapping[str, str], scores: Any,
            **changes: Any) -> StoredResponse:
    """A response as the check-in page stores it."""
    response_id, patient_id, plan_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    values: dict[str, Any] = {
        "id": response_id, "clinic_id": uuid.uuid4(), "patient_id": patient_id,
        "care_plan_id": plan_id, "check_in_id": uuid.uuid4(), "clinician_id": uuid.uuid4(),
        "questionnaire": instrument.url,
        "resource": submitted(
            response_id=response_id, instrument=instrument, canonical=instrument,
            codes=codes, patient_id=patient_id, care_plan_id=plan_id, language="en",
            authored_at=AUTHORED),
        "scores": msgspec.to_builtins(scores), "authored_at": AUTHORED,
        "created_at": AUTHORED,
    }
    return StoredResponse(**{**values, **changes})


def _peg() -> StoredResponse:
    codes = {"pain": "7", "enjoyment": "8", "activity": "6"}
    return _stored(load_builtin("peg"), codes,
                   peg.score({k: int(v) for k, v in codes.items()}))



def _scores(resource: Any) -> dict[str, Any]:
    (scores,) = [e for e in resource.extension if e.url == ext.QUESTIONNAIRE_SCORES]
    return {part.url: part.valueDecimal if part.valueDecimal is not None
            else part.valueInteger for part in scores.extension}



class TestQuestionnaireResponse:
    def test_peg_answers_the_versioned_canonical_for_the_patient(self) -> None:
        stored = _peg()
        body = questionnaire_response(stored)
        resource = valid(body)
        assert body["id"] == str(stored.id) and body["meta"]["versionId"] == "1"
        assert resource.questionnaire == f"{PEG}|1.0.0"
        assert resource.status == "completed"
        assert resource.subject.reference == f"Patient/{stored.patient_id}"
        assert resource.author.reference == f"Patient/{stored.patient_id}"
        assert body["authored"] == "2026-11-21T15:04:00+00:00"
        assert [r.reference for r in resource.basedOn] == [f"CarePlan/{stored.care_plan_id}"]
        assert empty_elements(body) == []

    def test_each_answer_is_the_questionnaires_coding_under_its_link_id(self) -> None:
        resource = valid(questionnaire_response(_peg()))
        answers = {i.linkId: i.answer[0].valueCoding for i in resource.item}
        assert {k: c.code for k, c in answers.items()} == {
            "pain": "7", "enjoyment": "8", "activity": "6"}
        assert answers["pain"].system == (
            "https://concord.invalid/fhir/CodeSystem/numeric-rating-0-10")
        assert resource.item[0].text == (
            "What number best describes your pain on average in the past week?")

    def test_peg_score_rides_as_an_extension_and_no_clinician_is_named(self) -> None:
        resource = valid(questionnaire_response(_peg()))
        assert _scores(resource) == {"pain": 7, "enjoyment": 8, "activity": 6, "total": 7.0}
        assert ext.ALLIANCE_CLINICIAN not in [e.url for e in resource.extension]

    def test_alliance_pulse_names_the_clinician_rated(self) -> None:
        codes = {"goal": "4", "task": "5", "bond": "3", "heard": "4"}
        stored = _stored(pulse.load(), codes, pulse.score({k: int(v) for k, v in codes.items()}))
        resource = valid(questionnaire_response(stored))
        assert resource.questionnaire == f"{ALLIANCE_PULSE}|1.0.0"
        assert _scores(resource)["mean"] == 4.0
        (clinician,) = [e for e in resource.extension if e.url == ext.ALLIANCE_CLINICIAN]
        assert clinician.valueReference.reference == f"Practitioner/{stored.clinician_id}"

    def test_wai_sr_carries_subscale_scores_and_the_wording_the_patient_was_shown(
        self,
    ) -> None:
        texts = {str(n): f"Clinic wording of item {n}" for n in range(1, 13)}
        instrument = with_item_texts(load_builtin("wai-sr"), texts)
        codes = {str(n): "4" if n in (4, 6, 8, 11) else "3" for n in range(1, 13)}
        stored = _stored(instrument, codes,
                         alliance.score({k: int(v) for k, v in codes.items()}))
        resource = valid(questionnaire_response(stored))
        assert resource.questionnaire == f"{WAI_SR}|1.0.0"
        scores = _scores(resource)
        assert (scores["goal"], scores["task"], scores["bond"]) == (4.0, 3.0, 3.0)
        assert scores["item_count"] == 12
        assert {i.linkId: i.text for i in resource.item} == texts
        assert ext.ALLIANCE_CLINICIAN in [e.url for e in resource.extension]

    def test_identity_comes_from_the_stored_columns_not_the_stored_body(self) -> None:
        stored = _peg()
        tampered = {**stored.resource, "subject": {"reference": "Patient/someone-else"},
                    "id": "other"}
        body = questionnaire_response(msgspec.structs.replace(stored, resource=tampered))
        assert body["id"] == str(stored.id)
        assert body["subject"] == {"reference": f"Patient/{stored.patient_id}"}

    def test_without_plan_scores_or_clinician_nothing_empty_is_left(self) -> None:
        stored = msgspec.structs.replace(_peg(), care_plan_id=None, clinician_id=None,
                                         scores={}, created_at=None)
        body = questionnaire_response(stored)
        valid(body)
        assert "basedOn" not in body and "extension" not in body
        assert body["meta"] == {"versionId": "1"}
        assert empty_elements(body) == []

    def test_blank_or_unknown_parts_of_a_stored_body_are_dropped(self) -> None:
        stored = _peg()
        items = [
            {"linkId": "pain", "text": "", "answer": [
                {"valueCoding": {"system": "", "code": "7", "display": "7"}, "valueString": ""},
                {"valueCoding": {}}]},
            {"text": "no link id"},
            "not an item",
        ]
        body = questionnaire_response(msgspec.structs.replace(
            stored, resource={"item": items, "questionnaire": "https://elsewhere/Q|9"}))
        resource = valid(body)
        assert body["item"] == [{"linkId": "pain", "answer": [
            {"valueCoding": {"code": "7", "display": "7"}}]}]
        # A stored canonical naming another questionnaire is not trusted.
        assert resource.questionnaire == PEG
        assert empty_elements(body) == []
