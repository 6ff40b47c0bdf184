"""The care plan aggregate in and out of its tables; read in one statement."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import sqlalchemy as sa

from domain.activity import Activity
from domain.care_plan import CarePlan, TeamMember
from domain.errors import NotFound
from domain.goal import Goal
from domain.medication import MedicationStatement
from domain.opioids.taper import TaperPlan
from domain.review import GoalReview
from domain.transitions import PLAN_OPEN
from service.db import tables as t
from service.db.repos.base import Repository, compare_and_set, to_row

LATEST_REVIEWS = 5

# The whole aggregate as one JSON document, built by PostgreSQL in one round trip and
# decoded by msgspec straight into the domain's CarePlan: one statement whatever the plan's
# size, and no per-row work in Python. Children sort as they were added.
_DOCUMENT = """
SELECT (to_jsonb(p) || jsonb_build_object(
    'team', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'id', m.id, 'staff_id', m.staff_id, 'name', s.name, 'discipline', m.discipline,
            'lead', m.lead, 'version', m.version) ORDER BY m.added_at, m.id)
        FROM care_team_members m JOIN staff s ON s.id = m.staff_id
        WHERE m.care_plan_id = p.id), '[]'::jsonb),
    'goals', coalesce((
        SELECT jsonb_agg(to_jsonb(g) ORDER BY g.created_at, g.id)
        FROM goals g WHERE g.care_plan_id = p.id), '[]'::jsonb),
    'activities', coalesce((
        SELECT jsonb_agg(to_jsonb(a) ORDER BY a.created_at, a.id)
        FROM activities a WHERE a.care_plan_id = p.id), '[]'::jsonb),
    'tapers', coalesce((
        SELECT jsonb_agg(tp.document ORDER BY tp.created_at, tp.id)
        FROM taper_plans tp WHERE tp.care_plan_id = p.id), '[]'::jsonb),
    'opioid_reviewed_on', (
        SELECT max(o.reviewed_on) FROM opioid_reviews o WHERE o.care_plan_id = p.id),
    'medications', coalesce((
        SELECT jsonb_agg(to_jsonb(s) ORDER BY s.created_at, s.id)
        FROM medication_statements s WHERE s.care_plan_id = p.id), '[]'::jsonb),
    'reviews', coalesce((
        SELECT jsonb_agg(to_jsonb(r) ORDER BY r.reviewed_on DESC, r.created_at DESC)
        FROM (SELECT * FROM goal_reviews WHERE care_plan_id = p.id
              ORDER BY reviewed_on DESC, created_at DESC LIMIT :latest) r), '[]'::jsonb)
))::text AS document
FROM care_plans p
WHERE p.id = :plan_id AND p.clinic_id = :clinic_id
"""
READ_PLAN = sa.text(_DOCUMENT).bindparams(
    sa.bindparam("plan_id", type_=t.care_plans.c.id.type),
    sa.bindparam("clinic_id", type_=t.care_plans.c.clinic_id.type),
    sa.bindparam("latest", value=LATEST_REVIEWS, type_=sa.Integer),
)
READ_PLAN_FOR_UPDATE = sa.text(_DOCUMENT + " FOR UPDATE OF p").bindparams(
    *READ_PLAN._bindparams.values()
)
_decoder = msgspec.json.Decoder(CarePlan)
_CHILDREN = ("team", "goals", "activities", "reviews", "medications", "tapers",
             "opioid_reviewed_on")


class CarePlanRepository(Repository):
    async def get(
        self, clinic_id: uuid.UUID, plan_id: uuid.UUID, *, for_update: bool = False
    ) -> CarePlan:
        """Load the whole plan in one statement. `for_update` locks the plan row so that
        writers to one plan queue behind each other."""
        query = READ_PLAN_FOR_UPDATE if for_update else READ_PLAN
        document = await self.conn.scalar(query, {"plan_id": plan_id, "clinic_id": clinic_id})
        if document is None:
            raise NotFound("care plan")
        return _decoder.decode(document)

    async def is_member(self, plan_id: uuid.UUID, staff_id: uuid.UUID) -> bool:
        """Whether the staff member is on this plan's care team."""
        return bool(await self.conn.scalar(sa.select(sa.exists().where(
            t.care_team_members.c.care_plan_id == plan_id,
            t.care_team_members.c.staff_id == staff_id))))

    async def _plan_of(self, table: sa.Table, clinic_id: uuid.UUID,
                       part_id: uuid.UUID) -> uuid.UUID | None:
        """The plan a goal, activity or medication belongs to; None if not this clinic's."""
        return await self.conn.scalar(sa.select(table.c.care_plan_id).where(
            table.c.id == part_id, table.c.clinic_id == clinic_id))

    async def plan_of_goal(self, clinic_id: uuid.UUID, goal_id: uuid.UUID) -> uuid.UUID | None:
        return await self._plan_of(t.goals, clinic_id, goal_id)

    async def plan_of_medication(self, clinic_id: uuid.UUID,
                                 statement_id: uuid.UUID) -> uuid.UUID | None:
        return await self._plan_of(t.medication_statements, clinic_id, statement_id)

    async def plan_of_activity(self, clinic_id: uuid.UUID,
                               activity_id: uuid.UUID) -> uuid.UUID | None:
        return await self._plan_of(t.activities, clinic_id, activity_id)

    async def open_plans_of(self, clinic_id: uuid.UUID,
                            patient_id: uuid.UUID) -> list[uuid.UUID]:
        """The patient's plans still open (draft, active, on hold), oldest first."""
        rows = await self.conn.scalars(
            sa.select(t.care_plans.c.id).where(
                t.care_plans.c.clinic_id == clinic_id,
                t.care_plans.c.patient_id == patient_id,
                t.care_plans.c.status.in_([s.value for s in PLAN_OPEN]))
            .order_by(t.care_plans.c.created_at, t.care_plans.c.id))
        return list(rows)

    async def add(self, plan: CarePlan) -> None:
        self.touched.plans.add(plan.id)
        await self.conn.execute(
            t.care_plans.insert().values(**to_row(plan, exclude=(*_CHILDREN, "updated_at")))
        )

    async def save(self, plan: CarePlan) -> None:
        self.touched.plans.add(plan.id)
        values = to_row(
            plan,
            exclude=(
                "id",
                "clinic_id",
                "patient_id",
                "team",
                "goals",
                "activities",
                *_CHILDREN,
                "version",
                "created_by",
                "created_at",
            ),
        )
        await compare_and_set(self.conn, t.care_plans, "care plan", plan.id, plan.version, values)

    async def add_member(self, plan: CarePlan, member: TeamMember) -> None:
        self.touched.plans.add(plan.id)
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
        self.touched.plans.add(plan.id)
        await self.conn.execute(t.goals.insert().values(**to_row(goal), clinic_id=plan.clinic_id))

    async def save_goal(self, goal: Goal) -> None:
        self.touched.plans.add(goal.care_plan_id)
        values = to_row(goal, exclude=("id", "care_plan_id", "version", "created_by", "created_at"))
        await compare_and_set(self.conn, t.goals, "goal", goal.id, goal.version, values)

    async def add_activity(self, plan: CarePlan, activity: Activity) -> None:
        self.touched.plans.add(plan.id)
        await self.conn.execute(
            t.activities.insert().values(**to_row(activity), clinic_id=plan.clinic_id)
        )

    async def save_activity(self, activity: Activity) -> None:
        self.touched.plans.add(activity.care_plan_id)
        values = to_row(
            activity, exclude=("id", "care_plan_id", "version", "created_by", "created_at")
        )
        await compare_and_set(
            self.conn, t.activities, "activity", activity.id, activity.version, values
        )

    async def add_medication(self, plan: CarePlan, statement: MedicationStatement) -> None:
        self.touched.plans.add(plan.id)
        await self.conn.execute(
            t.medication_statements.insert().values(**to_row(statement), clinic_id=plan.clinic_id)
        )

    async def save_medication(self, statement: MedicationStatement) -> None:
        self.touched.plans.add(statement.care_plan_id)
        values = to_row(
            statement, exclude=("id", "care_plan_id", "patient_id", "version", "created_at")
        )
        await compare_and_set(
            self.conn,
            t.medication_statements,
            "medication statement",
            statement.id,
            statement.version,
            values,
        )

    async def add_taper(self, plan: CarePlan, taper: TaperPlan) -> None:
        await self.conn.execute(t.taper_plans.insert().values(
            id=taper.id, clinic_id=plan.clinic_id, care_plan_id=plan.id,
            patient_id=plan.patient_id, status=taper.status.value,
            document=msgspec.to_builtins(taper), version=taper.version))

    async def save_taper(self, taper: TaperPlan) -> None:
        await compare_and_set(self.conn, t.taper_plans, "taper plan", taper.id, taper.version, {
            "status": taper.status.value, "document": msgspec.to_builtins(taper),
            "updated_at": sa.func.clock_timestamp()})

    async def add_opioid_review(self, plan: CarePlan, reviewed_on: dt.date,
                                reviewed_by: uuid.UUID, note: str | None) -> uuid.UUID:
        review_id = uuid.uuid4()
        await self.conn.execute(t.opioid_reviews.insert().values(
            id=review_id, clinic_id=plan.clinic_id, care_plan_id=plan.id,
            reviewed_on=reviewed_on, reviewed_by=reviewed_by, note=note))
        return review_id

    async def add_review(self, plan: CarePlan, review: GoalReview) -> None:
        self.touched.plans.add(plan.id)
        await self.conn.execute(
            t.goal_reviews.insert().values(**to_row(review), clinic_id=plan.clinic_id)
        )
