"""Medications on the plan: recorded by the physician (or a coordinator), seen by the
whole team."""

from __future__ import annotations

import datetime as dt
import uuid

from domain import medication
from domain.actor import Actor
from domain.care_plan import CarePlan
from domain.medication import MedicationPatch, MedicationStatement
from service.db.uow import UnitOfWork


async def record(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID,
                 statement: MedicationStatement, now: dt.datetime) -> CarePlan:
    plan = await uow.care_plans.get(actor.clinic_id, plan_id, for_update=True)
    statement.care_plan_id, statement.patient_id = plan.id, plan.patient_id
    medication.record(plan, actor, statement, now)
    await uow.care_plans.add_medication(plan, statement)
    uow.audit(actor, "create", "MedicationStatement", statement.id, plan.patient_id)
    return plan


async def get(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID,
              statement_id: uuid.UUID) -> MedicationStatement:
    plan = await uow.care_plans.get(actor.clinic_id, plan_id)
    plan.require_visible(actor)
    statement = medication.find(plan, statement_id)
    uow.audit(actor, "read", "MedicationStatement", statement.id, plan.patient_id)
    return statement


async def update(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, statement_id: uuid.UUID,
                 patch: MedicationPatch, expected: int, now: dt.datetime) -> MedicationStatement:
    plan = await uow.care_plans.get(actor.clinic_id, plan_id, for_update=True)
    statement = medication.update(plan, actor, statement_id, patch, expected, now)
    await uow.care_plans.save_medication(statement)
    uow.audit(actor, "update", "MedicationStatement", statement.id, plan.patient_id)
    return statement
