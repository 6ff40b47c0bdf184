"""A FHIR MedicationStatement recorded on the patient's care plan through the medication
use cases, so its MME counts in the plan's opioid safety like any other.

One Concord cannot read as a structured RxNorm dose (SNOMED or NDC codes, a dose only in
text, several dosage lines) is kept as written, tagged `not-in-mme` with the reason, so
that nobody mistakes it for one the MME total includes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec

from domain.actor import Actor
from domain.errors import Invalid
from domain.medication import ReportedBy
from fhir.inbound.common import fhir_path
from fhir.inbound.medication import EhrMedication, from_fhir
from fhir.mapping import extensions as ext
from fhir.writes.validation import local_reference
from service.db.uow import UnitOfWork
from service.usecases import medications

NOT_IN_MME = "not-in-mme"
TAG_SYSTEM = f"{ext.CODE_SYSTEM_BASE}/medication-statement-tag"
PATHS = {
    "rxnorm_code": "MedicationStatement.medicationCodeableConcept",
    "dose_quantity": "MedicationStatement.dosage[0].doseAndRate[0].doseQuantity",
    "dose_unit": "MedicationStatement.dosage[0].doseAndRate[0].doseQuantity.unit",
    "route": "MedicationStatement.dosage[0].route",
    "schedule": "MedicationStatement.dosage[0].timing",
    "status": "MedicationStatement.status",
    "period_start": "MedicationStatement.effectivePeriod.start",
    "period_end": "MedicationStatement.effectivePeriod.end",
}


def _in_fhir_terms(exc: Invalid) -> Invalid:
    return Invalid(fhir_path("MedicationStatement", exc.field, PATHS)
                   or "MedicationStatement", exc.detail)


async def _plan_for(uow: UnitOfWork, actor: Actor, resource: dict[str, Any], base: str
                    ) -> uuid.UUID:
    """The plan named by basedOn/partOf (a CarePlan), else the patient's one open plan."""
    for key in ("basedOn", "partOf"):
        for ref in resource.get(key, []):
            local = local_reference(str(ref.get("reference", "")), base)
            if local is not None and local[0] == "CarePlan":
                return uuid.UUID(local[1])
    subject = str((resource.get("subject") or {}).get("reference", ""))
    try:
        patient_id = uuid.UUID(subject.removeprefix("Patient/"))
    except ValueError:
        raise Invalid("MedicationStatement.subject", "must reference a Patient") from None
    plans = await uow.care_plans.open_plans_of(actor.clinic_id, patient_id)
    if len(plans) != 1:
        raise Invalid("MedicationStatement.basedOn",
                      "the patient has no open care plan" if not plans else
                      "the patient has several open plans: name one in basedOn")
    return plans[0]


def tagged_unstructured(resource: dict[str, Any], reason: str) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t.get("system") != TAG_SYSTEM]
    tags.append({"system": TAG_SYSTEM, "code": NOT_IN_MME,
                 "display": f"not counted in MME: {reason}"[:250]})
    meta["tag"] = tags
    return {**resource, "meta": meta}


def _statement(found: EhrMedication, statement_id: uuid.UUID, actor: Actor) -> Any:
    statement = found.statement(statement_id)
    if not actor.is_system:  # a clinician recording it through FHIR
        statement = msgspec.structs.replace(statement, reported_by=ReportedBy.CLINICIAN,
                                            source=str(actor.staff_id))
    return statement


async def create(uow: UnitOfWork, actor: Actor, resource: dict[str, Any], now: dt.datetime,
                 base: str) -> bool:
    """Record it on the plan; False when it is not structured enough to (the caller keeps
    it as written, tagged)."""
    found = from_fhir(resource, base)
    if not isinstance(found, EhrMedication):
        return False
    plan_id = await _plan_for(uow, actor, resource, base)
    try:
        await medications.record(uow, actor, plan_id,
                                 _statement(found, uuid.UUID(resource["id"]), actor), now)
    except Invalid as exc:
        raise _in_fhir_terms(exc) from None
    uow.touched.originals[("MedicationStatement", resource["id"])] = resource
    return True


async def update(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID,
                 resource: dict[str, Any], now: dt.datetime, base: str) -> None:
    found = from_fhir(resource, base)
    if not isinstance(found, EhrMedication):
        raise Invalid("MedicationStatement", f"Concord cannot keep this change: {found.reason}")
    statement_id = uuid.UUID(resource["id"])
    current = await medications.get(uow, actor, plan_id, statement_id)
    try:
        await medications.update(uow, actor, plan_id, statement_id, found.patch(),
                                 current.version, now)
    except Invalid as exc:
        raise _in_fhir_terms(exc) from None
    uow.touched.plans.add(plan_id)
    uow.touched.originals[("MedicationStatement", resource["id"])] = resource
