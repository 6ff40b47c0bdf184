"""The care plan aggregate in and out of its tables, in a fixed number of queries."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from domain.activity import Activity
from domain.care_plan import CarePlan, TeamMember
from domain.errors import NotFound
from domain.goal import Goal
from domain.review import GoalReview
from service.db import tables as t
from service.db.repos.base import Repository, compare_and_set, from_row, to_row

LATEST_REVIEWS = 5

_plan = sa.select(t.care_plans).where(
    t.care_plans.c.id == sa.bindparam("plan_id"),
    t.care_plans.c.clinic_id == sa.bindparam("clinic_id"),
)
_team = (
    sa.select(
        t.care_team_members.c.id,
        t.care_team_members.c.staff_id,
        t.care_team_members.c.discipline,
        t.care_team_members.c.lead,
        t.care_team_members.c.version,
        t.staff.c.name,
    )
    .join(t.staff, t.staff.c.id == t.care_team_members.c.staff_id)
    .where(t.care_team_members.c.care_plan_id == sa.bindparam("plan_id"))
    .order_by(t.care_team_members.c.added_at, t.care_team_members.c.id)
)
_goals = (
    sa.select(t.goals)
    .where(t.goals.c.care_plan_id == sa.bindparam("plan_id"))
    .order_by(t.goals.c.created_at, t.goals.c.id)
)
_activities = (
    sa.select(t.activities)
    .where(t.activities.c.care_plan_id == sa.bindparam("plan_id"))
    .order_by(t.activities.c.created_at, t.activities.c.id)
)
_reviews = (
    sa.select(t.goal_reviews)
    .where(t.goal_reviews.c.care_plan_id == sa.bindparam("plan_id"))
    .order_by(t.goal_reviews.c.reviewed_on.desc(), t.goal_reviews.c.created_at.desc())
    .limit(LATEST_REVIEWS)
)


class CarePlanRepository(Repository):
    async def get(
        self, clinic_id: uuid.UUID, plan_id: uuid.UUID, *, for_update: bool = False
    ) -> CarePlan:
        """Load the whole plan: five queries whatever its size. `for_update` locks the
        plan row so that writers to one plan queue behind each other."""
        params = {"plan_id": plan_id, "clinic_id": clinic_id}
        query = _plan.with_for_update() if for_update else _plan
        row = (await self.conn.execute(query, params)).mappings().first()
        if row is None:
            raise NotFound("care plan")
        team = [
            from_row(r, TeamMember) for r in (await self.conn.execute(_team, params)).mappings()
        ]
        goals = [from_row(r, Goal) for r in (await self.conn.execute(_goals, params)).mappings()]
        activities = [
            from_row(r, Activity) for r in (await self.conn.execute(_activities, params)).mappings()
        ]
        reviews = [
            from_row(r, GoalReview) for r in (await self.conn.execute(_reviews, params)).mappings()
        ]
        return from_row(
            row, CarePlan, team=team, goals=goals, activities=activities, reviews=reviews
        )

    async def plan_of_goal(self, clinic_id: uuid.UUID, goal_id: uuid.UUID) -> uuid.UUID | None:
        return await self.conn.scalar(
            sa.select(t.goals.c.care_plan_id).where(
                t.goals.c.id == goal_id, t.goals.c.clinic_id == clinic_id
            )
        )

    async def add(self, plan: CarePlan) -> None:
        await self.conn.execute(
            t.care_plans.insert().values(
                **to_row(plan, exclude=("team", "goals", "activities", "reviews", "updated_at"))
            )
        )

    async def save(self, plan: CarePlan) -> None:
        values = to_row(
            plan,
            exclude=(
                "id",
                "clinic_id",
                "patient_id",
                "team",
                "goals",
                "activities",
                "reviews",
                "version",
                "created_by",
                "created_at",
            ),
        )
        await compare_and_set(self.conn, t.care_plans, "care plan", plan.id, plan.version, values)

    async def add_member(self, plan: CarePlan, member: TeamMember) -> None:
        await self.conn.execute(
            t.care_team_members.insert().values(
                **to_row(member, exclude=("name",)), care_plan_id=plan.id, clinic_id=plan.clinic_id
            )
        )

    async def save_member(self, member: TeamMember) -> None:
        await compare_and_set(
            self.conn,
            t.care_team_members,
            "team member",
            member.id,
            member.version,
            {"lead": member.lead},
        )

    async def remove_member(self, member: TeamMember) -> None:
        await self.conn.execute(
            t.care_team_members.delete().where(t.care_team_members.c.id == member.id)
        )

    async def add_goal(self, plan: CarePlan, goal: Goal) -> None:
        await self.conn.execute(t.goals.insert().values(**to_row(goal), clinic_id=plan.clinic_id))

    async def save_goal(self, goal: Goal) -> None:
        values = to_row(goal, exclude=("id", "care_plan_id", "version", "created_by", "created_at"))
        await compare_and_set(self.conn, t.goals, "goal", goal.id, goal.version, values)

    async def add_activity(self, plan: CarePlan, activity: Activity) -> None:
        await self.conn.execute(
            t.activities.insert().values(**to_row(activity), clinic_id=plan.clinic_id)
        )

    async def save_activity(self, activity: Activity) -> None:
        values = to_row(
            activity, exclude=("id", "care_plan_id", "version", "created_by", "created_at")
        )
        await compare_and_set(
            self.conn, t.activities, "activity", activity.id, activity.version, values
        )

    async def add_review(self, plan: CarePlan, review: GoalReview) -> None:
        await self.conn.execute(
            t.goal_reviews.insert().values(**to_row(review), clinic_id=plan.clinic_id)
        )
