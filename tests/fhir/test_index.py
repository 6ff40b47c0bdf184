"""The search index of one resource, for resources shaped like the HL7 R4 examples."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fhir.search.index import IndexEntry, date_range, entries

BASE = "https://concord.example/fhir"
UTC = dt.UTC


def day(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def rows(resource: dict[str, Any], param: str) -> list[IndexEntry]:
    return [e for e in entries(resource, BASE) if e.param == param]


def tokens(resource: dict[str, Any], param: str) -> set[tuple[str | None, str | None]]:
    return {(e.system, e.code) for e in rows(resource, param)}


def refs(resource: dict[str, Any], param: str) -> set[str | None]:
    return {e.ref for e in rows(resource, param)}


def texts(resource: dict[str, Any], param: str) -> set[str | None]:
    return {e.value for e in rows(resource, param)}


def spans(resource: dict[str, Any], param: str) -> set[tuple[Any, Any]]:
    return {(e.lo, e.hi) for e in rows(resource, param)}


PATIENT_EXAMPLE: dict[str, Any] = {  # Patient/example, trimmed
    "resourceType": "Patient", "id": "example",
    "identifier": [{"use": "usual", "type": {"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
        "system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345",
        "period": {"start": "2001-05-06"}}],
    "active": True,
    "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
             {"use": "usual", "given": ["Jim"]},
             {"use": "maiden", "family": "Windsor", "given": ["Peter", "James"],
              "period": {"end": "2002"}}],
    "gender": "male", "birthDate": "1974-12-25",
}

CAREPLAN_EXAMPLE: dict[str, Any] = {  # CarePlan/example, trimmed
    "resourceType": "CarePlan", "id": "example",
    "contained": [{"resourceType": "Condition", "id": "p1", "code": {"text": "Obesity"},
                   "subject": {"reference": "Patient/example"}}],
    "identifier": [{"value": "12345"}],
    "status": "active", "intent": "plan",
    "category": [{"text": "Weight management plan"}],
    "subject": {"reference": "Patient/example", "display": "Peter James Chalmers"},
    "period": {"end": "2017-06-01"},
    "author": {"reference": "Practitioner/example"},
    "careTeam": [{"reference": "CareTeam/example"}],
    "addresses": [{"reference": "#p1", "display": "obesity"}],
    "goal": [{"reference": "Goal/example"}],
    "activity": [{"detail": {"code": {"coding": [
        {"system": "http://loinc.org", "code": "3141-9"},
        {"system": "http://snomed.info/sct", "code": "27113001"}]}, "status": "completed"}}],
}

MEDICATION_STATEMENT_EXAMPLE001: dict[str, Any] = {
    "resourceType": "MedicationStatement", "id": "example001",
    "contained": [{"resourceType": "Medication", "id": "med0309", "code": {"coding": [
        {"system": "http://hl7.org/fhir/sid/ndc", "code": "50580-506-02",
         "display": "Tylenol PM"}]}}],
    "identifier": [{"use": "official", "system": "http://www.bmc.nl/portal/medstatements",
                    "value": "12345689"}],
    "status": "active",
    "category": {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/medication-statement-category",
        "code": "inpatient"}]},
    "medicationReference": {"reference": "#med0309"},
    "subject": {"reference": "Patient/pat1", "display": "Donald Duck"},
    "effectiveDateTime": "2015-01-23",
    "informationSource": {"reference": "Patient/pat1"},
}

QUESTIONNAIRE_RESPONSE_3141: dict[str, Any] = {
    "resourceType": "QuestionnaireResponse", "id": "3141",
    "contained": [{"resourceType": "Patient", "id": "patsub", "gender": "male"}],
    "identifier": {"system": "http://example.org/fhir/NamingSystem/questionnaire-ids",
                   "value": "Q12349876"},
    "status": "completed",
    "subject": {"reference": "#patsub"},
    "authored": "2013-02-19T14:15:00-05:00",
    "questionnaire": "http://hl7.org/fhir/Questionnaire/3141|3.0",
}


class TestPatient:
    def test_identifier_name_parts_birthdate_and_gender(self) -> None:
        assert tokens(PATIENT_EXAMPLE, "identifier") == {
            ("urn:oid:1.2.36.146.595.217.0.1", "12345")}
        assert texts(PATIENT_EXAMPLE, "name") == {"Chalmers", "Peter", "James", "Jim", "Windsor"}
        assert texts(PATIENT_EXAMPLE, "family") == {"Chalmers", "Windsor"}
        assert texts(PATIENT_EXAMPLE, "given") == {"Peter", "James", "Jim"}
        assert spans(PATIENT_EXAMPLE, "birthdate") == {(day("1974-12-25"), day("1974-12-26"))}
        assert tokens(PATIENT_EXAMPLE, "gender") == {
            ("http://hl7.org/fhir/administrative-gender", "male")}


class TestCarePlan:
    def test_references_keep_contained_ones_out(self) -> None:
        assert refs(CAREPLAN_EXAMPLE, "patient") == {"Patient/example"}
        assert refs(CAREPLAN_EXAMPLE, "subject") == {"Patient/example"}
        assert refs(CAREPLAN_EXAMPLE, "goal") == {"Goal/example"}
        assert refs(CAREPLAN_EXAMPLE, "care-team") == {"CareTeam/example"}
        assert rows(CAREPLAN_EXAMPLE, "condition") == []  # "#p1" is contained

    def test_codes_carry_their_system_and_a_text_only_concept_gives_no_token(self) -> None:
        assert tokens(CAREPLAN_EXAMPLE, "status") == {
            ("http://hl7.org/fhir/request-status", "active")}
        assert tokens(CAREPLAN_EXAMPLE, "intent") == {
            ("http://hl7.org/fhir/request-intent", "plan")}
        assert rows(CAREPLAN_EXAMPLE, "category") == []
        assert tokens(CAREPLAN_EXAMPLE, "identifier") == {(None, "12345")}
        assert tokens(CAREPLAN_EXAMPLE, "activity-code") == {
            ("http://loinc.org", "3141-9"), ("http://snomed.info/sct", "27113001")}

    def test_a_period_open_at_the_start_runs_through_its_end_day(self) -> None:
        assert spans(CAREPLAN_EXAMPLE, "date") == {(None, day("2017-06-02"))}

    def test_the_patient_parameter_keeps_only_patients(self) -> None:
        group = {**CAREPLAN_EXAMPLE, "subject": {"reference": "Group/g1"}}
        assert rows(group, "patient") == []
        assert refs(group, "subject") == {"Group/g1"}


class TestMedicationStatement:
    def test_a_contained_medication_gives_the_code(self) -> None:
        assert tokens(MEDICATION_STATEMENT_EXAMPLE001, "code") == {
            ("http://hl7.org/fhir/sid/ndc", "50580-506-02")}

    def test_a_medication_codeable_concept_gives_the_code(self) -> None:
        coded = {**MEDICATION_STATEMENT_EXAMPLE001, "medicationCodeableConcept": {"coding": [
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1049621"}]}}
        del coded["medicationReference"]
        assert tokens(coded, "code") == {
            ("http://www.nlm.nih.gov/research/umls/rxnorm", "1049621")}

    def test_status_category_effective_source_subject_identifier(self) -> None:
        statement = MEDICATION_STATEMENT_EXAMPLE001
        assert tokens(statement, "status") == {
            ("http://hl7.org/fhir/CodeSystem/medication-statement-status", "active")}
        assert tokens(statement, "category") == {
            ("http://terminology.hl7.org/CodeSystem/medication-statement-category", "inpatient")}
        assert spans(statement, "effective") == {(day("2015-01-23"), day("2015-01-24"))}
        assert refs(statement, "source") == {"Patient/pat1"}
        assert refs(statement, "patient") == {"Patient/pat1"}
        assert tokens(statement, "identifier") == {
            ("http://www.bmc.nl/portal/medstatements", "12345689")}

    def test_an_effective_period(self) -> None:
        period = {**MEDICATION_STATEMENT_EXAMPLE001,
                  "effectivePeriod": {"start": "2026-01-05", "end": "2026-02"}}
        del period["effectiveDateTime"]
        assert spans(period, "effective") == {(day("2026-01-05"), day("2026-03-01"))}


class TestQuestionnaireResponse:
    def test_a_contained_subject_is_not_indexed_and_authored_keeps_its_second(self) -> None:
        response = QUESTIONNAIRE_RESPONSE_3141
        assert rows(response, "patient") == [] and rows(response, "subject") == []
        authored = dt.datetime(2013, 2, 19, 19, 15, tzinfo=UTC)
        assert spans(response, "authored") == {(authored, authored + dt.timedelta(seconds=1))}
        assert tokens(response, "identifier") == {
            ("http://example.org/fhir/NamingSystem/questionnaire-ids", "Q12349876")}
        assert tokens(response, "status") == {
            ("http://hl7.org/fhir/questionnaire-answers-status", "completed")}

    def test_a_canonical_questionnaire_loses_its_version(self) -> None:
        assert refs(QUESTIONNAIRE_RESPONSE_3141, "questionnaire") == {
            "http://hl7.org/fhir/Questionnaire/3141"}
        local = {**QUESTIONNAIRE_RESPONSE_3141, "questionnaire": f"{BASE}/Questionnaire/phq-9"}
        assert refs(local, "questionnaire") == {"Questionnaire/phq-9"}


class TestGoalCareTeamAndOthers:
    def test_goal(self) -> None:
        goal = {"resourceType": "Goal", "id": "example", "identifier": [{"value": "123"}],
                "lifecycleStatus": "on-hold",
                "achievementStatus": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
                    "code": "improving"}]},
                "category": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/goal-category",
                    "code": "dietary"}]}],
                "description": {"text": "Target weight is 160 to 180 lbs."},
                "subject": {"reference": "Patient/example"}, "startDate": "2015-04-05",
                "target": [{"dueDate": "2016-04-05"}]}
        assert tokens(goal, "lifecycle-status") == {
            ("http://hl7.org/fhir/goal-status", "on-hold")}
        assert tokens(goal, "achievement-status") == {
            ("http://terminology.hl7.org/CodeSystem/goal-achievement", "improving")}
        assert tokens(goal, "category") == {
            ("http://terminology.hl7.org/CodeSystem/goal-category", "dietary")}
        assert spans(goal, "start-date") == {(day("2015-04-05"), day("2015-04-06"))}
        assert spans(goal, "target-date") == {(day("2016-04-05"), day("2016-04-06"))}

    def test_care_team_participants_skip_contained_members(self) -> None:
        team = {"resourceType": "CareTeam", "id": "example",
                "contained": [{"resourceType": "Practitioner", "id": "pr1"}],
                "status": "active", "subject": {"reference": "Patient/example"},
                "period": {"end": "2013-01-01"},
                "participant": [{"member": {"reference": "Patient/example"}},
                                {"member": {"reference": "#pr1"}},
                                {"member": {"reference": f"{BASE}/Practitioner/p-7"}}]}
        assert refs(team, "participant") == {"Patient/example", "Practitioner/p-7"}
        assert spans(team, "date") == {(None, day("2013-01-02"))}

    def test_task_communication_questionnaire_subscription(self) -> None:
        task = {"resourceType": "Task", "id": "t1", "status": "requested", "intent": "order",
                "for": {"reference": "Patient/p1"}, "owner": {"reference": "Practitioner/s1"},
                "focus": {"reference": "CarePlan/c1"}, "authoredOn": "2026-03-01T09:30:00Z",
                "code": {"coding": [{"system": "https://concord.invalid/k", "code": "review"}]}}
        assert refs(task, "patient") == {"Patient/p1"} == refs(task, "subject")
        assert refs(task, "owner") == {"Practitioner/s1"}
        assert refs(task, "focus") == {"CarePlan/c1"}
        assert tokens(task, "code") == {("https://concord.invalid/k", "review")}
        message = {"resourceType": "Communication", "id": "m1", "status": "completed",
                   "subject": {"reference": "Patient/p1"}, "sent": "2014-12-12T18:01:10-08:00"}
        sent = dt.datetime(2014, 12, 13, 2, 1, 10, tzinfo=UTC)
        assert spans(message, "sent") == {(sent, sent + dt.timedelta(seconds=1))}
        form = {"resourceType": "Questionnaire", "id": "phq-9", "status": "draft",
                "url": "http://hl7.org/fhir/Questionnaire/phq-9", "version": "1.0.0",
                "name": "PHQ9", "title": "Patient Health Questionnaire (PHQ-9)",
                "item": [{"linkId": "1", "code": [{"system": "http://loinc.org",
                                                   "code": "44250-9"}]}]}
        assert tokens(form, "code") == {("http://loinc.org", "44250-9")}
        assert texts(form, "url") == {"http://hl7.org/fhir/Questionnaire/phq-9"}
        assert tokens(form, "version") == {(None, "1.0.0")}
        hook = {"resourceType": "Subscription", "id": "s1", "status": "active",
                "channel": {"type": "rest-hook", "endpoint": "https://ehr.example/hook"}}
        assert tokens(hook, "type") == {
            ("http://hl7.org/fhir/subscription-channel-type", "rest-hook")}
        assert texts(hook, "url") == {"https://ehr.example/hook"}

    def test_an_unknown_type_has_no_index(self) -> None:
        assert entries({"resourceType": "Basic", "id": "b"}) == []


class TestDateRange:
    @pytest.mark.parametrize(("text", "lo", "hi"), [
        ("2026", "2026-01-01T00:00:00", "2027-01-01T00:00:00"),
        ("2026-02", "2026-02-01T00:00:00", "2026-03-01T00:00:00"),
        ("2026-12", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
        ("2026-01-31", "2026-01-31T00:00:00", "2026-02-01T00:00:00"),
        ("2026-01-05T10:00", "2026-01-05T10:00:00", "2026-01-05T10:01:00"),
        ("2026-01-05T10:00:07Z", "2026-01-05T10:00:07", "2026-01-05T10:00:08"),
        ("2026-01-05T10:00:07.5Z", "2026-01-05T10:00:07.500000", "2026-01-05T10:00:07.600000"),
        ("2026-01-05T12:00:00+02:00", "2026-01-05T10:00:00", "2026-01-05T10:00:01"),
    ])
    def test_a_value_covers_its_precision(self, text: str, lo: str, hi: str) -> None:
        assert date_range(text) == (day(lo), day(hi))

    @pytest.mark.parametrize("text", ["2026-13", "2026-02-30", "26-01-01", "2026-01-05T25:00",
                                      "yesterday", "2026-01-05T10:00+15:00"])
    def test_malformed_values_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError):
            date_range(text)


def test_values_too_long_for_the_index_are_left_out() -> None:
    plan = {**CAREPLAN_EXAMPLE, "identifier": [{"system": "https://x.example/" + "s" * 300,
                                                "value": "1"}, {"value": "kept"}]}
    assert tokens(plan, "identifier") == {(None, "kept")}
