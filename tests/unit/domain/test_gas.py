"""Goal Attainment Scaling: the Kiresuk-Sherman T-score and the Turner-Stokes weight.

Where the expected values come from
-----------------------------------
No published worked example with concrete numbers (goal levels, weights and the printed
T-score) could be reached while writing these tests: the stored copies of Turner-Stokes
(2009) and of the other guides searched expose only their first page, the erratum and
the abstract, not the worked example, the calculation sheet or the tables. So every
expected number below is derived BY HAND from the published formula, with the
arithmetic written next to it; none is produced by calling the code under test.

What IS taken from the published text:
  * the formula and rho = 0.3, from the erratum to Turner-Stokes L. Goal attainment
    scaling (GAS) in rehabilitation: a practical guide. Clin Rehabil 2009;23:362-370
    (corrected formulas for p. 364 col. 1 and 2 and p. 367 Box 1):
        Overall GAS = 50 + 10 * sum(w_i x_i) / sqrt((1 - rho) sum(w_i^2) + rho (sum w_i)^2)
                    = 50 + 10 * sum(w_i x_i) / sqrt(0.7 sum(w_i^2) + 0.3 (sum w_i)^2)
    "if equal weights, w_i = 1", x_i "between -2 and +2";
  * the property that the T-score has "a mean of 50 (if the goals are achieved
    precisely) with a standard deviation ... of 10" (same article, abstract);
  * importance and difficulty each rated 0-3 (King's College London, Cicely Saunders
    Institute, "Goal Attainment Scaling: overview" toolkit page: 0 = not important,
    1 = important, 2 = very important, 3 = extremely important; 0 = not difficult,
    1 = minor, 2 = moderate, 3 = extreme difficulty).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from domain.errors import Invalid
from domain.gas import t_score, weight_from_importance_difficulty


class TestTScore:
    # --- Published properties -------------------------------------------------------

    @pytest.mark.parametrize(
        "weights",
        [[1.0], [1.0, 1.0, 1.0], [6.0, 4.0, 3.0], [0.5, 9.0], [1.0] * 12],
    )
    def test_all_goals_at_expected_level_is_exactly_50(self, weights: list[float]) -> None:
        # Turner-Stokes 2009, abstract: "a mean of 50 (if the goals are achieved
        # precisely)". By hand: every x_i = 0, so sum(w_i x_i) = 0 and T = 50 + 0 = 50,
        # whatever the weights.
        assert t_score([(0, w) for w in weights]) == 50.0

    @pytest.mark.parametrize(
        ("level", "expected"),
        [(-2, 30.0), (-1, 40.0), (0, 50.0), (1, 60.0), (2, 70.0)],
    )
    def test_single_unweighted_goal_is_50_plus_10x(self, level: int, expected: float) -> None:
        # Turner-Stokes 2009 (erratum): w = 1 for unweighted goals; abstract: SD of 10.
        # By hand, one goal, w = 1: denominator sqrt(0.7 * 1 + 0.3 * 1^2) = sqrt(1) = 1,
        # so T = 50 + 10 * x: -2 -> 30, -1 -> 40, 0 -> 50, +1 -> 60, +2 -> 70.
        assert t_score([(level, 1.0)]) == pytest.approx(expected, abs=1e-12)

    @pytest.mark.parametrize("weight", [0.25, 3.0, 9.0])
    def test_single_goal_does_not_depend_on_its_weight(self, weight: float) -> None:
        # By hand: sqrt(0.7 w^2 + 0.3 w^2) = sqrt(w^2) = w, so T = 50 + 10 w x / w = 50 + 10 x.
        # At x = -1: 40.
        assert t_score([(-1, weight)]) == pytest.approx(40.0, abs=1e-12)

    @pytest.mark.parametrize(
        ("n", "expected"),
        [
            # T = 50 - 10 n / sqrt(0.7 n + 0.3 n^2) for n unweighted goals all at -1:
            (1, 40.0),  # 50 - 10 / sqrt(0.7 + 0.3) = 50 - 10 / 1
            (2, 37.596526541079148),  # 50 - 20 / sqrt(1.4 + 1.2) = 50 - 20 / sqrt(2.6)
            (3, 36.306936062370845),  # 50 - 30 / sqrt(2.1 + 2.7) = 50 - 30 / sqrt(4.8)
            (4, 35.490474997799765),  # 50 - 40 / sqrt(2.8 + 4.8) = 50 - 40 / sqrt(7.6)
            (5, 34.924432771111816),  # 50 - 50 / sqrt(3.5 + 7.5) = 50 - 50 / sqrt(11)
            (6, 34.508066615170329),  # 50 - 60 / sqrt(4.2 + 10.8) = 50 - 60 / sqrt(15)
        ],
    )
    def test_unweighted_goals_all_at_minus_one(self, n: int, expected: float) -> None:
        # Hand-derived (see parameters); square roots checked with bc -l, not with the code.
        assert t_score([(-1, 1.0)] * n) == pytest.approx(expected, abs=1e-9)

    def test_more_goals_at_minus_one_sink_further_below_40(self) -> None:
        # From the hand values above: 40 > 37.60 > 36.31 > 35.49 > 34.92 > 34.51. The
        # correlation term makes each extra shortfall count for less, so T falls more
        # and more slowly; with rho = 0.3 it tends to 50 - 10 / sqrt(0.3) = 31.74 as n
        # grows, never reaching 30.
        scores = [t_score([(-1, 1.0)] * n) for n in range(1, 13)]
        assert scores[0] == pytest.approx(40.0, abs=1e-12)
        assert all(later < earlier for earlier, later in itertools.pairwise(scores))
        assert all(s < 40.0 for s in scores[1:])
        assert scores[-1] > 50.0 - 10.0 / math.sqrt(0.3)

    # --- Hand-worked weighted examples --------------------------------------------------

    def test_weighted_example_from_gasr_documentation(self) -> None:
        # Inputs from the example of calc_tscore() in the gasr R package documentation
        # (taylordunn/gasr, R/calculate.R): scores c(-2, 0, -1, 2, 0, 1), weights
        # c(3, 5, 1, 4, 2, 6). That page prints no result; worked by hand:
        #   sum(w x)   = 3(-2) + 5(0) + 1(-1) + 4(2) + 2(0) + 6(1) = -6 - 1 + 8 + 6 = 7
        #   sum(w)     = 3 + 5 + 1 + 4 + 2 + 6 = 21;  (sum w)^2 = 441
        #   sum(w^2)   = 9 + 25 + 1 + 16 + 4 + 36 = 91
        #   radicand   = 0.7 * 91 + 0.3 * 441 = 63.7 + 132.3 = 196;  sqrt(196) = 14
        #   T          = 50 + 10 * 7 / 14 = 50 + 5 = 55
        scores = [(-2, 3.0), (0, 5.0), (-1, 1.0), (2, 4.0), (0, 2.0), (1, 6.0)]
        assert t_score(scores) == pytest.approx(55.0, abs=1e-12)

    def test_weighted_example_with_importance_times_difficulty_weights(self) -> None:
        # Three goals weighted importance x difficulty (Turner-Stokes 2009):
        #   A: importance 3, difficulty 2 -> w = 6, achieved +1
        #   B: importance 2, difficulty 2 -> w = 4, achieved  0
        #   C: importance 1, difficulty 3 -> w = 3, achieved -1
        # By hand:
        #   sum(w x) = 6 + 0 - 3 = 3
        #   sum(w) = 13, (sum w)^2 = 169;  sum(w^2) = 36 + 16 + 9 = 61
        #   radicand = 0.7 * 61 + 0.3 * 169 = 42.7 + 50.7 = 93.4
        #   T = 50 + 30 / sqrt(93.4) = 50 + 30 / 9.66436... = 53.104186576877833 (bc -l)
        scores = [(1, 6.0), (0, 4.0), (-1, 3.0)]
        assert t_score(scores) == pytest.approx(53.104186576877833, abs=1e-9)

    def test_equal_weights_give_the_unweighted_score(self) -> None:
        # By hand: with every w_i = k, T = 50 + 10 k sum(x) / (k sqrt(0.7 n + 0.3 n^2)),
        # the k cancels. Three goals at -1: 36.306936062370845 (see above).
        assert t_score([(-1, 5.0)] * 3) == pytest.approx(36.306936062370845, abs=1e-9)

    def test_scaling_every_weight_leaves_the_score_unchanged(self) -> None:
        # By hand: w_i -> k w_i multiplies the numerator and the square root both by k.
        # Doubling the gasr example's weights must still give 55.
        scores = [(-2, 6.0), (0, 10.0), (-1, 2.0), (2, 8.0), (0, 4.0), (1, 12.0)]
        assert t_score(scores) == pytest.approx(55.0, abs=1e-12)

    # --- rho ------------------------------------------------------------------------

    def test_rho_zero_treats_goals_as_independent(self) -> None:
        # By hand, rho = 0: T = 50 + 10 sum(w x) / sqrt(sum(w^2)).
        # Weights 3 and 4, both +1: 50 + 10 * 7 / sqrt(9 + 16) = 50 + 70 / 5 = 64.
        assert t_score([(1, 3.0), (1, 4.0)], rho=0.0) == pytest.approx(64.0, abs=1e-12)

    def test_rho_is_used_when_given(self) -> None:
        # By hand, rho = 0.5, two unweighted goals at +1:
        #   radicand = 0.5 * 2 + 0.5 * 2^2 = 1 + 2 = 3
        #   T = 50 + 20 / sqrt(3) = 61.547005383792517 (bc -l)
        assert t_score([(1, 1.0), (1, 1.0)], rho=0.5) == pytest.approx(61.547005383792517, abs=1e-9)

    def test_default_rho_is_0_3(self) -> None:
        # Two unweighted goals at +1 and -1 with weights 2 and 1, by hand with rho = 0.3:
        #   sum(w x) = 2 - 1 = 1;  radicand = 0.7 * 5 + 0.3 * 9 = 3.5 + 2.7 = 6.2
        #   T = 50 + 10 / sqrt(6.2) = 54.016096644512495 (bc -l)
        scores = [(1, 2.0), (-1, 1.0)]
        assert t_score(scores) == pytest.approx(54.016096644512495, abs=1e-9)
        assert t_score(scores) == t_score(scores, rho=0.3)

    # --- Shape of the result ------------------------------------------------------------

    def test_result_is_not_rounded(self) -> None:
        # 3 unweighted goals at -1 is 36.3069... by hand: rounding is for presentation.
        result = t_score([(-1, 1.0)] * 3)
        assert result != round(result, 1)
        assert result != round(result, 2)

    def test_accepts_any_sequence_and_int_weights(self) -> None:
        assert t_score(((-2, 3), (0, 5), (-1, 1), (2, 4), (0, 2), (1, 6))) == pytest.approx(
            55.0, abs=1e-12
        )

    # --- Validation -----------------------------------------------------------------

    def test_no_goal_is_invalid(self) -> None:
        with pytest.raises(Invalid) as caught:
            t_score([])
        assert caught.value.field == "scores"

    @pytest.mark.parametrize("entry", [(0,), (0, 1.0, 1.0), [0, 1.0], None, "01"])
    def test_entry_that_is_not_a_pair_is_invalid(self, entry: Any) -> None:
        with pytest.raises(Invalid) as caught:
            t_score([(0, 1.0), entry])
        assert caught.value.field == "scores[1]"

    @pytest.mark.parametrize("level", [3, -3, 10, 1.0, 0.5, True, False, "1", None])
    def test_level_outside_minus_2_to_2_or_not_an_int_is_invalid(self, level: Any) -> None:
        with pytest.raises(Invalid) as caught:
            t_score([(0, 1.0), (1, 2.0), (level, 1.0)])
        assert caught.value.field == "scores[2].level"

    @pytest.mark.parametrize(
        "weight", [0, 0.0, -1.0, math.nan, math.inf, -math.inf, True, "2", None]
    )
    def test_weight_not_finite_and_positive_is_invalid(self, weight: Any) -> None:
        with pytest.raises(Invalid) as caught:
            t_score([(1, weight), (0, 1.0)])
        assert caught.value.field == "scores[0].weight"

    @pytest.mark.parametrize("rho", [-0.1, 1.0, 1.5, math.nan, math.inf, True, "0.3", None])
    def test_rho_outside_0_to_1_is_invalid(self, rho: Any) -> None:
        with pytest.raises(Invalid) as caught:
            t_score([(0, 1.0)], rho=rho)
        assert caught.value.field == "rho"

    def test_rho_zero_is_allowed(self) -> None:
        assert t_score([(0, 1.0)], rho=0.0) == 50.0


class TestWeightFromImportanceDifficulty:
    @pytest.mark.parametrize(
        ("importance", "difficulty", "expected"),
        [
            (3, 2, 6),  # also the printed example of PhysioClinical defineGoal(): weight 6
            (2, 3, 6),
            (1, 1, 1),
            (2, 2, 4),
            (3, 3, 9),  # largest weight: 3 x 3
            (0, 3, 0),  # "not important": weight 0
            (3, 0, 0),  # "not difficult": weight 0
            (0, 0, 0),
        ],
    )
    def test_weight_is_importance_times_difficulty(
        self, importance: int, difficulty: int, expected: int
    ) -> None:
        assert weight_from_importance_difficulty(importance, difficulty) == expected

    def test_every_rating_pair_in_range_is_accepted(self) -> None:
        products = {weight_from_importance_difficulty(i, d) for i in range(4) for d in range(4)}
        # By hand: the products of 0..3 by 0..3.
        assert products == {0, 1, 2, 3, 4, 6, 9}

    @pytest.mark.parametrize("importance", [-1, 4, 10, 1.0, 2.5, True, "2", None])
    def test_importance_outside_0_to_3_is_invalid(self, importance: Any) -> None:
        with pytest.raises(Invalid) as caught:
            weight_from_importance_difficulty(importance, 2)
        assert caught.value.field == "importance"

    @pytest.mark.parametrize("difficulty", [-1, 4, 10, 1.0, 2.5, False, "2", None])
    def test_difficulty_outside_0_to_3_is_invalid(self, difficulty: Any) -> None:
        with pytest.raises(Invalid) as caught:
            weight_from_importance_difficulty(2, difficulty)
        assert caught.value.field == "difficulty"

    def test_a_zero_weight_is_refused_by_t_score(self) -> None:
        weight = weight_from_importance_difficulty(0, 3)
        with pytest.raises(Invalid) as caught:
            t_score([(0, 1.0), (1, weight)])
        assert caught.value.field == "scores[1].weight"

    def test_weights_feed_t_score(self) -> None:
        # Same three goals as the hand-worked weighted example above: 53.104186576877833.
        scores = [
            (1, weight_from_importance_difficulty(3, 2)),
            (0, weight_from_importance_difficulty(2, 2)),
            (-1, weight_from_importance_difficulty(1, 3)),
        ]
        assert t_score(scores) == pytest.approx(53.104186576877833, abs=1e-9)
