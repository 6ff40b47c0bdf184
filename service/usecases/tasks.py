"""Tasks between team members."""

from __future__ import annotations

import datetime as dt
import uuid

from domain.actor import Actor
from domain.care_plan import check_version
from domain.errors import Invalid, NotFound
from domain.task import Task, TaskPatch, apply_patch
from service.db.uow import UnitOfWork


async def _on_team(uow: UnitOfWork, plan_id: uuid.UUID | None, staff_id: uuid.UUID) -> bool:
    return plan_id is not None and await uow.care_plans.is_member(plan_id, staff_id)


async def _check_owner(uow: UnitOfWork, actor: Actor, owner_id: uuid.UUID | None) -> None:
    if owner_id is None:
        return
    try:
        owner = await uow.staff.get(actor.clinic_id, owner_id)
    except NotFound:
        raise Invalid("owner_id", "no staff member with this id") from None
    if not owner.active:
        raise Invalid("owner_id", "the staff member is not active")


async def create(uow: UnitOfWork, actor: Actor, task: Task, now: dt.datetime) -> Task:
    task.validate()
    await _check_owner(uow, actor, task.owner_id)
    if task.care_plan_id is not None:
        try:
            plan = await uow.care_plans.get(actor.clinic_id, task.care_plan_id)
            plan.require_visible(actor)
        except NotFound:
            raise Invalid("care_plan_id", "no care plan with this id") from None
        if task.patient_id not in (None, plan.patient_id):
            raise Invalid("patient_id", "not the patient of this care plan")
        task.patient_id = plan.patient_id
    elif task.patient_id is not None:
        raise Invalid("care_plan_id", "a task about a patient names the care plan it serves")
    task.requester_id, task.created_at, task.updated_at = actor.staff_id, now, now
    await uow.tasks.add(task)
    uow.audit(actor, "create", "Task", task.id, task.patient_id)
    return task


async def get(uow: UnitOfWork, actor: Actor, task_id: uuid.UUID) -> Task:
    task = await uow.tasks.get(actor.clinic_id, task_id)
    task.require_visible(actor, await _on_team(uow, task.care_plan_id, actor.staff_id))
    uow.audit(actor, "read", "Task", task.id, task.patient_id)
    return task


async def update(
    uow: UnitOfWork,
    actor: Actor,
    task_id: uuid.UUID,
    patch: TaskPatch,
    expected: int,
    now: dt.datetime,
) -> Task:
    task = await get(uow, actor, task_id)
    task.require_editable(actor)
    check_version("task", task.version, expected)
    if isinstance(patch.owner_id, uuid.UUID):
        await _check_owner(uow, actor, patch.owner_id)
    apply_patch(task, patch, now)
    task.version += 1
    await uow.tasks.save(task)
    uow.audit(actor, "update", "Task", task.id, task.patient_id)
    return task
