"""The alliance per relationship, over time: each patient's check-in answers about one
clinician, that relationship's own baseline, and the two signals the team acts on.

The alliance is with a person, not with a clinic: every check-in names the clinician it
asks about (`CheckIn.clinician_id`), and a *relationship* is one patient with one
clinician. A patient is only ever compared with their own earlier answers about the same
clinician -- never with other patients, other clinicians or a population norm (the
Concord alliance pulse has none; see `domain.instruments.pulse`).

One `AlliancePoint` per answered check-in: the alliance questionnaire's overall mean on
its 1-5 scale (the pulse's `mean`, the WAI-SR's `total`), the mean of its goals item(s)
(the pulse's `goal` item, the WAI-SR's goal subscale), and the PEG answered in the same
check-in, if any.

The rules (clinic-adjustable defaults, each a module constant):

* **Baseline** (`baseline`): the mean of the relationship's first `BASELINE_CHECK_INS` (3)
  answered check-ins, or of all of them while there are fewer. A check-in is judged
  against the baseline of the check-ins *before* it, so it never dilutes its own
  comparison, and the second check-in of a relationship is already compared with the
  first. Fixing the baseline on the first answers (rather than a moving average) means
  a slow slide is still seen against where the relationship started.
* **Drop** (`drop`): the latest mean is at least `DROP_THRESHOLD` (0.5) points below the
  baseline, on the 1-5 mean. In alliance-rupture research a "rupture" is read as a
  within-patient fall in session-by-session alliance scores, measured against that
  patient's own variability: Stiles et al. (2004) took a drop of at least 2 SD, Strauss
  et al. (2006) one of at least 1 SD; Stiles et al. call their criterion ad hoc and
  preliminary, and a later comparison found the count of ruptures depends heavily on
  which one is used (it proposes reporting both, and favouring the stricter of a
  within-patient and a between-patient threshold). Those criteria need many sessions per
  patient to estimate an SD; Concord's check-ins per relationship are few and spaced out
  (a standard deviation of two or three answers is 0 or wildly unstable), so the rule
  here is a fixed distance on the answer scale instead. 0.5 points is half a step of
  the 1-5 scale -- for the pulse, two of the four items each one step lower, or one item
  two steps lower. **It is not a published or validated cut-off**: it is Concord's
  default, for each clinic to adjust.
* **Low goal agreement** (`low_goal_agreement`): the goals item(s) at or below
  `LOW_GOAL_AGREEMENT` (2): on the pulse "Not at all" or "A little" agrees on what the
  patient most wants to achieve; on the WAI-SR a goal subscale mean of "Seldom"..
  "Sometimes". Also a clinic-adjustable default, not a validated cut-off. It asks the
  clinician to revisit the goals *with* the patient -- goals drifting apart from what
  the patient wants is a named way chronic-pain care fails (see DESIGN.md).

Sources:
    Bordin ES. The generalizability of the psychoanalytic concept of the working alliance.
    Psychotherapy: Theory, Research & Practice 1979;16(3):252-260 (goals, tasks, bond).
    Stiles WB, Glick MJ, Osatuke K, et al. Patterns of alliance development and the
    rupture-repair hypothesis: are productive relationships U-shaped or V-shaped?
    J Couns Psychol 2004;51(1):81-92 (rupture: a session >= 2 SD below the patient's mean).
    Strauss JL, Hayes AM, Johnson SL, et al. Early alliance, alliance ruptures, and
    symptom change in a nonrandomized trial of cognitive therapy for avoidant and
    obsessive-compulsive personality disorders. J Consult Clin Psychol 2006;74(2):337-345
    (a 1 SD criterion).
    A study of "therapeutic crises" comparing the two criteria, PubMed Central PMC3320522
    (read there; its authors not checked here): the number of ruptures found depends on
    the criterion; it proposes using both the 1 SD and the 2 SD threshold, and combining
    within- with between-patient variability, favouring the stricter.
    Safran JD, Muran JC, Samstag LW, Stevens C. Repairing alliance ruptures.
    Psychotherapy 2001;38(4):406-412 (attend to ruptures; explore them non-defensively).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

BASELINE_CHECK_INS = 3
"""How many of a relationship's first answered check-ins make its baseline."""
DROP_THRESHOLD = 0.5
"""How far below the baseline (1-5 mean) counts as a drop. Clinic-adjustable default."""
LOW_GOAL_AGREEMENT = 2.0
"""Goals item(s) at or below this (1-5) is low goal agreement. Clinic-adjustable default."""
ALLIANCE_MIN, ALLIANCE_MAX = 1.0, 5.0
PEG_MIN, PEG_MAX = 0.0, 10.0

_SLACK = 1e-9
"""Binary rounding only: WAI-SR means are twelfths, which floats do not hold exactly."""


class AlliancePoint(msgspec.Struct, kw_only=True, frozen=True):
    """One answered check-in about one clinician."""

    authored_at: dt.datetime
    clinician_id: uuid.UUID
    total: float
    """The alliance questionnaire's mean, 1-5: higher is a stronger alliance."""
    goal_agreement: float
    """The mean of its goals item(s), 1-5."""
    peg_total: float | None = None
    """The PEG (0-10) answered in the same check-in, if it was asked."""
    check_in_id: uuid.UUID | None = None


def alliance_scores(scores: Mapping[str, Any]) -> tuple[float, float] | None:
    """(total, goal agreement) from a stored alliance response's scores: the pulse's
    `mean` and `goal`, or the WAI-SR's `total` and `goal`. None for anything else."""
    total = scores.get("mean", scores.get("total"))
    goal = scores.get("goal")
    if isinstance(total, bool) or isinstance(goal, bool):
        return None
    if not isinstance(total, int | float) or not isinstance(goal, int | float):
        return None
    return float(total), float(goal)


def _ordered(points: Sequence[AlliancePoint]) -> list[AlliancePoint]:
    return sorted(points, key=lambda p: p.authored_at)


def baseline(points_for_relationship: Sequence[AlliancePoint]) -> float | None:
    """The relationship's baseline: the mean total of its first `BASELINE_CHECK_INS`
    answered check-ins (by `authored_at`), or of all of them while there are fewer;
    None with none.

    Pass the check-ins *before* the one being judged (see `trend`).

    Raises:
        ValueError: when the points are not all about one clinician.
    """
    if len({p.clinician_id for p in points_for_relationship}) > 1:
        raise ValueError("a baseline is per relationship: points about one clinician only")
    first = _ordered(points_for_relationship)[:BASELINE_CHECK_INS]
    if not first:
        return None
    return sum(p.total for p in first) / len(first)


def drop(baseline: float | None, latest: AlliancePoint,
         threshold: float = DROP_THRESHOLD) -> bool:
    """True when `latest` is at least `threshold` points below `baseline` (no baseline:
    nothing to drop from). Exactly at the threshold counts as a drop."""
    if baseline is None:
        return False
    return baseline - latest.total >= threshold - _SLACK


def low_goal_agreement(latest: AlliancePoint, cutoff: float = LOW_GOAL_AGREEMENT) -> bool:
    """True when the goals item(s) are at or below `cutoff`."""
    return latest.goal_agreement <= cutoff + _SLACK


class Relationship(msgspec.Struct, kw_only=True, frozen=True):
    """One patient with one clinician: the check-ins about them and what they say."""

    clinician_id: uuid.UUID
    name: str
    discipline: str
    points: list[AlliancePoint]
    """Oldest first."""
    baseline: float | None
    """What `latest` is judged against: the baseline of the check-ins before it."""
    latest: AlliancePoint | None
    dropped: bool
    drop_by: float | None
    """baseline - latest total (positive: lower than the baseline)."""
    low_goal_agreement: bool


def relationship(clinician_id: uuid.UUID, name: str, discipline: str,
                 points: Sequence[AlliancePoint]) -> Relationship:
    """The relationship's trend: its latest check-in judged against the baseline of the
    check-ins before it."""
    ordered = _ordered(points)
    if any(p.clinician_id != clinician_id for p in ordered):
        raise ValueError("a relationship's points are about its clinician only")
    latest = ordered[-1] if ordered else None
    base = baseline(ordered[:-1]) if ordered else None
    return Relationship(
        clinician_id=clinician_id, name=name, discipline=discipline, points=ordered,
        baseline=base, latest=latest,
        dropped=latest is not None and drop(base, latest),
        drop_by=(base - latest.total) if latest is not None and base is not None else None,
        low_goal_agreement=latest is not None and low_goal_agreement(latest),
    )


class PegPoint(msgspec.Struct, kw_only=True, frozen=True):
    authored_at: dt.datetime
    total: float
    """The PEG score, 0-10: higher is more pain and interference."""


class ReviewMarker(msgspec.Struct, kw_only=True, frozen=True):
    date: dt.date
    label: str


class Rules(msgspec.Struct, kw_only=True, frozen=True):
    """The rules in force, shown with the data so a reader knows what a flag means."""

    baseline_check_ins: int = BASELINE_CHECK_INS
    drop_threshold: float = DROP_THRESHOLD
    low_goal_agreement: float = LOW_GOAL_AGREEMENT


class AllianceHistory(msgspec.Struct, kw_only=True, frozen=True):
    """A patient's alliance with each clinician, their PEG, and the plan's goal reviews."""

    as_of: dt.date
    relationships: list[Relationship]
    """In the order the relationships began (first check-in), then by name."""
    peg: list[PegPoint]
    """Every PEG the patient answered, oldest first."""
    goal_reviews: list[ReviewMarker]
    rules: Rules = msgspec.field(default_factory=Rules)


def review_label(t_score: float | None) -> str:
    return "goal review" if t_score is None else f"goal review, GAS T {t_score:.1f}"
