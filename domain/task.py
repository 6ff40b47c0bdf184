"""Tasks between team members: a review that is due, an alliance that dropped, a
taper guardrail that was hit, or anything one clinician asks of another."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain import patching, transitions
from domain.actor import Actor
from domain.errors import Forbidden, NotFound
from domain.patient import require_text
from domain.vocab import TaskKind, TaskPriority, TaskStatus


class Task(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    title: str
    kind: TaskKind = TaskKind.GENERAL
    status: TaskStatus = TaskStatus.REQUESTED
    priority: TaskPriority = TaskPriority.ROUTINE
    description: str | None = None
    patient_id: uuid.UUID | None = None
    care_plan_id: uuid.UUID | None = None
    goal_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    requester_id: uuid.UUID | None = None
    due_on: dt.date | None = None
    status_reason: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: int = 1

    def validate(self) -> None:
        require_text("title", self.title, max_length=300)
        if self.description is not None:
            require_text("description", self.description, max_length=4000)

    def require_visible(self, actor: Actor, on_plan_team: bool) -> None:
        """Managers see every task; clinicians see tasks they own or asked for, and those
        on plans whose team they are on."""
        if actor.clinic_id != self.clinic_id:
            raise NotFound("task")
        if actor.manages_plans or actor.staff_id in (self.owner_id, self.requester_id):
            return
        if not on_plan_team:
            raise NotFound("task")

    def require_editable(self, actor: Actor) -> None:
        if not (actor.manages_plans or actor.staff_id in (self.owner_id, self.requester_id)):
            raise Forbidden("only the task's owner, its requester or a coordinator may change it")

    def transition(self, target: TaskStatus, reason: str | None, now: dt.datetime) -> None:
        transitions.check(transitions.TASK, "task", self.status, target)
        self.status = target
        self.status_reason = reason
        self.updated_at = now

    @property
    def is_open(self) -> bool:
        return self.status in transitions.TASK_OPEN


class TaskPatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    priority: TaskPriority | msgspec.UnsetType = msgspec.UNSET
    owner_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    due_on: dt.date | msgspec.UnsetType | None = msgspec.UNSET
    status: TaskStatus | msgspec.UnsetType = msgspec.UNSET
    status_reason: str | msgspec.UnsetType | None = msgspec.UNSET


def apply_patch(task: Task, patch: TaskPatch, now: dt.datetime) -> None:
    for field, value in patching.set_fields(patch):
        if field not in ("status", "status_reason"):
            setattr(task, field, value)
    if patch.status is not msgspec.UNSET:
        reason = patch.status_reason if isinstance(patch.status_reason, str) else None
        task.transition(patch.status, reason, now)
    task.updated_at = now
    task.validate()
