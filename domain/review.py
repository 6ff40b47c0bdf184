"""Goal reviews: the team and the patient look at each goal together and score it."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain.errors import Invalid
from domain.vocab import GoalAchievement


class ReviewParticipant(msgspec.Struct, kw_only=True):
    """`patient`, or a staff member by id."""

    kind: str
    staff_id: uuid.UUID | None = None


class ReviewEntry(msgspec.Struct, kw_only=True):
    goal_id: uuid.UUID
    level: int
    weight: float = 1.0
    achievement_status: GoalAchievement | None = None
    note: str | None = None


class GoalReview(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    care_plan_id: uuid.UUID
    reviewed_on: dt.date
    entries: list[ReviewEntry]
    participants: list[ReviewParticipant]
    note: str | None = None
    patient_voice: str | None = None
    rho: float = 0.3
    t_score: float | None = None
    recorded_by: uuid.UUID | None = None
    created_at: dt.datetime | None = None

    def validate(self, team_staff: set[uuid.UUID]) -> None:
        if not self.entries:
            raise Invalid("entries", "a review scores at least one goal")
        seen: set[uuid.UUID] = set()
        for index, entry in enumerate(self.entries):
            if entry.goal_id in seen:
                raise Invalid(f"entries[{index}].goal_id", "each goal is scored once per review")
            seen.add(entry.goal_id)
            if entry.level not in (-2, -1, 0, 1, 2):
                raise Invalid(f"entries[{index}].level", "a GAS level from -2 to +2")
        kinds = [p.kind for p in self.participants]
        if "patient" not in kinds:
            raise Invalid("participants", "a goal review includes the patient's voice")
        for index, participant in enumerate(self.participants):
            if participant.kind not in ("patient", "staff"):
                raise Invalid(f"participants[{index}].kind", "patient or staff")
            if participant.kind == "staff" and participant.staff_id not in team_staff:
                raise Invalid(f"participants[{index}].staff_id", "not on this plan's care team")
