"""MedicationStatement in FHIR R4 from the domain's statement (RxNorm-coded)."""

from __future__ import annotations

from typing import Any

from domain.medication import MedicationStatement, ReportedBy

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def medication_statement(statement: MedicationStatement) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": str(statement.id),
        "meta": {"versionId": str(statement.version)},
        "status": statement.status.value,
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": statement.rxnorm_code,
                        "display": statement.display}],
            "text": statement.display,
        },
        "subject": {"reference": f"Patient/{statement.patient_id}"},
        "dosage": [_dosage(statement)],
    }
    if statement.updated_at is not None:
        resource["meta"]["lastUpdated"] = statement.updated_at.isoformat()
    if statement.created_at is not None:
        resource["dateAsserted"] = statement.created_at.isoformat()
    period = {k: v.isoformat() for k, v in (("start", statement.period_start),
                                            ("end", statement.period_end)) if v is not None}
    if period:
        resource["effectivePeriod"] = period
    resource["informationSource"] = _source(statement)
    if statement.note:
        resource["note"] = [{"text": statement.note}]
    return resource


def _source(statement: MedicationStatement) -> dict[str, Any]:
    if statement.reported_by is ReportedBy.PATIENT:
        return {"reference": f"Patient/{statement.patient_id}"}
    label = "a clinician of the care team" if statement.reported_by is ReportedBy.CLINICIAN \
        else f"the EHR ({statement.source})" if statement.source else "the EHR"
    return {"display": f"reported by {label}"}


def _dosage(statement: MedicationStatement) -> dict[str, Any]:
    schedule = statement.schedule
    dosage: dict[str, Any] = {
        "timing": {"repeat": {"frequency": schedule.count, "period": schedule.period,
                              "periodUnit": schedule.unit}},
        "asNeededBoolean": schedule.as_needed,
        "route": {"text": statement.route},
        "doseAndRate": [{"doseQuantity": {"value": statement.dose_quantity,
                                          "unit": statement.dose_unit}}],
    }
    if schedule.as_needed and schedule.max_per_day is not None:
        dosage["maxDosePerPeriod"] = {
            "numerator": {"value": schedule.max_per_day, "unit": statement.dose_unit},
            "denominator": {"value": 1, "unit": "day", "system": UCUM, "code": "d"},
        }
    return dosage
