"""The aggregate's rules, no fixtures, no I/O."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domain.actor import Actor
from domain.care_plan import CarePlan, PlanPatch
from domain.errors import (
    Forbidden,
    IllegalTransition,
    Invalid,
    NotOnCareTeam,
    NotYourDiscipline,
    StaleVersion,
)
from domain.goal import Goal, GoalPatch
from domain.staff import Staff
from domain.vocab import GoalLifecycle, PlanStatus, Role

NOW = dt.datetime(2026, 11, 21, 15, tzinfo=dt.UTC)
CLINIC = uuid.uuid4()


def staff(discipline: str, role: Role = Role.CLINICIAN) -> Staff:
    return Staff(
        id=uuid.uuid4(), clinic_id=CLINIC, name=discipline, discipline=discipline, role=role
    )


def actor(member: Staff) -> Actor:
    return Actor(
        clinic_id=CLINIC, staff_id=member.id, role=member.role, discipline=member.discipline
    )


COORDINATOR = actor(staff("administration", Role.COORDINATOR))


def plan_with_team() -> tuple[CarePlan, dict[str, Staff]]:
    plan = CarePlan(id=uuid.uuid4(), clinic_id=CLINIC, patient_id=uuid.uuid4(), title="Plan")
    team = {d: staff(d) for d in ("physician", "physical_therapist", "psychologist")}
    for discipline, member in team.items():
        plan.add_member(COORDINATOR, member, uuid.uuid4(), discipline == "physician", NOW)
    return plan, team


def goal(owner: str) -> Goal:
    return Goal(
        id=uuid.uuid4(),
        care_plan_id=uuid.uuid4(),
        description="Walk the dog",
        owners=[owner],
        lifecycle_status=GoalLifecycle.ACTIVE,
    )


class TestTeam:
    def test_a_plan_has_one_lead(self) -> None:
        plan, _ = plan_with_team()
        with pytest.raises(IllegalTransition, match="already has a lead"):
            plan.add_member(COORDINATOR, staff("acupuncturist"), uuid.uuid4(), True, NOW)

    def test_handing_over_the_lead_keeps_one(self) -> None:
        plan, team = plan_with_team()
        psychologist = plan.member(team["psychologist"].id)
        assert psychologist is not None
        plan.make_lead(COORDINATOR, psychologist.id, psychologist.version, NOW)
        assert [m.discipline for m in plan.team if m.lead] == ["psychologist"]

    def test_clinicians_do_not_manage_the_team(self) -> None:
        plan, team = plan_with_team()
        with pytest.raises(Forbidden):
            plan.add_member(
                actor(team["physician"]), staff("acupuncturist"), uuid.uuid4(), False, NOW
            )


class TestVisibility:
    def test_a_clinician_off_the_team_cannot_see_the_plan(self) -> None:
        plan, _ = plan_with_team()
        with pytest.raises(NotOnCareTeam):
            plan.require_visible(actor(staff("physician")))


class TestGoals:
    def test_a_clinician_edits_only_their_disciplines_goals(self) -> None:
        plan, team = plan_with_team()
        item = goal("physical_therapist")
        plan.add_goal(actor(team["physical_therapist"]), item, NOW)
        with pytest.raises(NotYourDiscipline):
            plan.update_goal(
                actor(team["psychologist"]),
                item.id,
                GoalPatch(description="Run a marathon"),
                item.version,
                NOW,
            )

    def test_stale_version_is_refused(self) -> None:
        plan, team = plan_with_team()
        item = goal("physical_therapist")
        plan.add_goal(actor(team["physical_therapist"]), item, NOW)
        plan.update_goal(COORDINATOR, item.id, GoalPatch(description="Walk more"), 1, NOW)
        with pytest.raises(StaleVersion):
            plan.update_goal(COORDINATOR, item.id, GoalPatch(description="Walk less"), 1, NOW)

    def test_owners_must_be_on_the_team(self) -> None:
        plan, _ = plan_with_team()
        with pytest.raises(Invalid) as raised:
            plan.add_goal(COORDINATOR, goal("acupuncturist"), NOW)
        assert raised.value.field == "owners[0]"

    def test_first_review_is_one_cadence_away(self) -> None:
        plan, team = plan_with_team()
        item = goal("physician")
        item.review_cadence_days = 14
        plan.add_goal(actor(team["physician"]), item, NOW)
        assert item.next_review_date == dt.date(2026, 12, 5)

    def test_completed_goal_cannot_be_reopened(self) -> None:
        item = goal("physician")
        item.transition(GoalLifecycle.COMPLETED)
        with pytest.raises(IllegalTransition):
            item.transition(GoalLifecycle.ACTIVE)


class TestPlanLifecycle:
    def test_activation_needs_a_lead(self) -> None:
        plan = CarePlan(id=uuid.uuid4(), clinic_id=CLINIC, patient_id=uuid.uuid4(), title="P")
        with pytest.raises(IllegalTransition, match="no lead"):
            plan.transition(COORDINATOR, PlanStatus.ACTIVE, plan.version, NOW)

    def test_completion_waits_for_open_goals(self) -> None:
        plan, team = plan_with_team()
        plan.transition(COORDINATOR, PlanStatus.ACTIVE, plan.version, NOW)
        item = goal("physician")
        plan.add_goal(actor(team["physician"]), item, NOW)
        with pytest.raises(IllegalTransition, match="still open"):
            plan.transition(COORDINATOR, PlanStatus.COMPLETED, plan.version, NOW)
        plan.update_goal(
            COORDINATOR,
            item.id,
            GoalPatch(lifecycle_status=GoalLifecycle.COMPLETED),
            item.version,
            NOW,
        )
        plan.transition(COORDINATOR, PlanStatus.COMPLETED, plan.version, NOW)
        assert plan.status is PlanStatus.COMPLETED and plan.period_end == NOW.date()

    def test_a_revoked_plan_takes_no_new_goals(self) -> None:
        plan, team = plan_with_team()
        plan.transition(COORDINATOR, PlanStatus.REVOKED, plan.version, NOW)
        with pytest.raises(IllegalTransition, match="revoked"):
            plan.add_goal(actor(team["physician"]), goal("physician"), NOW)

    def test_period_cannot_end_before_it_starts(self) -> None:
        plan, _ = plan_with_team()
        with pytest.raises(Invalid) as raised:
            plan.update(
                COORDINATOR,
                PlanPatch(period_start=dt.date(2026, 5, 1), period_end=dt.date(2026, 4, 1)),
                plan.version,
                NOW,
            )
        assert raised.value.field == "period_end"
