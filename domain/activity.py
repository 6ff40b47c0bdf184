"""What each discipline will do, and which goals it serves."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain import patching, transitions
from domain.errors import Invalid
from domain.patient import require_text
from domain.vocab import ActivityKind, ActivityStatus


class Frequency(msgspec.Struct, kw_only=True):
    """`count` times every `period` `unit`s, as FHIR Timing.repeat (frequency, period,
    periodUnit) has it: 2 per 1 wk is twice a week."""

    count: int
    period: int = 1
    unit: str = "wk"

    def validate(self) -> None:
        if not 1 <= self.count <= 100:
            raise Invalid("frequency.count", "between 1 and 100")
        if not 1 <= self.period <= 365:
            raise Invalid("frequency.period", "between 1 and 365")
        if self.unit not in ("h", "d", "wk", "mo"):
            raise Invalid("frequency.unit", "one of h, d, wk, mo")


class Activity(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    care_plan_id: uuid.UUID
    discipline: str
    kind: ActivityKind
    description: str
    status: ActivityStatus = ActivityStatus.NOT_STARTED
    frequency: Frequency | None = None
    goal_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    created_by: uuid.UUID | None = None
    created_at: dt.datetime | None = None
    version: int = 1

    def validate(self, team_disciplines: set[str], goal_ids: set[uuid.UUID]) -> None:
        require_text("description", self.description)
        if self.discipline not in team_disciplines:
            raise Invalid("discipline", f"no {self.discipline} is on this plan's care team")
        if self.frequency is not None:
            self.frequency.validate()
        for index, goal_id in enumerate(self.goal_ids):
            if goal_id not in goal_ids:
                raise Invalid(f"goal_ids[{index}]", "not a goal of this plan")

    def transition(self, target: ActivityStatus) -> None:
        transitions.check(transitions.ACTIVITY, "activity", self.status, target)
        self.status = target


class ActivityPatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    kind: ActivityKind | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    status: ActivityStatus | msgspec.UnsetType = msgspec.UNSET
    frequency: Frequency | msgspec.UnsetType | None = msgspec.UNSET
    goal_ids: list[uuid.UUID] | msgspec.UnsetType = msgspec.UNSET


def apply_patch(activity: Activity, patch: ActivityPatch) -> None:
    patching.apply(activity, patch, status_field="status", transition=activity.transition)
