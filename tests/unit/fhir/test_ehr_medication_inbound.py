"""An EHR's MedicationRequests and MedicationStatements as Concord records them, checked
on the official R4 examples (ehr_examples/, unchanged) and on the same examples coded in
RxNorm as a US EHR sends them."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from domain.medication import ReportedBy, Schedule, StatementStatus
from domain.opioids.mme import mme_for
from domain.opioids.terminology import load_terminology
from fhir.inbound.medication import (
    RXNORM,
    EhrMedication,
    Skipped,
    external_medication,
    from_fhir,
)

EXAMPLES = Path(__file__).parent / "ehr_examples"
BASE = "https://ehr.example.org/fhir/R4"
OXYCODONE_5 = {"system": RXNORM, "code": "1049621",
               "display": "oxycodone hydrochloride 5 MG Oral Tablet"}
FENTANYL_25 = {"system": RXNORM, "code": "245134",
               "display": "72 HR fentanyl 0.025 MG/HR Transdermal System"}


def example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return body


def recorded(resource: dict[str, Any], **medications: dict[str, Any]) -> EhrMedication:
    mapped = from_fhir(resource, BASE, medications)
    assert isinstance(mapped, EhrMedication), mapped
    return mapped


def skipped(resource: dict[str, Any]) -> str:
    mapped = from_fhir(resource, BASE)
    assert isinstance(mapped, Skipped), mapped
    return mapped.reason


@pytest.mark.parametrize(("name", "reason"), [
    # coded in SNOMED CT or NDC: no RxNorm product, so no MME and no opioid check
    ("MedicationRequest-medrx0301", "no RxNorm code for the medication (coded in "
                                    "http://snomed.info/sct)"),
    ("MedicationRequest-medrx0327", "no RxNorm code for the medication (coded in "
                                    "http://snomed.info/sct)"),
    ("MedicationRequest-medrx0333", "no RxNorm code for the medication (coded in "
                                    "http://snomed.info/sct)"),
    ("MedicationStatement-example002", "no RxNorm code for the medication (coded in "
                                       "http://hl7.org/fhir/sid/ndc)"),
    ("MedicationStatement-example003", "no RxNorm code for the medication"),
    # a Medication on the server that was not read
    ("MedicationRequest-medrx002", "the medication Medication/med0316 could not be read"),
    # the request it comes from is read itself: importing both would double the dose
    ("MedicationStatement-example001",
     "derived from MedicationRequest/medrx002, which is imported itself"),
    # RxNorm, but nothing about how it is taken
    ("MedicationStatement-example007", "no dosage"),
])
def test_official_examples_are_skipped_with_their_reason(name: str, reason: str) -> None:
    assert skipped(example(name)) == reason


def test_a_prn_order_with_a_dose_range_counts_its_most() -> None:
    """medrx0301: "one to two tablets every 4-6 hours as needed", coded in RxNorm."""
    order = example("MedicationRequest-medrx0301")
    order["contained"][0]["code"] = {"coding": [OXYCODONE_5]}
    order["meta"] = {"versionId": "7", "lastUpdated": "2026-11-20T08:15:00.250Z"}
    mapped = recorded(order)
    assert mapped.source == f"{BASE}/MedicationRequest/medrx0301"
    assert (mapped.version_id, mapped.last_updated) == (
        "7", dt.datetime(2026, 11, 20, 8, 15, 0, 250000, tzinfo=dt.UTC))
    assert (mapped.rxnorm_code, mapped.display) == ("1049621", OXYCODONE_5["display"])
    assert (mapped.dose_quantity, mapped.dose_unit, mapped.route) == (2.0, "tablet", "oral")
    # every 4 h (the shorter of 4-6 h) is 6 a day, 2 tablets each: at most 12 a day
    assert mapped.schedule == Schedule(count=1, period=4, unit="h", as_needed=True,
                                       max_per_day=12)
    assert mapped.status is StatementStatus.COMPLETED
    assert mapped.period_start == dt.date(2015, 1, 15)
    assert mapped.note is not None
    assert "one to two tablets every 4-6 hours as needed for rib pain" in mapped.note
    assert "dose range 1 to 2" in mapped.note.lower()
    assert "Patient told to take with food" in mapped.note
    statement = mapped.statement(uuid.uuid4())
    assert statement.reported_by is ReportedBy.EHR and statement.source == mapped.source
    statement.validate()
    # 12 tablets x 5 mg x 1.5 (CDC 2022, oxycodone)
    mme = mme_for(statement, load_terminology().lookup("1049621"))
    assert mme.mme_per_day == pytest.approx(90.0)


def test_a_scheduled_order_at_named_times_of_day() -> None:
    """medrx0333: "one tablet one time daily in the morning" (timing.repeat.when MORN)."""
    order = example("MedicationRequest-medrx0333")
    order["contained"][0]["code"] = {"coding": [OXYCODONE_5]}
    mapped = recorded(order)
    assert mapped.schedule == Schedule(count=1, period=1, unit="d")
    assert (mapped.dose_quantity, mapped.status) == (2.0, StatementStatus.ACTIVE)


def test_a_weekly_patch() -> None:
    """medrx0327: "apply one patch three times per week", coded as the RxNorm product."""
    order = example("MedicationRequest-medrx0327")
    order["medicationCodeableConcept"] = {"coding": [FENTANYL_25]}
    mapped = recorded(order)
    assert (mapped.dose_quantity, mapped.dose_unit) == (1.0, "patch")
    assert mapped.schedule == Schedule(count=3, period=1, unit="wk")
    assert mapped.route == "unspecified"
    mme = mme_for(mapped.statement(uuid.uuid4()), load_terminology().lookup("245134"))
    assert mme.mme_per_day == pytest.approx(60.0)  # 25 mcg/h x 2.4


def test_a_medication_on_the_server_is_read_by_reference() -> None:
    order = example("MedicationRequest-medrx002")
    assert external_medication(order) == "med0316"
    order["dosageInstruction"] = [{
        "timing": {"code": {"coding": [{"code": "BID"}]}},
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "TAB"}}]}]
    medication = {"resourceType": "Medication", "id": "med0316", "code": {"coding": [
        {"system": "http://snomed.info/sct", "code": "318475005"}, OXYCODONE_5]}}
    mapped = recorded(order, med0316=medication)
    assert (mapped.rxnorm_code, mapped.dose_unit) == ("1049621", "tablet")
    assert mapped.schedule == Schedule(count=2, period=1, unit="d")


def test_a_statement_with_its_effective_period() -> None:
    statement = example("MedicationStatement-example006")
    statement["medicationCodeableConcept"] = {"coding": [
        {"system": RXNORM, "code": "308182", "display": "amoxicillin 250 MG/5ML Oral Suspension"}]}
    statement["dosage"][0]["timing"] = {"repeat": {"frequency": 3, "period": 1,
                                                   "periodUnit": "d"}}
    statement["effectivePeriod"] = {"start": "2014-02-01", "end": "2014-02-11T18:00:00Z"}
    del statement["effectiveDateTime"]
    mapped = recorded(statement)
    assert (mapped.dose_quantity, mapped.dose_unit, mapped.route) == (5.0, "mL", "oral")
    assert mapped.schedule == Schedule(count=3, period=1, unit="d")
    assert (mapped.period_start, mapped.period_end) == (dt.date(2014, 2, 1),
                                                        dt.date(2014, 2, 11))
    assert mapped.status is StatementStatus.ACTIVE


def _coded_order(**changes: Any) -> dict[str, Any]:
    order = example("MedicationRequest-medrx0333")
    order["contained"][0]["code"] = {"coding": [OXYCODONE_5]}
    order.update(changes)
    return order


@pytest.mark.parametrize(("status", "expected"), [
    ("active", StatementStatus.ACTIVE),
    ("on-hold", StatementStatus.ON_HOLD),
    ("completed", StatementStatus.COMPLETED),
    ("stopped", StatementStatus.STOPPED),
    ("entered-in-error", StatementStatus.ENTERED_IN_ERROR),
    ("cancelled", StatementStatus.NOT_TAKEN),
    ("unknown", StatementStatus.UNKNOWN),
])
def test_request_status_as_statement_status(status: str, expected: StatementStatus) -> None:
    assert recorded(_coded_order(status=status)).status is expected


@pytest.mark.parametrize(("changes", "reason"), [
    ({"status": "draft"}, "a draft order is not prescribed yet"),
    ({"status": "signed"}, "unknown MedicationRequest status 'signed'"),
    ({"intent": "proposal"}, "a proposal prescribes nothing"),
    ({"doNotPerform": True}, "an order not to give the medication"),
])
def test_orders_that_prescribe_nothing_are_skipped(changes: dict[str, Any],
                                                   reason: str) -> None:
    assert skipped(_coded_order(**changes)) == reason


def _with_dosage(**dosage: Any) -> dict[str, Any]:
    order = _coded_order()
    order["dosageInstruction"] = [dosage]
    return order


@pytest.mark.parametrize(("dosage", "reason"), [
    ({"text": "as directed"}, "no structured dose as text"),
    ({"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
      "doseAndRate": [{"rateQuantity": {"value": 2, "unit": "mL/h"}}]},
     "the dose is a rate (rateRatio, rateRange or rateQuantity), which Concord does not "
     "record"),
    ({"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
      "doseAndRate": [{"doseQuantity": {"value": 1}}]}, "the dose has no unit"),
    ({"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "a"}},
      "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]},
     "the dosing period unit 'a' is not supported"),
    ({"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]},
     "no dosing frequency"),
    ({"timing": {"repeat": {"frequency": 60, "period": 1, "periodUnit": "d"}},
      "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]},
     "schedule.count: between 1 and 48"),
    ({"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
      "doseAndRate": [{"doseQuantity": {"value": -1, "unit": "tablet"}}]},
     "the dose is not a positive number"),
])
def test_doses_concord_cannot_hold_are_skipped(dosage: dict[str, Any], reason: str) -> None:
    assert skipped(_with_dosage(**dosage)) == reason


def test_a_schedule_that_changes_over_time_is_skipped() -> None:
    order = _coded_order()
    order["dosageInstruction"] = [order["dosageInstruction"][0],
                                  {**order["dosageInstruction"][0], "sequence": 2}]
    assert skipped(order).startswith("2 dosage instructions")


def test_an_as_needed_maximum_in_the_order_wins() -> None:
    mapped = recorded(_with_dosage(
        asNeededBoolean=True,
        timing={"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}},
        doseAndRate=[{"doseQuantity": {"value": 1, "unit": "tablet"}}],
        maxDosePerPeriod={"numerator": {"value": 4, "unit": "tablet"},
                          "denominator": {"value": 1, "unit": "day", "code": "d"}}))
    assert mapped.schedule.max_per_day == 4.0


def test_malformed_json_is_skipped_not_raised() -> None:
    order = _coded_order()
    order["dosageInstruction"] = [{"timing": "daily", "doseAndRate": "one"}]
    assert skipped(order) == "the resource is not valid FHIR R4 where Concord reads it"
    broken = copy.deepcopy(order)
    broken["authoredOn"] = "yesterday"
    broken["dosageInstruction"] = _coded_order()["dosageInstruction"]
    assert skipped(broken) == "period: 'yesterday' is not a FHIR date"


def test_patch_carries_every_field_the_ehr_says() -> None:
    mapped = recorded(_coded_order(status="stopped"))
    patch = mapped.patch()
    assert patch.status is StatementStatus.STOPPED
    assert patch.rxnorm_code == "1049621" and patch.schedule == mapped.schedule
