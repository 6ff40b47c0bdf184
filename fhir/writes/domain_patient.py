"""A FHIR Patient written through the domain's patient use cases."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from domain.actor import Actor
from domain.errors import Invalid
from domain.patient import Patient
from fhir.inbound.common import fhir_path
from fhir.inbound.patient import PATHS, patient_fields
from service.db.uow import UnitOfWork
from service.usecases import patients
from service.usecases.patients import PatientPatch


def _in_fhir_terms(exc: Invalid) -> Invalid:
    return Invalid(fhir_path("Patient", exc.field, PATHS) or "Patient", exc.detail)


async def create(uow: UnitOfWork, actor: Actor, resource: dict[str, Any], now: dt.datetime
                 ) -> None:
    patient = Patient(id=uuid.UUID(resource["id"]), clinic_id=actor.clinic_id,
                      **patient_fields(resource))
    try:
        await patients.create(uow, actor, patient, now)
    except Invalid as exc:
        raise _in_fhir_terms(exc) from None
    uow.touched.originals[("Patient", resource["id"])] = resource


async def update(uow: UnitOfWork, actor: Actor, resource: dict[str, Any], now: dt.datetime
                 ) -> None:
    patient_id = uuid.UUID(resource["id"])
    current = await uow.patients.get(actor.clinic_id, patient_id)
    fields = patient_fields(resource)
    changed = {k: v for k, v in fields.items() if getattr(current, k) != v}
    if changed:
        try:
            await patients.update(uow, actor, patient_id, PatientPatch(**changed),
                                  current.version, now)
        except Invalid as exc:
            raise _in_fhir_terms(exc) from None
    else:
        await patients.get(uow, actor, patient_id)  # who may see the patient
    uow.touched.patients.add(patient_id)
    uow.touched.originals[("Patient", resource["id"])] = resource
