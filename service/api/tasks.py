from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post

from domain.actor import Actor
from domain.errors import Invalid
from domain.task import Task
from domain.vocab import TaskStatus
from service.api.deps import expected_version, idempotent, page_limit, with_etag
from service.api.schemas import TaskCreate, TaskUpdate
from service.db import queries
from service.db.queries import Page
from service.db.uow import UnitOfWork
from service.usecases import tasks


class TaskController(Controller):
    path = "/tasks"
    tags = ["tasks"]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: TaskCreate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[Task]:
        async def run() -> Response[Any]:
            task = Task(
                id=uuid.uuid4(),
                clinic_id=actor.clinic_id,
                title=data.title,
                kind=data.kind,
                priority=data.priority,
                description=data.description,
                care_plan_id=data.care_plan_id,
                goal_id=data.goal_id,
                owner_id=data.owner_id,
                due_on=data.due_on,
            )
            await tasks.create(uow, actor, task, now)
            return with_etag(task, task.version, 201, {"Location": f"/api/v1/tasks/{task.id}"})

        return await idempotent(request, uow, actor, run)

    @get("/")
    async def find(
        self,
        uow: UnitOfWork,
        actor: Actor,
        limit: int | None = None,
        cursor: str | None = None,
        status: TaskStatus | None = None,
        owner: str | None = None,
        patient_id: uuid.UUID | None = None,
        care_plan_id: uuid.UUID | None = None,
    ) -> Page[Task]:
        if owner not in (None, "me"):
            raise Invalid("owner", "only `me` is supported")
        page = await queries.tasks(
            uow.conn,
            actor,
            limit=page_limit(limit),
            cursor=cursor,
            status=status,
            owner_me=owner == "me",
            patient_id=patient_id,
            care_plan_id=care_plan_id,
        )
        for task in page.items:
            if task.patient_id is not None:
                uow.audit(actor, "search", "Task", task.id, task.patient_id)
        return page

    @get("/{task_id:uuid}")
    async def read(self, task_id: uuid.UUID, uow: UnitOfWork, actor: Actor) -> Response[Task]:
        task = await tasks.get(uow, actor, task_id)
        return with_etag(task, task.version)

    @patch("/{task_id:uuid}")
    async def update(
        self,
        request: Request[Any, Any, Any],
        task_id: uuid.UUID,
        data: TaskUpdate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[Task]:
        task = await tasks.update(uow, actor, task_id, data, expected_version(request), now)
        return with_etag(task, task.version)
