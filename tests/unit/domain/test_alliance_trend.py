"""The alliance per relationship: its baseline, a drop against it, low goal agreement."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domain import alliance_trend as at
from domain.alliance_trend import AlliancePoint

CLINICIAN = uuid.uuid4()
START = dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)


def point(total: float, goal: float = 4.0, day: int = 0,
          clinician: uuid.UUID = CLINICIAN) -> AlliancePoint:
    return AlliancePoint(authored_at=START + dt.timedelta(days=day), clinician_id=clinician,
                         total=total, goal_agreement=goal)


class TestBaseline:
    def test_none_without_check_ins(self) -> None:
        assert at.baseline([]) is None

    def test_all_of_them_while_fewer_than_three(self) -> None:
        assert at.baseline([point(4.0), point(5.0, day=30)]) == 4.5

    def test_the_first_three_only_in_time_order(self) -> None:
        later = [point(1.0, day=90), point(1.0, day=120)]
        first = [point(5.0, day=60), point(4.0, day=0), point(4.5, day=30)]
        assert at.baseline(later + first) == pytest.approx(4.5)

    def test_one_relationship_only(self) -> None:
        with pytest.raises(ValueError):
            at.baseline([point(4.0), point(4.0, clinician=uuid.uuid4())])


class TestDrop:
    def test_exactly_the_threshold_is_a_drop(self) -> None:
        assert at.DROP_THRESHOLD == 0.5
        assert at.drop(4.5, point(4.0))

    def test_just_short_of_the_threshold_is_not(self) -> None:
        assert not at.drop(4.5, point(4.25))
        assert not at.drop(4.49, point(4.0))

    def test_wai_sr_twelfths_at_the_threshold(self) -> None:
        # 54/12 - 48/12 is 0.5 in exact arithmetic, not quite in binary floating point
        assert at.drop(54 / 12, point(48 / 12))
        assert at.drop(4 + 7 / 12, point(4 + 1 / 12))

    def test_a_rise_or_no_baseline_is_not(self) -> None:
        assert not at.drop(3.0, point(4.0))
        assert not at.drop(None, point(1.0))

    def test_a_clinic_threshold(self) -> None:
        assert not at.drop(4.5, point(4.0), threshold=1.0)
        assert at.drop(4.5, point(3.5), threshold=1.0)


class TestLowGoalAgreement:
    def test_a_little_or_less_is_low(self) -> None:
        assert at.low_goal_agreement(point(4.0, goal=2))
        assert at.low_goal_agreement(point(4.0, goal=1))

    def test_somewhat_or_more_is_not(self) -> None:
        assert not at.low_goal_agreement(point(4.0, goal=3))
        assert not at.low_goal_agreement(point(4.0, goal=2.25))


class TestRelationship:
    def test_the_latest_is_judged_against_the_check_ins_before_it(self) -> None:
        rel = at.relationship(CLINICIAN, "Dr Who", "psychologist",
                              [point(3.0, day=90), point(4.5), point(4.5, day=30),
                               point(4.5, day=60)])
        assert rel.latest is not None and rel.latest.total == 3.0
        assert rel.baseline == 4.5 and rel.drop_by == 1.5
        assert rel.dropped and not rel.low_goal_agreement

    def test_the_second_check_in_is_compared_with_the_first(self) -> None:
        rel = at.relationship(CLINICIAN, "Dr Who", "psychologist",
                              [point(5.0), point(4.5, goal=2, day=30)])
        assert rel.baseline == 5.0 and rel.dropped and rel.low_goal_agreement

    def test_a_first_check_in_has_no_baseline(self) -> None:
        rel = at.relationship(CLINICIAN, "Dr Who", "psychologist", [point(1.0, goal=1)])
        assert rel.baseline is None and not rel.dropped and rel.low_goal_agreement

    def test_no_check_ins(self) -> None:
        rel = at.relationship(CLINICIAN, "Dr Who", "psychologist", [])
        assert rel.latest is None and not rel.dropped and not rel.low_goal_agreement


class TestScores:
    def test_pulse_and_wai_sr(self) -> None:
        assert at.alliance_scores({"goal": 2, "task": 3, "bond": 4, "heard": 5,
                                   "mean": 3.5}) == (3.5, 2.0)
        assert at.alliance_scores({"goal": 2.5, "task": 3.0, "bond": 4.0, "total": 3.25,
                                   "item_count": 12}) == (3.25, 2.5)

    def test_anything_else(self) -> None:
        assert at.alliance_scores({"pain": 1, "total": 2.0}) is None
        assert at.alliance_scores({"goal": True, "mean": 3.0}) is None
