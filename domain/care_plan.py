"""The shared care plan: one per patient and episode, the whole team working from it.

The aggregate enforces who may change what and which state changes are legal. Every
change bumps the version of what it changed, and the caller's expected version must
match (optimistic concurrency; the persistence layer compares-and-sets it again).
"""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain import activity as activity_rules
from domain import gas, patching, transitions
from domain import goal as goal_rules
from domain.activity import Activity, ActivityPatch
from domain.actor import Actor
from domain.errors import (
    Forbidden,
    IllegalTransition,
    Invalid,
    NotFound,
    NotOnCareTeam,
    NotYourDiscipline,
    StaleVersion,
)
from domain.goal import Acceptance, Goal, GoalPatch
from domain.medication import MedicationStatement
from domain.opioids.taper import TaperPlan
from domain.patient import require_text
from domain.review import GoalReview
from domain.staff import Staff
from domain.vocab import PATIENT_PARTICIPANT, PlanStatus


class TeamMember(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    staff_id: uuid.UUID
    name: str
    discipline: str
    lead: bool = False
    version: int = 1


class Note(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    text: str
    author_id: uuid.UUID
    written_at: dt.datetime


class CarePlan(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    title: str
    status: PlanStatus = PlanStatus.DRAFT
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    what_matters: str | None = None
    health_concerns: list[str] = msgspec.field(default_factory=list)
    notes: list[Note] = msgspec.field(default_factory=list)
    team: list[TeamMember] = msgspec.field(default_factory=list)
    goals: list[Goal] = msgspec.field(default_factory=list)
    activities: list[Activity] = msgspec.field(default_factory=list)
    reviews: list[GoalReview] = msgspec.field(default_factory=list)
    medications: list[MedicationStatement] = msgspec.field(default_factory=list)
    tapers: list[TaperPlan] = msgspec.field(default_factory=list)
    opioid_reviewed_on: dt.date | None = None
    """The prescriber's last review of opioid benefits and harms with the patient."""
    created_by: uuid.UUID | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: int = 1

    # -- who may see and change what ------------------------------------------------

    def member(self, staff_id: uuid.UUID) -> TeamMember | None:
        return next((m for m in self.team if m.staff_id == staff_id), None)

    def require_visible(self, actor: Actor) -> None:
        """Coordinators and admins see every plan of their clinic; clinicians only those
        whose team they are on. For anyone else the plan does not exist."""
        if actor.clinic_id != self.clinic_id:
            raise NotFound("care plan")
        if not actor.manages_plans and self.member(actor.staff_id) is None:
            raise NotOnCareTeam()

    def require_manager(self, actor: Actor) -> None:
        self.require_visible(actor)
        if not actor.manages_plans:
            raise Forbidden("only coordinators and admins manage plans and teams")

    def require_discipline(self, actor: Actor, disciplines: list[str], what: str) -> None:
        self.require_visible(actor)
        if actor.manages_plans:
            return
        if actor.discipline not in disciplines:
            raise NotYourDiscipline(f"this {what} belongs to {', '.join(disciplines)}")

    def require_open(self, what: str) -> None:
        if self.status not in transitions.PLAN_OPEN:
            raise IllegalTransition(f"cannot {what}: the plan is {self.status.value}")

    @property
    def disciplines(self) -> set[str]:
        return {m.discipline for m in self.team}

    @property
    def participants(self) -> list[str]:
        """Whose agreement a goal needs: the patient, then each discipline on the team."""
        return [PATIENT_PARTICIPANT, *sorted(self.disciplines)]

    @property
    def lead(self) -> TeamMember | None:
        return next((m for m in self.team if m.lead), None)

    def _bump(self, expected: int | None, now: dt.datetime) -> None:
        check_version("care plan", self.version, expected)
        self.version += 1
        self.updated_at = now

    # -- the plan itself ------------------------------------------------------------

    def validate(self) -> None:
        require_text("title", self.title, max_length=300)
        if self.what_matters is not None:
            require_text("what_matters", self.what_matters, max_length=4000)
        for index, concern in enumerate(self.health_concerns):
            require_text(f"health_concerns[{index}]", concern, max_length=500)
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise Invalid("period_end", "the period ends before it starts")

    def update(self, actor: Actor, patch: PlanPatch, expected: int, now: dt.datetime) -> None:
        self.require_manager(actor)
        self.require_open("change the plan")
        patching.apply(self, patch)
        self.validate()
        self._bump(expected, now)

    def transition(self, actor: Actor, target: PlanStatus, expected: int, now: dt.datetime) -> None:
        self.require_manager(actor)
        transitions.check(transitions.PLAN, "care plan", self.status, target)
        if target is PlanStatus.COMPLETED:
            still_open = [g for g in self.goals if g.is_open]
            if still_open:
                raise IllegalTransition(
                    f"cannot complete the plan: {len(still_open)} goal(s) are still open; "
                    "complete or cancel them first",
                    field="status",
                )
        if target is PlanStatus.ACTIVE and self.lead is None:
            raise IllegalTransition(
                "cannot activate the plan: its care team has no lead", field="status"
            )
        self.status = target
        if target is PlanStatus.ACTIVE and self.period_start is None and (
            self.period_end is None or self.period_end >= now.date()
        ):
            # A plan recorded as history (its period already over) keeps no invented start.
            self.period_start = now.date()
        if target in (PlanStatus.COMPLETED, PlanStatus.REVOKED) and self.period_end is None:
            self.period_end = now.date()
        self._bump(expected, now)

    def add_note(self, actor: Actor, note: Note) -> None:
        self.require_visible(actor)
        require_text("text", note.text, max_length=4000)
        self.notes.append(note)
        self._bump(None, note.written_at)

    # -- the team -------------------------------------------------------------------

    def add_member(
        self, actor: Actor, staff: Staff, member_id: uuid.UUID, lead: bool, now: dt.datetime
    ) -> TeamMember:
        self.require_manager(actor)
        self.require_open("change the team")
        if not staff.active or staff.clinic_id != self.clinic_id:
            raise Invalid("staff_id", "no active staff member with this id")
        if self.member(staff.id) is not None:
            raise IllegalTransition("this staff member is already on the team", field="staff_id")
        if lead and self.lead is not None:
            raise IllegalTransition(
                f"the plan already has a lead ({self.lead.name}); hand the lead over instead",
                field="lead",
            )
        member = TeamMember(
            id=member_id, staff_id=staff.id, name=staff.name, discipline=staff.discipline, lead=lead
        )
        self.team.append(member)
        self._bump(None, now)
        return member

    def find_member(self, member_id: uuid.UUID) -> TeamMember:
        found = next((m for m in self.team if m.id == member_id), None)
        if found is None:
            raise NotFound("team member")
        return found

    def remove_member(
        self, actor: Actor, member_id: uuid.UUID, expected: int, now: dt.datetime
    ) -> TeamMember:
        self.require_manager(actor)
        self.require_open("change the team")
        member = self.find_member(member_id)
        check_version("team member", member.version, expected)
        if member.lead:
            raise IllegalTransition("the lead cannot leave the team; hand the lead over first")
        if member.discipline not in {m.discipline for m in self.team if m is not member}:
            owned = [g for g in self.goals if g.is_open and member.discipline in g.owners]
            if owned:
                raise IllegalTransition(
                    f"{len(owned)} open goal(s) are owned by {member.discipline}, "
                    "the last one on the team; reassign them first"
                )
        self.team.remove(member)
        self._bump(None, now)
        return member

    def make_lead(
        self, actor: Actor, member_id: uuid.UUID, expected: int, now: dt.datetime
    ) -> list[TeamMember]:
        """Hand the lead to `member_id`; the previous lead stays on the team."""
        self.require_manager(actor)
        self.require_open("change the team")
        member = self.find_member(member_id)
        check_version("team member", member.version, expected)
        changed = [member]
        previous = self.lead
        if previous is not None and previous is not member:
            previous.lead = False
            previous.version += 1
            changed.append(previous)
        member.lead = True
        member.version += 1
        self._bump(None, now)
        return changed

    # -- goals ----------------------------------------------------------------------

    def find_goal(self, goal_id: uuid.UUID) -> Goal:
        found = next((g for g in self.goals if g.id == goal_id), None)
        if found is None:
            raise NotFound("goal")
        return found

    def add_goal(self, actor: Actor, goal: Goal, now: dt.datetime) -> None:
        self.require_discipline(actor, goal.owners, "goal")
        self.require_open("add a goal")
        goal.validate(self.disciplines)
        if goal.next_review_date is None:
            goal.next_review_date = now.date() + dt.timedelta(days=goal.review_cadence_days)
        goal.created_by = actor.staff_id
        goal.created_at = now
        self.goals.append(goal)
        self._bump(None, now)

    def update_goal(
        self, actor: Actor, goal_id: uuid.UUID, patch: GoalPatch, expected: int, now: dt.datetime
    ) -> Goal:
        goal = self.find_goal(goal_id)
        self.require_discipline(actor, goal.owners, "goal")
        self.require_open("change a goal")
        check_version("goal", goal.version, expected)
        goal_rules.apply_patch(goal, patch)
        if not actor.manages_plans and actor.discipline not in goal.owners:
            raise NotYourDiscipline("you cannot hand a goal away from your own discipline")
        goal.validate(self.disciplines)
        goal.version += 1
        return goal

    def record_acceptance(
        self,
        actor: Actor,
        goal_id: uuid.UUID,
        acceptance: Acceptance,
        expected: int,
        now: dt.datetime,
    ) -> Goal:
        """The patient's stance may be recorded by anyone on the team or a coordinator; a
        discipline's stance only by a clinician of that discipline on the team."""
        goal = self.find_goal(goal_id)
        self.require_visible(actor)
        self.require_open("record agreement")
        check_version("goal", goal.version, expected)
        if acceptance.participant != PATIENT_PARTICIPANT:
            if acceptance.participant not in self.disciplines:
                raise Invalid("participant", "the patient or a discipline on the care team")
            if actor.discipline != acceptance.participant or self.member(actor.staff_id) is None:
                raise NotYourDiscipline(
                    f"only a {acceptance.participant} on the team can speak for that discipline"
                )
        acceptance.recorded_by = actor.staff_id
        acceptance.recorded_at = now
        goal.record_acceptance(acceptance)
        goal.version += 1
        return goal

    # -- activities -----------------------------------------------------------------

    def find_activity(self, activity_id: uuid.UUID) -> Activity:
        found = next((a for a in self.activities if a.id == activity_id), None)
        if found is None:
            raise NotFound("activity")
        return found

    def add_activity(self, actor: Actor, activity: Activity, now: dt.datetime) -> None:
        self.require_discipline(actor, [activity.discipline], "activity")
        self.require_open("add an activity")
        activity.validate(self.disciplines, {g.id for g in self.goals})
        activity.created_by = actor.staff_id
        activity.created_at = now
        self.activities.append(activity)
        self._bump(None, now)

    def update_activity(
        self, actor: Actor, activity_id: uuid.UUID, patch: ActivityPatch, expected: int
    ) -> Activity:
        activity = self.find_activity(activity_id)
        self.require_discipline(actor, [activity.discipline], "activity")
        self.require_open("change an activity")
        check_version("activity", activity.version, expected)
        activity_rules.apply_patch(activity, patch)
        activity.validate(self.disciplines, {g.id for g in self.goals})
        activity.version += 1
        return activity

    # -- reviews --------------------------------------------------------------------

    def record_review(self, actor: Actor, review: GoalReview, now: dt.datetime) -> list[Goal]:
        """Score the reviewed goals, compute the plan's GAS T-score over them and move
        each goal's next review date on by its cadence. Returns the goals changed."""
        self.require_visible(actor)
        self.require_open("review goals")
        review.validate({m.staff_id for m in self.team})
        changed: list[Goal] = []
        for index, entry in enumerate(review.entries):
            goal = next((g for g in self.goals if g.id == entry.goal_id), None)
            if goal is None:
                raise Invalid(f"entries[{index}].goal_id", "not a goal of this plan")
            if goal.gas is None:
                raise Invalid(f"entries[{index}].goal_id", "this goal has no GAS levels to score")
            entry.weight = goal.gas_weight
            if entry.achievement_status is not None:
                goal.achievement_status = entry.achievement_status
            goal.next_review_date = review.reviewed_on + dt.timedelta(days=goal.review_cadence_days)
            goal.version += 1
            changed.append(goal)
        review.t_score = gas.t_score([(e.level, e.weight) for e in review.entries], review.rho)
        review.recorded_by = actor.staff_id
        review.created_at = now
        self.reviews.insert(0, review)
        return changed


class PlanPatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    title: str | msgspec.UnsetType = msgspec.UNSET
    period_start: dt.date | msgspec.UnsetType | None = msgspec.UNSET
    period_end: dt.date | msgspec.UnsetType | None = msgspec.UNSET
    what_matters: str | msgspec.UnsetType | None = msgspec.UNSET
    health_concerns: list[str] | msgspec.UnsetType = msgspec.UNSET


def check_version(resource: str, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise StaleVersion(resource, expected, current)
