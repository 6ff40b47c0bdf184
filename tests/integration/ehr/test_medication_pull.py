"""The medication pull against a real FHIR server (a second Concord, see conftest): the
EHR's MedicationStatements land once in the patient's active plan, reported by the EHR;
a newer version updates what was recorded; what cannot be recorded is listed with its
reason; the watermark moves with what was read; an EHR that is down is reported and the
next run catches up."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fhir.inbound.medication import RXNORM
from tests.integration.ehr.conftest import Linked
from workers.ehr_sync import pull_medications

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

OXYCODONE_5 = {"system": RXNORM, "code": "1049621",
               "display": "oxycodone hydrochloride 5 MG Oral Tablet"}


def statement(patient: str, *, coding: dict[str, Any] | None = None, tablets: float = 1,
              times_a_day: int = 4, status: str = "active") -> dict[str, Any]:
    """A MedicationStatement as an EHR writes one (shaped like the R4 example006)."""
    return {
        "resourceType": "MedicationStatement", "status": status,
        "medicationCodeableConcept": {"coding": [coding or OXYCODONE_5]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectivePeriod": {"start": "2026-10-01"},
        "dosage": [{
            "text": f"{tablets:g} tablet(s) {times_a_day} times a day",
            "timing": {"repeat": {"frequency": times_a_day, "period": 1, "periodUnit": "d"}},
            "route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006",
                                  "display": "Oral route"}]},
            "doseAndRate": [{"doseQuantity": {"value": tablets, "unit": "TAB"}}],
        }],
    }


def updated_at(resource: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(resource["meta"]["lastUpdated"].replace("Z", "+00:00"))


async def test_pull_records_each_ehr_medication_once(linked: Linked,
                                                     engine: AsyncEngine) -> None:
    ehr_patient = await linked.ehr_patient("MRN-1001")
    plan = await linked.concord_plan("MRN-1001")
    oxycodone = await linked.ehr_write(statement(ehr_patient))
    snomed = await linked.ehr_write(statement(ehr_patient, coding={
        "system": "http://snomed.info/sct", "code": "430127000",
        "display": "Oral Form Oxycodone (product)"}))

    report = await pull_medications(engine, linked.connection_id)
    assert report.error is None, report.error
    medications = await linked.medications(plan["id"])
    assert len(medications) == 1
    recorded = medications[0]
    assert recorded["reported_by"] == "ehr"
    assert recorded["source"] == f"{linked.fhir}/MedicationStatement/{oxycodone['id']}"
    assert (recorded["rxnorm_code"], recorded["dose_quantity"], recorded["dose_unit"]) == (
        "1049621", 1.0, "tablet")
    assert recorded["schedule"]["count"] == 4 and recorded["route"] == "oral"
    assert recorded["period_start"] == "2026-10-01"

    connection = await linked.connection()
    assert connection["last_error"] is None and connection["last_polled_at"] is not None
    assert connection["medications_watermark"] is not None
    assert dt.datetime.fromisoformat(connection["medications_watermark"]) == max(
        updated_at(oxycodone), updated_at(snomed))
    assert [(s["source"], s["reason"]) for s in connection["skipped"]] == [(
        f"{linked.fhir}/MedicationStatement/{snomed['id']}",
        "no RxNorm code for the medication (coded in http://snomed.info/sct)")]

    # the same resources again (a second tick, a job arq ran twice): nothing new
    again = await pull_medications(engine, linked.connection_id)
    assert again.error is None
    assert again.counts.recorded == 0 and again.counts.updated == 0
    assert await linked.medications(plan["id"]) == medications
    opioid_safety = await linked.client.get(f"/api/v1/care-plans/{plan['id']}/opioid-safety",
                                            headers=linked.world.auth("physician"))
    assert opioid_safety.status_code == 200, opioid_safety.text
    # 4 x 5 mg oxycodone x 1.5: 30 MME/day, on the plan the whole team sees
    assert opioid_safety.json()["total"]["mme_per_day"] == pytest.approx(30.0)


async def test_a_newer_version_updates_the_recorded_statement(linked: Linked,
                                                              engine: AsyncEngine) -> None:
    ehr_patient = await linked.ehr_patient("MRN-1002")
    plan = await linked.concord_plan("MRN-1002")
    first = await linked.ehr_write(statement(ehr_patient))
    await pull_medications(engine, linked.connection_id)
    [before] = await linked.medications(plan["id"])
    watermark = (await linked.connection())["medications_watermark"]

    # the prescriber changes the dose in the EHR, then stops it
    second = await linked.ehr_write({**statement(ehr_patient, tablets=2), "id": first["id"]},
                                    version=first["meta"]["versionId"])
    report = await pull_medications(engine, linked.connection_id)
    assert (report.counts.updated, report.counts.recorded) == (1, 0)
    [after] = await linked.medications(plan["id"])
    assert after["id"] == before["id"] and after["version"] == before["version"] + 1
    assert after["dose_quantity"] == 2.0
    moved = (await linked.connection())["medications_watermark"]
    assert dt.datetime.fromisoformat(moved) == updated_at(second) > \
        dt.datetime.fromisoformat(watermark)

    await linked.ehr_write({**statement(ehr_patient, tablets=2, status="stopped"),
                            "id": first["id"]}, version=second["meta"]["versionId"])
    await pull_medications(engine, linked.connection_id)
    [stopped] = await linked.medications(plan["id"])
    assert stopped["status"] == "stopped" and stopped["version"] == after["version"] + 1


async def test_a_medication_added_later_is_read_after_the_watermark(
        linked: Linked, engine: AsyncEngine) -> None:
    ehr_patient = await linked.ehr_patient("MRN-1003")
    plan = await linked.concord_plan("MRN-1003")
    await linked.ehr_write(statement(ehr_patient))
    await pull_medications(engine, linked.connection_id)
    later = await linked.ehr_write(statement(ehr_patient, coding={
        "system": RXNORM, "code": "857002",
        "display": "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet"},
        times_a_day=2))
    report = await pull_medications(engine, linked.connection_id)
    # only what changed since is read: the first statement is not counted again
    assert report.counts.recorded == 1 and report.counts.unchanged <= 1
    sources = sorted(m["source"] for m in await linked.medications(plan["id"]))
    assert f"{linked.fhir}/MedicationStatement/{later['id']}" in sources and len(sources) == 2


async def test_patients_the_ehr_does_not_know_are_listed_not_guessed(
        linked: Linked, engine: AsyncEngine) -> None:
    plan = await linked.concord_plan("MRN-4040")
    report = await pull_medications(engine, linked.connection_id)
    assert report.error is None
    assert await linked.medications(plan["id"]) == []
    skipped = (await linked.connection())["skipped"]
    assert [s["reason"] for s in skipped] == ["no Patient with this identifier on the EHR"]
    assert skipped[0]["patient_id"] == plan["patient_id"]


async def test_ehr_down_is_reported_and_the_next_run_catches_up(
        linked: Linked, engine: AsyncEngine) -> None:
    ehr_patient = await linked.ehr_patient("MRN-1004")
    plan = await linked.concord_plan("MRN-1004")
    await linked.ehr_write(statement(ehr_patient))
    linked.server.stop()
    try:
        report = await pull_medications(engine, linked.connection_id)
        assert report.error is not None and report.error.startswith("FhirUnavailable")
        connection = await linked.connection()
        assert connection["last_error"].startswith("pull: FhirUnavailable")
        assert connection["medications_watermark"] is None
        assert await linked.medications(plan["id"]) == []
    finally:
        linked.server.start()
    report = await pull_medications(engine, linked.connection_id)
    assert report.error is None and report.counts.recorded == 1
    assert (await linked.connection())["last_error"] is None
    assert len(await linked.medications(plan["id"])) == 1


async def test_refused_credentials_are_reported(linked: Linked, engine: AsyncEngine) -> None:
    await linked.ehr_patient("MRN-1005")
    await linked.concord_plan("MRN-1005")
    clients = await linked.ehr.get("/api/v1/smart-clients",
                                   headers=linked.ehr_world.auth("admin"))
    [registered] = [c for c in clients.json() if c["client_id"] == linked.smart_client_id]
    deactivated = await linked.ehr.delete(f"/api/v1/smart-clients/{registered['id']}",
                                          headers=linked.ehr_world.auth("admin"))
    assert deactivated.status_code == 200, deactivated.text
    report = await pull_medications(engine, linked.connection_id)
    assert report.error is not None and report.error.startswith("AuthenticationFailed")
    assert (await linked.connection())["last_error"].startswith("pull: AuthenticationFailed")
