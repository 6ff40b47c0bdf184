"""Goal Attainment Scaling (GAS): the summary T-score and the Turner-Stokes goal weight.

Each goal is rated at review on the five-point attainment scale x in {-2, -1, 0, +1, +2},
0 being the expected outcome agreed before treatment. The goals of one patient are
combined into a single summary score by the formula of Kiresuk and Sherman:

    T = 50 + 10 * sum(w_i * x_i) / sqrt((1 - rho) * sum(w_i ** 2) + rho * (sum(w_i)) ** 2)

where w_i > 0 is the weight of goal i (w_i = 1 for unweighted goals) and rho is the
assumed correlation between the goal scales, conventionally 0.3, which gives the
denominator sqrt(0.7 * sum(w_i ** 2) + 0.3 * (sum(w_i)) ** 2). T is 50 when every goal
is met exactly as expected, with a standard deviation of about 10.

Sources:
    Kiresuk TJ, Sherman RE. Goal attainment scaling: a general method for evaluating
    comprehensive community mental health programs. Community Ment Health J
    1968;4:443-453.
    Turner-Stokes L. Goal attainment scaling (GAS) in rehabilitation: a practical guide.
    Clin Rehabil 2009;23:362-370. The formulas printed on pages 364 and 367 of that
    article are wrong; use the corrected ones in the erratum (Clin Rehabil 2009;23:
    362-70), which are the ones above.

Round only at presentation: the functions here return unrounded values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from domain.errors import Invalid

ATTAINMENT_LEVELS: tuple[int, ...] = (-2, -1, 0, 1, 2)
"""The five attainment levels; 0 is the expected outcome (Kiresuk & Sherman 1968)."""

DEFAULT_RHO = 0.3
"""Assumed correlation between goal scales (Kiresuk & Sherman 1968; Turner-Stokes 2009)."""

RATING_MIN = 0
RATING_MAX = 3
"""Range of the Turner-Stokes (2009) importance and difficulty ratings, both 0-3."""


def _is_real(value: object) -> bool:
    """True for int or float, but not bool (a bool is an int to Python, not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def t_score(scores: Sequence[tuple[int, float]], rho: float = DEFAULT_RHO) -> float:
    """Return the Kiresuk-Sherman GAS summary T-score of one patient's goals.

    T = 50 + 10 * sum(w_i * x_i) / sqrt((1 - rho) * sum(w_i ** 2) + rho * (sum(w_i)) ** 2)

    Kiresuk TJ, Sherman RE. Goal attainment scaling: a general method for evaluating
    comprehensive community mental health programs. Community Ment Health J
    1968;4:443-453. With rho = 0.3 as in Turner-Stokes L. Goal attainment scaling (GAS)
    in rehabilitation: a practical guide. Clin Rehabil 2009;23:362-370 (formulas as
    corrected by its erratum).

    Args:
        scores: one (level, weight) pair per goal; level is the attainment x_i, an int
            in -2..2, and weight is w_i, finite and > 0 (1 for unweighted goals).
        rho: assumed correlation between the goal scales, 0 <= rho < 1; default 0.3.

    Returns:
        The unrounded T-score. Exactly 50.0 when every goal is at level 0.

    Raises:
        Invalid: field "scores" when there is no goal, "scores[i]" when an entry is not a
            (level, weight) pair, "scores[i].level" or "scores[i].weight" for a value out
            of range, and "rho" for a correlation outside [0, 1).
    """
    if not _is_real(rho) or not 0.0 <= rho < 1.0:
        raise Invalid("rho", f"must be a number with 0 <= rho < 1, got {rho!r}")
    if len(scores) == 0:
        raise Invalid("scores", "at least one goal is required")

    weighted_sum: list[float] = []
    weights: list[float] = []
    for i, pair in enumerate(scores):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise Invalid(f"scores[{i}]", f"must be a (level, weight) pair, got {pair!r}")
        level, weight = pair
        if isinstance(level, bool) or not isinstance(level, int) or level not in ATTAINMENT_LEVELS:
            raise Invalid(f"scores[{i}].level", f"must be an int in -2..2, got {level!r}")
        if not _is_real(weight) or not math.isfinite(weight) or weight <= 0:
            raise Invalid(f"scores[{i}].weight", f"must be a finite number > 0, got {weight!r}")
        weighted_sum.append(weight * level)
        weights.append(float(weight))

    sum_wx = math.fsum(weighted_sum)
    sum_w = math.fsum(weights)
    sum_w2 = math.fsum(w * w for w in weights)
    # Every weight is > 0 and rho < 1, so the radicand is > 0.
    return 50.0 + 10.0 * sum_wx / math.sqrt((1.0 - rho) * sum_w2 + rho * sum_w * sum_w)


def weight_from_importance_difficulty(importance: int, difficulty: int) -> int:
    """Return the Turner-Stokes goal weight: importance x difficulty.

    Turner-Stokes L. Goal attainment scaling (GAS) in rehabilitation: a practical guide.
    Clin Rehabil 2009;23:362-370. The patient rates how important the goal is to them and
    the team rates how difficult it is to achieve, each on a 0-3 scale (importance:
    0 not, 1 important, 2 very, 3 extremely important; difficulty: 0 not, 1 minor,
    2 moderate, 3 extreme difficulty), and the weight is their product, 0-9.

    A goal rated 0 on either scale gets weight 0, which t_score refuses (its weights must
    be > 0): the caller decides whether to leave such a goal out of the summary.

    Raises:
        Invalid: field "importance" or "difficulty" when the rating is not an int in 0..3.
    """
    for field, rating in (("importance", importance), ("difficulty", difficulty)):
        if (
            isinstance(rating, bool)
            or not isinstance(rating, int)
            or not RATING_MIN <= rating <= RATING_MAX
        ):
            raise Invalid(field, f"must be an int in {RATING_MIN}..{RATING_MAX}, got {rating!r}")
    return importance * difficulty
