"""The shared plan: load the aggregate under its row lock, let it decide, save what it
changed, and note every access in the audit trail."""

from __future__ import annotations

import datetime as dt
import uuid

from domain.activity import Activity, ActivityPatch
from domain.actor import Actor
from domain.care_plan import CarePlan, Note, PlanPatch, TeamMember
from domain.errors import Invalid
from domain.goal import Acceptance, Goal, GoalPatch
from domain.review import GoalReview
from domain.vocab import PlanStatus
from service.db.uow import UnitOfWork


async def _load(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, *, lock: bool = True
) -> CarePlan:
    plan = await uow.care_plans.get(actor.clinic_id, plan_id, for_update=lock)
    plan.require_visible(actor)
    return plan


async def create(uow: UnitOfWork, actor: Actor, plan: CarePlan, now: dt.datetime) -> CarePlan:
    actor.require_plan_manager()
    await uow.patients.get(actor.clinic_id, plan.patient_id)
    plan.validate()
    if plan.status is not PlanStatus.DRAFT:
        raise Invalid("status", "a plan starts as a draft; activate it once its team has a lead")
    plan.created_by, plan.created_at, plan.updated_at = actor.staff_id, now, now
    await uow.care_plans.add(plan)
    uow.audit(actor, "create", "CarePlan", plan.id, plan.patient_id)
    return plan


async def get(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID) -> CarePlan:
    plan = await _load(uow, actor, plan_id, lock=False)
    uow.audit(actor, "read", "CarePlan", plan.id, plan.patient_id)
    return plan


async def update(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: uuid.UUID,
    patch: PlanPatch,
    expected: int,
    now: dt.datetime,
) -> CarePlan:
    plan = await _load(uow, actor, plan_id)
    plan.update(actor, patch, expected, now)
    await uow.care_plans.save(plan)
    uow.audit(actor, "update", "CarePlan", plan.id, plan.patient_id)
    return plan


async def transition(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: uuid.UUID,
    status: PlanStatus,
    expected: int,
    now: dt.datetime,
) -> CarePlan:
    plan = await _load(uow, actor, plan_id)
    plan.transition(actor, status, expected, now)
    await uow.care_plans.save(plan)
    uow.audit(actor, "transition", "CarePlan", plan.id, plan.patient_id)
    return plan


async def add_note(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, text: str, now: dt.datetime
) -> CarePlan:
    plan = await _load(uow, actor, plan_id)
    plan.add_note(actor, Note(id=uuid.uuid4(), text=text, author_id=actor.staff_id, written_at=now))
    await uow.care_plans.save(plan)
    uow.audit(actor, "update", "CarePlan", plan.id, plan.patient_id)
    return plan


async def add_member(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: uuid.UUID,
    staff_id: uuid.UUID,
    lead: bool,
    now: dt.datetime,
) -> tuple[CarePlan, TeamMember]:
    plan = await _load(uow, actor, plan_id)
    plan.require_manager(actor)
    staff = await uow.staff.get(actor.clinic_id, staff_id)
    member = plan.add_member(actor, staff, uuid.uuid4(), lead, now)
    await uow.care_plans.add_member(plan, member)
    await uow.care_plans.save(plan)
    uow.audit(actor, "create", "CareTeamMember", member.id, plan.patient_id)
    return plan, member


async def remove_member(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: uuid.UUID,
    member_id: uuid.UUID,
    expected: int,
    now: dt.datetime,
) -> CarePlan:
    plan = await _load(uow, actor, plan_id)
    member = plan.remove_member(actor, member_id, expected, now)
    await uow.care_plans.remove_member(member)
    await uow.care_plans.save(plan)
    uow.audit(actor, "delete", "CareTeamMember", member.id, plan.patient_id)
    return plan


async def make_lead(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: uuid.UUID,
    member_id: uuid.UUID,
    expected: int,
    now: dt.datetime,
) -> tuple[CarePlan, TeamMember]:
    plan = await _load(uow, actor, plan_id)
    changed = plan.make_lead(actor, member_id, expected, now)
    # The old lead steps down first, so the one-lead unique index holds at every statement.
    for member in reversed(changed):
        await uow.care_plans.save_member(member)
    await uow.care_plans.save(plan)
    uow.audit(actor, "transition", "CareTeamMember", member_id, plan.patient_id)
    return plan, changed[0]


async def add_goal(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, goal: Goal, now: dt.datetime
) -> tuple[CarePlan, Goal]:
    plan = await _load(uow, actor, plan_id)
    goal.care_plan_id = plan.id
    plan.add_goal(actor, goal, now)
    await uow.care_plans.add_goal(plan, goal)
    await uow.care_plans.save(plan)
    uow.audit(actor, "create", "Goal", goal.id, plan.patient_id)
    return plan, goal


async def get_goal(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, goal_id: uuid.UUID
) -> tuple[CarePlan, Goal]:
    plan = await _load(uow, actor, plan_id, lock=False)
    goal = plan.find_goal(goal_id)
    uow.audit(actor, "read", "Goal", goal.id, plan.patient_id)
    return plan, goal


async def update_goal(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    patch: GoalPatch,
    expected: int,
    now: dt.datetime,
) -> tuple[CarePlan, Goal]:
    plan = await _load(uow, actor, plan_id)
    goal = plan.update_goal(actor, goal_id, patch, expected, now)
    await uow.care_plans.save_goal(goal)
    uow.audit(actor, "update", "Goal", goal.id, plan.patient_id)
    return plan, goal


async def record_acceptance(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    acceptance: Acceptance,
    expected: int,
    now: dt.datetime,
) -> tuple[CarePlan, Goal]:
    plan = await _load(uow, actor, plan_id)
    goal = plan.record_acceptance(actor, goal_id, acceptance, expected, now)
    await uow.care_plans.save_goal(goal)
    uow.audit(actor, "update", "Goal", goal.id, plan.patient_id)
    return plan, goal


async def add_activity(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, activity: Activity, now: dt.datetime
) -> Activity:
    plan = await _load(uow, actor, plan_id)
    activity.care_plan_id = plan.id
    plan.add_activity(actor, activity, now)
    await uow.care_plans.add_activity(plan, activity)
    await uow.care_plans.save(plan)
    uow.audit(actor, "create", "Activity", activity.id, plan.patient_id)
    return activity


async def get_activity(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, activity_id: uuid.UUID
) -> Activity:
    plan = await _load(uow, actor, plan_id, lock=False)
    activity = plan.find_activity(activity_id)
    uow.audit(actor, "read", "Activity", activity.id, plan.patient_id)
    return activity


async def update_activity(
    uow: UnitOfWork,
    actor: Actor,
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    patch: ActivityPatch,
    expected: int,
) -> Activity:
    plan = await _load(uow, actor, plan_id)
    activity = plan.update_activity(actor, activity_id, patch, expected)
    await uow.care_plans.save_activity(activity)
    uow.audit(actor, "update", "Activity", activity.id, plan.patient_id)
    return activity


async def record_review(
    uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, review: GoalReview, now: dt.datetime
) -> tuple[CarePlan, GoalReview]:
    plan = await _load(uow, actor, plan_id)
    review.care_plan_id = plan.id
    for goal in plan.record_review(actor, review, now):
        await uow.care_plans.save_goal(goal)
    await uow.care_plans.add_review(plan, review)
    uow.audit(actor, "create", "GoalReview", review.id, plan.patient_id)
    return plan, review
