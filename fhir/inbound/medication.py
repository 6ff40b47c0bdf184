"""An EHR's MedicationStatement or MedicationRequest (FHIR R4 JSON) as what the domain
records: an RxNorm product, a structured dose, route, schedule, status and period.

What the domain cannot hold faithfully is skipped with the reason, never guessed: no
RxNorm code, a dose given only as text or as a rate, several dosage instructions (a
schedule that changes over time), a draft or proposed order. Where an order allows a
range, the upper bound is taken (a dose range's high value, `frequencyMax`, the shorter
of `period`..`periodMax`), as MME counts the most the patient may take; the EHR's own
wording travels in the note.

MedicationRequest becomes a statement of what the patient takes as the R4 specification
describes the two (MedicationStatement "may be derived from" a request; `dosage` is the
request's `dosageInstruction`): status active, on-hold, completed and stopped carry over;
entered-in-error stays entered-in-error; cancelled (abandoned before it was acted on) is
not-taken; unknown is unknown; a draft is not yet an order and is skipped."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec

from domain.errors import Invalid
from domain.medication import (
    MedicationPatch,
    MedicationStatement,
    ReportedBy,
    Schedule,
    StatementStatus,
)

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SOURCE_MAX = 200
"""The length of medication_statements.source."""

REQUEST_STATUS: dict[str, StatementStatus | None] = {
    "active": StatementStatus.ACTIVE,
    "on-hold": StatementStatus.ON_HOLD,
    "completed": StatementStatus.COMPLETED,
    "stopped": StatementStatus.STOPPED,
    "entered-in-error": StatementStatus.ENTERED_IN_ERROR,
    "cancelled": StatementStatus.NOT_TAKEN,
    "unknown": StatementStatus.UNKNOWN,
    "draft": None,
}
"""MedicationRequest.status -> MedicationStatement.status (None: not imported)."""
NOT_ORDERS = frozenset({"proposal", "option"})
"""MedicationRequest.intent values that prescribe nothing."""

ROUTES = {
    # SNOMED CT route of administration codes the R4 examples and US Core use
    "26643006": "oral", "260548002": "oral", "45890007": "transdermal",
    "37161004": "rectal", "34206005": "subcutaneous", "47625008": "intravenous",
    "78421000": "intramuscular", "37839007": "sublingual", "54471007": "buccal",
    "46713006": "nasal", "447694001": "respiratory tract",
}
UNITS = {
    # v3 orderableDrugForm codes and common abbreviations, in the words the team reads
    "tab": "tablet", "tabs": "tablet", "tablet": "tablet", "tablets": "tablet",
    "{tbl}": "tablet", "cap": "capsule", "caps": "capsule", "capsule": "capsule",
    "capsules": "capsule", "patch": "patch", "patches": "patch", "ml": "mL", "mg": "mg",
}
TIMING_CODES: dict[str, tuple[int, float, str]] = {
    # GTSAbbreviation (http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation)
    "QD": (1, 1, "d"), "BID": (2, 1, "d"), "TID": (3, 1, "d"), "QID": (4, 1, "d"),
    "QOD": (1, 2, "d"), "Q1H": (1, 1, "h"), "Q2H": (1, 2, "h"), "Q3H": (1, 3, "h"),
    "Q4H": (1, 4, "h"), "Q6H": (1, 6, "h"), "Q8H": (1, 8, "h"), "AM": (1, 1, "d"),
    "PM": (1, 1, "d"), "QHS": (1, 1, "d"), "WK": (1, 1, "wk"), "MO": (1, 1, "mo"),
}
HOURS = {"s": 1 / 3600, "min": 1 / 60, "h": 1.0, "d": 24.0, "wk": 168.0, "mo": 730.0}
_FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


class EhrMedication(msgspec.Struct, kw_only=True, frozen=True):
    """One EHR resource, ready to record: the statement's fields and where it came from."""

    resource_type: str
    resource_id: str
    version_id: str | None
    last_updated: dt.datetime | None
    source: str
    """`{EHR base}/{resource type}/{id}`: the EHR resource, whatever its version."""
    rxnorm_code: str
    display: str
    dose_quantity: float
    dose_unit: str
    route: str
    schedule: Schedule
    status: StatementStatus
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    note: str | None = None

    def statement(self, statement_id: uuid.UUID) -> MedicationStatement:
        """A new statement for `record` (the use case sets its plan and patient)."""
        return MedicationStatement(
            id=statement_id, care_plan_id=uuid.UUID(int=0), patient_id=uuid.UUID(int=0),
            rxnorm_code=self.rxnorm_code, display=self.display,
            dose_quantity=self.dose_quantity, dose_unit=self.dose_unit, route=self.route,
            schedule=self.schedule, status=self.status, period_start=self.period_start,
            period_end=self.period_end, reported_by=ReportedBy.EHR, source=self.source,
            note=self.note)

    def patch(self) -> MedicationPatch:
        """Everything the EHR says, for `update` when it sends a newer version."""
        return MedicationPatch(
            rxnorm_code=self.rxnorm_code, display=self.display,
            dose_quantity=self.dose_quantity, dose_unit=self.dose_unit, route=self.route,
            schedule=self.schedule, status=self.status, period_start=self.period_start,
            period_end=self.period_end, note=self.note)


class Skipped(msgspec.Struct, kw_only=True, frozen=True):
    """An EHR resource Concord does not record, and why."""

    resource_type: str
    resource_id: str
    version_id: str | None
    last_updated: dt.datetime | None
    source: str
    reason: str


class _Skip(Exception):
    pass


def source_of(base_url: str, resource_type: str, resource_id: str) -> str:
    return f"{base_url.rstrip('/')}/{resource_type}/{resource_id}"


def external_medication(resource: Mapping[str, Any]) -> str | None:
    """The id of a Medication the resource references on the server (not contained), which
    the caller reads and passes to `from_fhir`."""
    reference = resource.get("medicationReference")
    if not isinstance(reference, dict):
        return None
    value = reference.get("reference")
    if isinstance(value, str) and value.startswith("Medication/"):
        return value.removeprefix("Medication/").split("/")[0]
    return None


def from_fhir(
    resource: Mapping[str, Any], base_url: str,
    medications: Mapping[str, Mapping[str, Any]] | None = None,
) -> EhrMedication | Skipped:
    """Map one MedicationStatement or MedicationRequest; `medications` holds the
    Medications it references on the server, by id."""
    resource_type = str(resource.get("resourceType"))
    resource_id = str(resource.get("id") or "")
    found = resource.get("meta")
    meta: dict[str, Any] = found if isinstance(found, dict) else {}
    version = str(meta["versionId"]) if meta.get("versionId") is not None else None
    updated = _instant(meta.get("lastUpdated"))
    source = source_of(base_url, resource_type, resource_id)

    def skipped(reason: str) -> Skipped:
        return Skipped(resource_type=resource_type, resource_id=resource_id, version_id=version,
                       last_updated=updated, source=source, reason=reason)

    try:
        if resource_type not in ("MedicationStatement", "MedicationRequest"):
            raise _Skip(f"a {resource_type} is not a medication statement or request")
        if not resource_id:
            raise _Skip("the resource has no id")
        if len(source) > SOURCE_MAX:
            raise _Skip(f"its reference is longer than {SOURCE_MAX} characters")
        fields = _fields(resource, resource_type, medications or {})
    except _Skip as exc:
        return skipped(str(exc))
    except Invalid as exc:
        return skipped(f"{exc.field}: {exc.detail}")
    except (TypeError, ValueError, AttributeError, KeyError, IndexError):
        return skipped("the resource is not valid FHIR R4 where Concord reads it")
    return EhrMedication(resource_type=resource_type, resource_id=resource_id,
                         version_id=version, last_updated=updated, source=source, **fields)


def _fields(resource: Mapping[str, Any], resource_type: str,
            medications: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    if resource_type == "MedicationRequest":
        status = _request_status(resource)
        dosages = resource.get("dosageInstruction") or []
        start, end = _request_period(resource, dosages)
    else:
        status = _statement_status(resource)
        dosages = resource.get("dosage") or []
        start, end = _statement_period(resource)
    code, display = _rxnorm(resource, medications)
    if len(dosages) != 1:
        raise _Skip("no dosage" if not dosages else
                    f"{len(dosages)} dosage instructions (a schedule that changes over time "
                    "or split doses): record it by hand")
    dosage = dosages[0]
    quantity, unit, range_note = _dose(dosage)
    schedule = _schedule(dosage, quantity, unit)
    fields: dict[str, Any] = {
        "rxnorm_code": code, "display": display, "dose_quantity": quantity, "dose_unit": unit,
        "route": _route(dosage), "schedule": schedule, "status": status,
        "period_start": start, "period_end": end,
        "note": _note(resource, dosage, range_note),
    }
    probe = MedicationStatement(id=uuid.UUID(int=0), care_plan_id=uuid.UUID(int=0),
                                patient_id=uuid.UUID(int=0), **fields)
    probe.validate()
    return fields


def _request_status(resource: Mapping[str, Any]) -> StatementStatus:
    status = resource.get("status")
    if status not in REQUEST_STATUS:
        raise _Skip(f"unknown MedicationRequest status {status!r}")
    mapped = REQUEST_STATUS[status]
    if mapped is None:
        raise _Skip("a draft order is not prescribed yet")
    if resource.get("intent") in NOT_ORDERS:
        raise _Skip(f"a {resource.get('intent')} prescribes nothing")
    if resource.get("doNotPerform") is True:
        raise _Skip("an order not to give the medication")
    return mapped


def _statement_status(resource: Mapping[str, Any]) -> StatementStatus:
    status = str(resource.get("status"))
    try:
        mapped = StatementStatus(status)
    except ValueError:
        raise _Skip(f"unknown MedicationStatement status {status!r}") from None
    for derived in resource.get("derivedFrom") or []:
        reference = derived.get("reference", "") if isinstance(derived, dict) else ""
        if reference.startswith("MedicationRequest/"):
            # The request is read on its own; importing both would count the dose twice.
            raise _Skip(f"derived from {reference}, which is imported itself")
    return mapped


def _rxnorm(resource: Mapping[str, Any],
            medications: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    concept = resource.get("medicationCodeableConcept")
    if concept is None:
        reference = (resource.get("medicationReference") or {}).get("reference", "")
        medication: Mapping[str, Any] | None = None
        if reference.startswith("#"):
            medication = next((c for c in resource.get("contained") or []
                               if c.get("resourceType") == "Medication"
                               and c.get("id") == reference[1:]), None)
        elif reference.startswith("Medication/"):
            medication = medications.get(reference.removeprefix("Medication/").split("/")[0])
        if medication is None:
            raise _Skip(f"the medication {reference or '(none)'} could not be read")
        concept = medication.get("code") or {}
    for coding in concept.get("coding") or []:
        if coding.get("system") == RXNORM and str(coding.get("code", "")).isdigit():
            code = str(coding["code"])
            display = coding.get("display") or concept.get("text") or f"RxNorm {code}"
            return code, str(display)[:500]
    systems = sorted({str(c.get("system")) for c in concept.get("coding") or []})
    named = f" (coded in {', '.join(systems)})" if systems else ""
    raise _Skip(f"no RxNorm code for the medication{named}")


def _dose(dosage: Mapping[str, Any]) -> tuple[float, str, str | None]:
    rates = dosage.get("doseAndRate") or []
    if not rates:
        text = " as text" if dosage.get("text") else ""
        raise _Skip(f"no structured dose{text}")
    ordered = next((r for r in rates if any(c.get("code") == "ordered" for c in
                                            (r.get("type") or {}).get("coding") or [])), rates[0])
    if "doseQuantity" in ordered:
        quantity = ordered["doseQuantity"]
        return _amount(quantity), _unit(quantity), None
    if "doseRange" in ordered:
        bounds = ordered["doseRange"]
        high = bounds.get("high") or bounds.get("low")
        if not high:
            raise _Skip("a dose range without bounds")
        amount, low = _amount(high), bounds.get("low")
        note = None
        if low and high is not low and isinstance(low.get("value"), int | float):
            note = f"dose range {low['value']:g} to {amount:g}: the upper bound is recorded"
        return amount, _unit(high), note
    raise _Skip("the dose is a rate (rateRatio, rateRange or rateQuantity), which Concord "
                "does not record")


def _amount(quantity: Mapping[str, Any]) -> float:
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value <= 0:
        raise _Skip("the dose is not a positive number")
    return float(value)


def _unit(quantity: Mapping[str, Any]) -> str:
    unit = quantity.get("unit") or quantity.get("code")
    if not isinstance(unit, str) or not unit.strip():
        raise _Skip("the dose has no unit")
    return UNITS.get(unit.strip().lower(), unit.strip())


def _schedule(dosage: Mapping[str, Any], dose: float, unit: str) -> Schedule:
    as_needed = bool(dosage.get("asNeededBoolean")) or "asNeededCodeableConcept" in dosage
    timing = dosage.get("timing") or {}
    repeat = timing.get("repeat") or {}
    code = next((c.get("code") for c in (timing.get("code") or {}).get("coding") or []
                 if c.get("code") in TIMING_CODES), None)
    if repeat.get("period") is not None:
        count = max(int(repeat.get("frequency", 1)), int(repeat.get("frequencyMax", 0)))
        period, period_unit = float(repeat["period"]), str(repeat.get("periodUnit", ""))
        if period_unit not in HOURS:
            raise _Skip(f"the dosing period unit {period_unit!r} is not supported")
        if period_unit in ("s", "min"):
            period, period_unit = period * HOURS[period_unit], "h"
    elif repeat.get("when") or repeat.get("timeOfDay"):
        times = repeat.get("when") or repeat.get("timeOfDay") or []
        count, period, period_unit = len(times), 1.0, "d"
    elif code is not None:
        count, period, period_unit = TIMING_CODES[code][0], TIMING_CODES[code][1], \
            TIMING_CODES[code][2]
    elif as_needed:
        count, period, period_unit = 1, 1.0, "d"
    else:
        raise _Skip("no dosing frequency")
    schedule = Schedule(count=count, period=period, unit=period_unit, as_needed=as_needed)
    if as_needed:
        schedule.max_per_day = _max_per_day(dosage, unit)
        if schedule.max_per_day is None and (timing.get("repeat") or code):
            # The most the order allows: every dose it permits, each at its largest.
            schedule.validate()
            schedule.max_per_day = round(dose * schedule.administrations_per_day(), 6)
    return schedule


def _max_per_day(dosage: Mapping[str, Any], unit: str) -> float | None:
    ratio = dosage.get("maxDosePerPeriod")
    if not isinstance(ratio, dict):
        return None
    numerator, denominator = ratio.get("numerator") or {}, ratio.get("denominator") or {}
    amount, per = numerator.get("value"), denominator.get("value", 1)
    per_unit = denominator.get("code") or denominator.get("unit") or "d"
    per_unit = {"day": "d", "days": "d", "hour": "h", "hours": "h", "week": "wk"}.get(
        per_unit, per_unit)
    named = numerator.get("unit") or numerator.get("code")
    if not isinstance(amount, int | float) or per_unit not in HOURS or not per:
        return None
    if named and UNITS.get(str(named).lower(), str(named)) != unit:
        return None  # a maximum in other units than the dose says nothing we can count
    return float(amount) * 24.0 / (float(per) * HOURS[per_unit])


def _route(dosage: Mapping[str, Any]) -> str:
    route = dosage.get("route")
    if not isinstance(route, dict):
        return "unspecified"
    for coding in route.get("coding") or []:
        if coding.get("code") in ROUTES:
            return ROUTES[coding["code"]]
    words = route.get("text") or next(
        (c.get("display") for c in route.get("coding") or [] if c.get("display")), None)
    if not words:
        return "unspecified"
    return str(words).lower().removesuffix(" route").strip()[:40] or "unspecified"


def _note(resource: Mapping[str, Any], dosage: Mapping[str, Any],
          range_note: str | None) -> str | None:
    parts = []
    if dosage.get("text"):
        parts.append(f"As written in the EHR: {dosage['text']}")
    if range_note:
        parts.append(range_note.capitalize())
    parts += [str(n["text"]) for n in resource.get("note") or [] if n.get("text")]
    return "\n".join(parts)[:4000] or None


def _statement_period(resource: Mapping[str, Any]) -> tuple[dt.date | None, dt.date | None]:
    if "effectivePeriod" in resource:
        period = resource["effectivePeriod"]
        return _date(period.get("start")), _date(period.get("end"))
    return _date(resource.get("effectiveDateTime")), None


def _request_period(resource: Mapping[str, Any],
                    dosages: list[Any]) -> tuple[dt.date | None, dt.date | None]:
    for dosage in dosages[:1]:
        bounds = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
        if isinstance(bounds, dict) and (bounds.get("start") or bounds.get("end")):
            return _date(bounds.get("start")), _date(bounds.get("end"))
    return _date(resource.get("authoredOn")), None


def _date(value: Any) -> dt.date | None:
    """A FHIR date or dateTime's calendar date (a partial date: its first day)."""
    if not isinstance(value, str):
        return None
    match = _FHIR_DATE.match(value)
    if match is None:
        raise Invalid("period", f"{value!r} is not a FHIR date")
    year, month, day = match.groups()
    return dt.date(int(year), int(month or 1), int(day or 1))


def _instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
