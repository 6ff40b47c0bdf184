"""The parts of a plan: its team, goals (with each participant's agreement),
activities and reviews."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post

from domain.activity import Activity
from domain.actor import Actor
from domain.goal import Acceptance, Goal
from domain.review import GoalReview, ReviewEntry, ReviewParticipant
from domain.vocab import GoalLifecycle
from service.api.deps import expected_version, idempotent, with_etag
from service.api.schemas import (
    AcceptanceCreate,
    ActivityCreate,
    ActivityRead,
    ActivityUpdate,
    GoalCreate,
    GoalRead,
    GoalUpdate,
    ReviewCreate,
    ReviewRead,
    TeamMemberCreate,
    TeamMemberRead,
    activity_read,
    member_read,
)
from service.db.uow import UnitOfWork
from service.usecases import care_plans

PLAN = "/care-plans/{plan_id:uuid}"


class TeamController(Controller):
    path = PLAN + "/team"
    tags = ["care plans"]

    @get("/")
    async def find(self, plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor) -> list[TeamMemberRead]:
        plan = await care_plans.get(uow, actor, plan_id)
        return [member_read(m) for m in plan.team]

    @post("/", status_code=201)
    async def add(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        data: TeamMemberCreate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[TeamMemberRead]:
        async def run() -> Response[Any]:
            _, member = await care_plans.add_member(
                uow, actor, plan_id, data.staff_id, data.lead, now
            )
            return with_etag(member_read(member), member.version, 201)

        return await idempotent(request, uow, actor, run)

    @delete("/{member_id:uuid}", status_code=204)
    async def remove(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        member_id: uuid.UUID,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> None:
        await care_plans.remove_member(
            uow, actor, plan_id, member_id, expected_version(request), now
        )

    @post("/{member_id:uuid}/lead", status_code=200)
    async def make_lead(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        member_id: uuid.UUID,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[TeamMemberRead]:
        _, member = await care_plans.make_lead(
            uow, actor, plan_id, member_id, expected_version(request), now
        )
        return with_etag(member_read(member), member.version)


class GoalController(Controller):
    path = PLAN + "/goals"
    tags = ["goals"]

    @get("/")
    async def find(
        self,
        plan_id: uuid.UUID,
        uow: UnitOfWork,
        actor: Actor,
        lifecycle_status: GoalLifecycle | None = None,
        review_due_before: dt.date | None = None,
    ) -> list[GoalRead]:
        plan = await care_plans.get(uow, actor, plan_id)
        goals = [
            g
            for g in plan.goals
            if (lifecycle_status is None or g.lifecycle_status is lifecycle_status)
            and (
                review_due_before is None
                or (
                    g.is_open
                    and g.next_review_date is not None
                    and g.next_review_date < review_due_before
                )
            )
        ]
        return [GoalRead.of(g, plan) for g in goals]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        data: GoalCreate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[GoalRead]:
        async def run() -> Response[Any]:
            goal = Goal(
                id=uuid.uuid4(),
                care_plan_id=plan_id,
                description=data.description,
                owners=data.owners,
                expressed_by=data.expressed_by,
                lifecycle_status=data.lifecycle_status,
                achievement_status=data.achievement_status,
                measure=data.measure,
                gas=data.gas,
                gas_weight=data.gas_weight,
                review_cadence_days=data.review_cadence_days,
                next_review_date=data.next_review_date,
            )
            plan, _ = await care_plans.add_goal(uow, actor, plan_id, goal, now)
            return with_etag(
                GoalRead.of(goal, plan),
                goal.version,
                201,
                {"Location": f"/api/v1/care-plans/{plan_id}/goals/{goal.id}"},
            )

        return await idempotent(request, uow, actor, run)

    @get("/{goal_id:uuid}")
    async def read(
        self, plan_id: uuid.UUID, goal_id: uuid.UUID, uow: UnitOfWork, actor: Actor
    ) -> Response[GoalRead]:
        plan, goal = await care_plans.get_goal(uow, actor, plan_id, goal_id)
        return with_etag(GoalRead.of(goal, plan), goal.version)

    @patch("/{goal_id:uuid}")
    async def update(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        goal_id: uuid.UUID,
        data: GoalUpdate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[GoalRead]:
        plan, goal = await care_plans.update_goal(
            uow, actor, plan_id, goal_id, data, expected_version(request), now
        )
        return with_etag(GoalRead.of(goal, plan), goal.version)

    @post("/{goal_id:uuid}/acceptance", status_code=200)
    async def accept(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        goal_id: uuid.UUID,
        data: AcceptanceCreate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[GoalRead]:
        acceptance = Acceptance(
            participant=data.participant, status=data.status, reason=data.reason
        )
        plan, goal = await care_plans.record_acceptance(
            uow, actor, plan_id, goal_id, acceptance, expected_version(request), now
        )
        return with_etag(GoalRead.of(goal, plan), goal.version)


class ActivityController(Controller):
    path = PLAN + "/activities"
    tags = ["activities"]

    @get("/")
    async def find(self, plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor) -> list[ActivityRead]:
        plan = await care_plans.get(uow, actor, plan_id)
        return [activity_read(a) for a in plan.activities]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        data: ActivityCreate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[ActivityRead]:
        async def run() -> Response[Any]:
            activity = Activity(
                id=uuid.uuid4(),
                care_plan_id=plan_id,
                discipline=data.discipline or actor.discipline,
                kind=data.kind,
                description=data.description,
                status=data.status,
                frequency=data.frequency,
                goal_ids=data.goal_ids,
            )
            await care_plans.add_activity(uow, actor, plan_id, activity, now)
            return with_etag(
                activity_read(activity),
                activity.version,
                201,
                {"Location": f"/api/v1/care-plans/{plan_id}/activities/{activity.id}"},
            )

        return await idempotent(request, uow, actor, run)

    @get("/{activity_id:uuid}")
    async def read(
        self, plan_id: uuid.UUID, activity_id: uuid.UUID, uow: UnitOfWork, actor: Actor
    ) -> Response[ActivityRead]:
        activity = await care_plans.get_activity(uow, actor, plan_id, activity_id)
        return with_etag(activity_read(activity), activity.version)

    @patch("/{activity_id:uuid}")
    async def update(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        activity_id: uuid.UUID,
        data: ActivityUpdate,
        uow: UnitOfWork,
        actor: Actor,
    ) -> Response[ActivityRead]:
        activity = await care_plans.update_activity(
            uow, actor, plan_id, activity_id, data, expected_version(request)
        )
        return with_etag(activity_read(activity), activity.version)


class ReviewController(Controller):
    path = PLAN + "/reviews"
    tags = ["goals"]

    @get("/")
    async def find(self, plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor) -> list[ReviewRead]:
        plan = await care_plans.get(uow, actor, plan_id)
        return [ReviewRead.of(r) for r in plan.reviews]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        plan_id: uuid.UUID,
        data: ReviewCreate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[ReviewRead]:
        async def run() -> Response[Any]:
            review = GoalReview(
                id=uuid.uuid4(),
                care_plan_id=plan_id,
                reviewed_on=data.reviewed_on or now.date(),
                entries=[
                    ReviewEntry(
                        goal_id=e.goal_id,
                        level=e.level,
                        achievement_status=e.achievement_status,
                        note=e.note,
                    )
                    for e in data.entries
                ],
                participants=[
                    ReviewParticipant(kind=p.kind, staff_id=p.staff_id) for p in data.participants
                ],
                note=data.note,
                patient_voice=data.patient_voice,
                rho=data.rho,
            )
            await care_plans.record_review(uow, actor, plan_id, review, now)
            return Response(ReviewRead.of(review), status_code=201)

        return await idempotent(request, uow, actor, run)
