"""Patients: created and changed by coordinators, seen by the clinicians who treat them."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain import patching
from domain.actor import Actor
from domain.care_plan import check_version
from domain.errors import NotFound
from domain.patient import ContactPoint, Identifier, Patient, QuietHours
from domain.vocab import Channel
from service.db.uow import UnitOfWork


class PatientPatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    given_name: str | msgspec.UnsetType = msgspec.UNSET
    family_name: str | msgspec.UnsetType = msgspec.UNSET
    birth_date: dt.date | msgspec.UnsetType = msgspec.UNSET
    time_zone: str | msgspec.UnsetType = msgspec.UNSET
    language: str | msgspec.UnsetType = msgspec.UNSET
    preferred_channel: Channel | msgspec.UnsetType = msgspec.UNSET
    contact_points: list[ContactPoint] | msgspec.UnsetType = msgspec.UNSET
    identifiers: list[Identifier] | msgspec.UnsetType = msgspec.UNSET
    quiet_hours: QuietHours | msgspec.UnsetType | None = msgspec.UNSET
    consent_to_messages: bool | msgspec.UnsetType = msgspec.UNSET


async def create(uow: UnitOfWork, actor: Actor, patient: Patient, now: dt.datetime) -> Patient:
    actor.require_plan_manager()
    patient.validate(now.date())
    await uow.patients.add(patient)
    uow.audit(actor, "create", "Patient", patient.id, patient.id)
    return patient


async def get(uow: UnitOfWork, actor: Actor, patient_id: uuid.UUID) -> Patient:
    patient = await uow.patients.get(actor.clinic_id, patient_id)
    if not actor.manages_plans and not await uow.patients.seen_by(
        actor.clinic_id, patient_id, actor.staff_id
    ):
        raise NotFound("patient")
    uow.audit(actor, "read", "Patient", patient.id, patient.id)
    return patient


async def update(
    uow: UnitOfWork,
    actor: Actor,
    patient_id: uuid.UUID,
    patch: PatientPatch,
    expected: int,
    now: dt.datetime,
) -> Patient:
    patient = await get(uow, actor, patient_id)
    actor.require_plan_manager()
    check_version("patient", patient.version, expected)
    for field, value in patching.set_fields(patch):
        if field == "consent_to_messages":
            patient.set_consent(value, now)
        else:
            setattr(patient, field, value)
    patient.validate(now.date())
    patient.version += 1
    await uow.patients.save(patient)
    uow.audit(actor, "update", "Patient", patient.id, patient.id)
    return patient
