"""Goals in the patient's own words, who owns them, and who has agreed to them."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import msgspec

from domain import patching, transitions
from domain.errors import Invalid
from domain.patient import require_text
from domain.vocab import PATIENT_PARTICIPANT, AcceptanceStatus, GoalAchievement, GoalLifecycle

MAX_CADENCE_DAYS = 366


class GasLevels(msgspec.Struct, kw_only=True):
    """Goal Attainment Scaling: what each outcome level -2..+2 would look like for this
    goal, written at goal setting (Kiresuk & Sherman 1968; Turner-Stokes 2009). 0 is the
    expected outcome; -1 is usually the baseline."""

    much_less: str = msgspec.field(name="minus_2")
    less: str = msgspec.field(name="minus_1")
    expected: str = msgspec.field(name="zero")
    more: str = msgspec.field(name="plus_1")
    much_more: str = msgspec.field(name="plus_2")
    baseline: int = -1

    def validate(self) -> None:
        for name, text in (
            ("minus_2", self.much_less),
            ("minus_1", self.less),
            ("zero", self.expected),
            ("plus_1", self.more),
            ("plus_2", self.much_more),
        ):
            require_text(f"gas.{name}", text, max_length=500)
        if self.baseline not in (-2, -1):
            raise Invalid("gas.baseline", "baseline is -1 or -2 (Turner-Stokes 2009)")


class Measure(msgspec.Struct, kw_only=True):
    """What is measured and the target, e.g. 'minutes walked without stopping' -> 30."""

    description: str
    target: str
    unit: str | None = None


class Acceptance(msgspec.Struct, kw_only=True):
    participant: str
    status: AcceptanceStatus
    reason: str | None = None
    recorded_by: uuid.UUID | None = None
    recorded_at: dt.datetime | None = None


class Goal(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    care_plan_id: uuid.UUID
    description: str
    owners: list[str]
    expressed_by: str = PATIENT_PARTICIPANT
    lifecycle_status: GoalLifecycle = GoalLifecycle.PROPOSED
    achievement_status: GoalAchievement | None = None
    measure: Measure | None = None
    gas: GasLevels | None = None
    gas_weight: float = 1.0
    review_cadence_days: int = 28
    next_review_date: dt.date | None = None
    acceptances: list[Acceptance] = msgspec.field(default_factory=list)
    created_by: uuid.UUID | None = None
    created_at: dt.datetime | None = None
    version: int = 1

    @property
    def is_open(self) -> bool:
        return self.lifecycle_status in transitions.GOAL_OPEN

    def validate(self, team_disciplines: set[str]) -> None:
        require_text("description", self.description)
        if not self.owners:
            raise Invalid("owners", "a goal needs at least one owning discipline")
        for index, owner in enumerate(self.owners):
            if owner not in team_disciplines:
                raise Invalid(f"owners[{index}]", f"no {owner} is on this plan's care team")
        if len(set(self.owners)) != len(self.owners):
            raise Invalid("owners", "each discipline may be listed once")
        if self.expressed_by != PATIENT_PARTICIPANT and self.expressed_by not in team_disciplines:
            raise Invalid("expressed_by", "the patient or a discipline on the care team")
        if not 1 <= self.review_cadence_days <= MAX_CADENCE_DAYS:
            raise Invalid("review_cadence_days", f"between 1 and {MAX_CADENCE_DAYS} days")
        if not (math.isfinite(self.gas_weight) and 0 < self.gas_weight <= 100):
            raise Invalid("gas_weight", "a weight greater than 0 and at most 100")
        if self.gas is not None:
            self.gas.validate()
        if self.measure is not None:
            require_text("measure.description", self.measure.description, max_length=500)
            require_text("measure.target", self.measure.target, max_length=200)

    def transition(self, target: GoalLifecycle) -> None:
        transitions.check(transitions.GOAL, "goal", self.lifecycle_status, target)
        self.lifecycle_status = target

    def acceptance_of(self, participants: list[str]) -> list[Acceptance]:
        """Every participant's stance, `pending` where they have not yet said: so that
        misalignment shows instead of hiding behind a missing row."""
        recorded = {a.participant: a for a in self.acceptances}
        return [
            recorded.get(p) or Acceptance(participant=p, status=AcceptanceStatus.PENDING)
            for p in participants
        ]

    def record_acceptance(self, acceptance: Acceptance) -> None:
        if acceptance.status is AcceptanceStatus.DISAGREE and not (acceptance.reason or "").strip():
            raise Invalid("reason", "a disagreement needs its reason")
        if acceptance.status is AcceptanceStatus.PENDING:
            acceptance.reason = None
        self.acceptances = [a for a in self.acceptances if a.participant != acceptance.participant]
        self.acceptances.append(acceptance)


class GoalPatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Changes to a goal; UNSET leaves a field as it is."""

    description: str | msgspec.UnsetType = msgspec.UNSET
    owners: list[str] | msgspec.UnsetType = msgspec.UNSET
    expressed_by: str | msgspec.UnsetType = msgspec.UNSET
    lifecycle_status: GoalLifecycle | msgspec.UnsetType = msgspec.UNSET
    achievement_status: GoalAchievement | msgspec.UnsetType | None = msgspec.UNSET
    measure: Measure | msgspec.UnsetType | None = msgspec.UNSET
    gas: GasLevels | msgspec.UnsetType | None = msgspec.UNSET
    gas_weight: float | msgspec.UnsetType = msgspec.UNSET
    review_cadence_days: int | msgspec.UnsetType = msgspec.UNSET
    next_review_date: dt.date | msgspec.UnsetType | None = msgspec.UNSET


def apply_patch(goal: Goal, patch: GoalPatch) -> None:
    """Copy the set fields of `patch` onto `goal`; status goes through its transition."""
    patching.apply(goal, patch, status_field="lifecycle_status", transition=goal.transition)
