"""Allowed status changes, one table per lifecycle."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

from domain.errors import IllegalTransition
from domain.vocab import ActivityStatus as A
from domain.vocab import GoalLifecycle as G
from domain.vocab import PlanStatus as P
from domain.vocab import TaskStatus as T

S = TypeVar("S", bound=Enum)

PLAN: Mapping[P, frozenset[P]] = {
    P.DRAFT: frozenset({P.ACTIVE, P.REVOKED, P.ENTERED_IN_ERROR}),
    P.ACTIVE: frozenset({P.ON_HOLD, P.COMPLETED, P.REVOKED, P.ENTERED_IN_ERROR}),
    P.ON_HOLD: frozenset({P.ACTIVE, P.COMPLETED, P.REVOKED, P.ENTERED_IN_ERROR}),
    P.REVOKED: frozenset({P.ENTERED_IN_ERROR}),
    P.COMPLETED: frozenset({P.ENTERED_IN_ERROR}),
    P.ENTERED_IN_ERROR: frozenset(),
}
PLAN_OPEN = frozenset({P.DRAFT, P.ACTIVE, P.ON_HOLD})
"""Plans whose content may still change."""

GOAL: Mapping[G, frozenset[G]] = {
    G.PROPOSED: frozenset(
        {G.PLANNED, G.ACCEPTED, G.ACTIVE, G.REJECTED, G.CANCELLED, G.ENTERED_IN_ERROR}
    ),
    G.PLANNED: frozenset({G.ACCEPTED, G.ACTIVE, G.ON_HOLD, G.CANCELLED, G.ENTERED_IN_ERROR}),
    G.ACCEPTED: frozenset({G.ACTIVE, G.ON_HOLD, G.CANCELLED, G.ENTERED_IN_ERROR}),
    G.ACTIVE: frozenset({G.ON_HOLD, G.COMPLETED, G.CANCELLED, G.ENTERED_IN_ERROR}),
    G.ON_HOLD: frozenset({G.ACTIVE, G.COMPLETED, G.CANCELLED, G.ENTERED_IN_ERROR}),
    G.COMPLETED: frozenset({G.ENTERED_IN_ERROR}),
    G.CANCELLED: frozenset({G.ENTERED_IN_ERROR}),
    G.REJECTED: frozenset({G.ENTERED_IN_ERROR}),
    G.ENTERED_IN_ERROR: frozenset(),
}
GOAL_OPEN = frozenset({G.PROPOSED, G.PLANNED, G.ACCEPTED, G.ACTIVE, G.ON_HOLD})
"""Goals still being worked on: a plan cannot complete while it has any."""

_ACTIVITY_LIVE = frozenset({A.NOT_STARTED, A.SCHEDULED, A.IN_PROGRESS, A.ON_HOLD, A.UNKNOWN})
ACTIVITY: Mapping[A, frozenset[A]] = {
    **{
        s: (_ACTIVITY_LIVE | {A.COMPLETED, A.CANCELLED, A.STOPPED, A.ENTERED_IN_ERROR}) - {s}
        for s in _ACTIVITY_LIVE
    },
    A.COMPLETED: frozenset({A.ENTERED_IN_ERROR}),
    A.CANCELLED: frozenset({A.ENTERED_IN_ERROR}),
    A.STOPPED: frozenset({A.IN_PROGRESS, A.ENTERED_IN_ERROR}),
    A.ENTERED_IN_ERROR: frozenset(),
}

TASK: Mapping[T, frozenset[T]] = {
    T.REQUESTED: frozenset({T.ACCEPTED, T.IN_PROGRESS, T.COMPLETED, T.CANCELLED, T.REJECTED}),
    T.ACCEPTED: frozenset({T.IN_PROGRESS, T.ON_HOLD, T.COMPLETED, T.CANCELLED}),
    T.IN_PROGRESS: frozenset({T.ON_HOLD, T.COMPLETED, T.CANCELLED}),
    T.ON_HOLD: frozenset({T.IN_PROGRESS, T.CANCELLED}),
    T.COMPLETED: frozenset(),
    T.CANCELLED: frozenset(),
    T.REJECTED: frozenset(),
}
TASK_OPEN = frozenset({T.REQUESTED, T.ACCEPTED, T.IN_PROGRESS, T.ON_HOLD})


def check(table: Mapping[S, frozenset[S]], what: str, current: S, target: S) -> None:
    """Raise IllegalTransition unless `table` allows `current` -> `target`."""
    if current == target:
        return
    allowed = table[current]
    if target not in allowed:
        options = ", ".join(sorted(str(s.value) for s in allowed)) or "none"
        raise IllegalTransition(
            f"a {what} cannot go from {current.value} to {target.value} (allowed: {options})",
            field="status",
        )
