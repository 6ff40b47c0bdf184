"""The total MME/day over time, built by hand from plans whose statements start and stop
on known dates. Products are looked up in the real opioid table; every expected total is
worked out here with the CDC 2022 factors (oxycodone 1.5, fentanyl transdermal 2.4 per
mcg/h, hydrocodone 1.0), not by the code under test."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from domain.care_plan import CarePlan
from domain.medication import MedicationStatement, Schedule, StatementStatus
from domain.opioids.history import (
    HistoryPoint,
    Marker,
    active_interval,
    mme_history,
    planned_schedule,
)
from domain.opioids.safety import summarize
from domain.opioids.taper import TaperPlan, TaperStep
from domain.opioids.terminology import load_terminology
from domain.review import GoalReview, ReviewEntry, ReviewParticipant
from domain.vocab import PlanStatus

LOOKUP = load_terminology().lookup
TODAY = dt.date(2025, 6, 1)
PLAN_ID = uuid.UUID(int=1)

OXYCODONE_5 = "1049621"  # oxycodone hydrochloride 5 MG Oral Tablet
FENTANYL_25 = "245134"  # 72 HR fentanyl 0.025 MG/HR Transdermal System
HYDROCODONE_APAP_5 = "857002"  # acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet
BUTRANS_5 = "904882"  # 168 HR buprenorphine 0.005 MG/HR Transdermal System [BuTrans]


def d(month: int, day: int) -> dt.date:
    return dt.date(2025, month, day)


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2025, month, day, 15, 30, tzinfo=dt.UTC)


def statement(code: str, display: str, *, quantity: float = 1, unit: str = "tablet",
              schedule: Schedule | None = None, status: StatementStatus = StatementStatus.ACTIVE,
              start: dt.date | None = None, end: dt.date | None = None,
              created: dt.datetime | None = None,
              updated: dt.datetime | None = None) -> MedicationStatement:
    return MedicationStatement(
        id=uuid.uuid4(), care_plan_id=PLAN_ID, patient_id=uuid.UUID(int=2), rxnorm_code=code,
        display=display, dose_quantity=quantity, dose_unit=unit,
        schedule=schedule or Schedule(), status=status, period_start=start, period_end=end,
        created_at=created or at(1, 1), updated_at=updated or created or at(1, 1))


def oxycodone_qid(**kwargs: Any) -> MedicationStatement:
    """5 mg x 4 a day = 20 mg/day x 1.5 = 30 MME/day."""
    return statement(OXYCODONE_5, "oxycodone hydrochloride 5 MG Oral Tablet",
                     schedule=Schedule(count=4), **kwargs)


def fentanyl_25(**kwargs: Any) -> MedicationStatement:
    """25 mcg/h x 2.4 = 60 MME/day, however often the patch is changed."""
    return statement(FENTANYL_25, "72 HR fentanyl 0.025 MG/HR Transdermal System",
                     unit="patch", schedule=Schedule(count=1, period=72, unit="h"),
                     **kwargs)


def hydrocodone_prn(**kwargs: Any) -> MedicationStatement:
    """As needed, at most 6 tablets a day: 6 x 5 mg = 30 mg/day x 1.0 = 30 MME/day."""
    return statement(HYDROCODONE_APAP_5,
                     "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet",
                     schedule=Schedule(count=1, period=4, unit="h", as_needed=True,
                                       max_per_day=6), **kwargs)


def unknown_oxycodone(**kwargs: Any) -> MedicationStatement:
    """Not in the product table but named as an opioid: MME unknown, never zero."""
    return statement("99999999", "oxycodone 7 mg compounded capsule", unit="capsule",
                     **kwargs)


def plan_of(*medications: MedicationStatement, tapers: list[TaperPlan] | None = None,
            reviews: list[GoalReview] | None = None) -> CarePlan:
    return CarePlan(id=PLAN_ID, clinic_id=uuid.UUID(int=3), patient_id=uuid.UUID(int=2),
                    title="Back pain", medications=list(medications), tapers=tapers or [],
                    reviews=reviews or [])


def p(month: int, day: int, mme: float, lower_bound: bool = False) -> HistoryPoint:
    return HistoryPoint(date=d(month, day), mme_per_day=mme, lower_bound=lower_bound)


def taper(*steps: TaperStep, starts_on: dt.date, original: float = 90.0,
          status: PlanStatus = PlanStatus.ACTIVE) -> TaperPlan:
    return TaperPlan(id=uuid.uuid4(), care_plan_id=PLAN_ID, original_daily_mme=original,
                     opioid_since=d(1, 1), starts_on=starts_on, ingredient="oxycodone",
                     steps=list(steps), status=status)


def review(on: dt.date, t_score: float | None) -> GoalReview:
    return GoalReview(id=uuid.uuid4(), care_plan_id=PLAN_ID, reviewed_on=on,
                      entries=[ReviewEntry(goal_id=uuid.uuid4(), level=0)],
                      participants=[ReviewParticipant(kind="patient")], t_score=t_score)


# -- the actual total --------------------------------------------------------------------------

def test_no_opioid_on_record_is_an_empty_history() -> None:
    history = mme_history(plan_of(), LOOKUP, TODAY)
    assert history.points == []
    assert history.planned == []
    assert history.thresholds == [50.0, 90.0]
    assert history.as_of == TODAY


def test_statements_starting_and_stopping_make_a_step_function_ending_today() -> None:
    plan = plan_of(
        oxycodone_qid(start=d(1, 1)),  # 30 from Jan 1, still taken
        fentanyl_25(start=d(2, 1), end=d(4, 15)),  # 60 from Feb 1, last worn Apr 14
    )
    assert mme_history(plan, LOOKUP, TODAY).points == [
        p(1, 1, 30),
        p(2, 1, 30 + 60),
        p(4, 15, 30),  # period_end is exclusive: Apr 15 is the first day without the patch
        p(6, 1, 30),  # today
    ]


def test_the_total_today_is_the_safety_summary_total() -> None:
    plan = plan_of(oxycodone_qid(start=d(1, 1)), fentanyl_25(start=d(2, 1)),
                   hydrocodone_prn(start=d(3, 1)))
    points = mme_history(plan, LOOKUP, TODAY).points
    # 30 + 60 + 30 (the as-needed maximum counts) = 120
    assert points[-1] == p(6, 1, 120)
    assert points[-1].mme_per_day == pytest.approx(summarize(plan, LOOKUP, TODAY).total.mme_per_day)


def test_an_as_needed_order_counts_at_its_daily_maximum() -> None:
    plan = plan_of(hydrocodone_prn(start=d(5, 1)))
    assert mme_history(plan, LOOKUP, TODAY).points == [p(5, 1, 30), p(6, 1, 30)]


def test_an_unknown_product_makes_its_interval_a_lower_bound() -> None:
    plan = plan_of(oxycodone_qid(start=d(1, 1)),
                   unknown_oxycodone(start=d(3, 1), end=d(3, 20),
                                     status=StatementStatus.COMPLETED))
    assert mme_history(plan, LOOKUP, TODAY).points == [
        p(1, 1, 30),
        p(3, 1, 30, lower_bound=True),  # at least 30: the compounded capsule adds an unknown
        p(3, 20, 30),
        p(6, 1, 30),
    ]


def test_an_unknown_product_alone_is_a_lower_bound_of_zero_not_nothing() -> None:
    plan = plan_of(unknown_oxycodone(start=d(5, 1)))
    assert mme_history(plan, LOOKUP, TODAY).points == [
        p(5, 1, 0, lower_bound=True), p(6, 1, 0, lower_bound=True)]


def test_buprenorphine_is_an_opioid_left_out_without_making_a_lower_bound() -> None:
    plan = plan_of(statement(BUTRANS_5, "168 HR buprenorphine 0.005 MG/HR Transdermal System "
                             "[BuTrans]", unit="patch", start=d(5, 1)))
    assert mme_history(plan, LOOKUP, TODAY).points == [p(5, 1, 0), p(6, 1, 0)]


def test_only_opioids_count() -> None:
    plan = plan_of(
        oxycodone_qid(start=d(1, 1)),
        statement("197591", "diazepam 5 MG Oral Tablet", start=d(2, 1)),
        statement("310431", "gabapentin 300 MG Oral Capsule", start=d(2, 1)),
        statement("1191222", "naloxone 4 MG/ACTUAT Nasal Spray", start=d(2, 1)),
    )
    assert mme_history(plan, LOOKUP, TODAY).points == [p(1, 1, 30), p(6, 1, 30)]


def test_statements_entered_in_error_not_taken_or_intended_never_count() -> None:
    plan = plan_of(
        oxycodone_qid(start=d(1, 1)),
        fentanyl_25(start=d(2, 1), status=StatementStatus.ENTERED_IN_ERROR),
        fentanyl_25(start=d(2, 1), status=StatementStatus.NOT_TAKEN),
        fentanyl_25(start=d(2, 1), end=d(8, 1), status=StatementStatus.INTENDED),
    )
    assert mme_history(plan, LOOKUP, TODAY).points == [p(1, 1, 30), p(6, 1, 30)]


def test_a_stopped_statement_without_an_end_ends_when_it_was_last_changed() -> None:
    plan = plan_of(
        oxycodone_qid(start=d(1, 1)),
        fentanyl_25(start=d(2, 1), status=StatementStatus.STOPPED, updated=at(3, 10)),
        hydrocodone_prn(start=d(2, 15), status=StatementStatus.COMPLETED, updated=at(4, 1)),
    )
    assert mme_history(plan, LOOKUP, TODAY).points == [
        p(1, 1, 30), p(2, 1, 90), p(2, 15, 120), p(3, 10, 60), p(4, 1, 30), p(6, 1, 30)]


def test_a_statement_without_a_start_starts_when_it_was_recorded() -> None:
    plan = plan_of(oxycodone_qid(created=at(4, 20)))
    assert mme_history(plan, LOOKUP, TODAY).points == [p(4, 20, 30), p(6, 1, 30)]


def test_once_everything_stopped_the_total_drops_to_zero_until_today() -> None:
    plan = plan_of(oxycodone_qid(start=d(1, 1), end=d(3, 1), status=StatementStatus.STOPPED))
    assert mme_history(plan, LOOKUP, TODAY).points == [p(1, 1, 30), p(3, 1, 0), p(6, 1, 0)]


def test_future_starts_and_ends_are_not_history_yet() -> None:
    plan = plan_of(oxycodone_qid(start=d(1, 1), end=d(9, 1)), fentanyl_25(start=d(7, 1)))
    assert mme_history(plan, LOOKUP, TODAY).points == [p(1, 1, 30), p(6, 1, 30)]


def test_a_statement_started_today_is_a_single_point() -> None:
    plan = plan_of(oxycodone_qid(start=TODAY))
    assert mme_history(plan, LOOKUP, TODAY).points == [p(6, 1, 30)]


def test_two_statements_changing_on_one_date_make_one_point() -> None:
    # fentanyl stops as the same 60 MME/day of oxycodone (8 tablets) starts: no change
    plan = plan_of(fentanyl_25(start=d(1, 1), end=d(3, 1)),
                   statement(OXYCODONE_5, "oxycodone 5 mg", schedule=Schedule(count=8),
                             start=d(3, 1)))
    assert mme_history(plan, LOOKUP, TODAY).points == [p(1, 1, 60), p(6, 1, 60)]


@pytest.mark.parametrize(("status", "end", "expected"), [
    (StatementStatus.ACTIVE, None, (d(1, 1), d(6, 2))),  # runs through today
    (StatementStatus.ACTIVE, d(3, 1), (d(1, 1), d(3, 1))),
    (StatementStatus.ON_HOLD, None, (d(1, 1), d(2, 1))),  # updated_at
    (StatementStatus.UNKNOWN, None, (d(1, 1), d(2, 1))),
    (StatementStatus.ENTERED_IN_ERROR, d(3, 1), None),
])
def test_active_interval(status: StatementStatus, end: dt.date | None,
                         expected: tuple[dt.date, dt.date] | None) -> None:
    s = oxycodone_qid(start=d(1, 1), end=end, status=status, updated=at(2, 1))
    assert active_interval(s, TODAY) == expected


# -- since ------------------------------------------------------------------------------------

def test_since_leaves_out_the_past_but_starts_at_the_value_then_in_effect() -> None:
    plan = plan_of(oxycodone_qid(start=d(1, 1)), fentanyl_25(start=d(2, 1), end=d(4, 15)),
                   reviews=[review(d(1, 20), 45.0), review(d(5, 1), 52.5)])
    history = mme_history(plan, LOOKUP, TODAY, since=d(3, 1))
    assert history.points == [p(3, 1, 90), p(4, 15, 30), p(6, 1, 30)]
    assert [m.date for m in history.goal_reviews] == [d(5, 1)]


def test_since_on_a_change_keeps_that_point_as_it_is() -> None:
    plan = plan_of(oxycodone_qid(start=d(1, 1)), fentanyl_25(start=d(2, 1)))
    assert mme_history(plan, LOOKUP, TODAY, since=d(2, 1)).points == [p(2, 1, 90), p(6, 1, 90)]


# -- the taper's plan and the markers --------------------------------------------------------

def test_the_active_tapers_plan_starts_from_the_original_dose() -> None:
    active = taper(TaperStep(date=d(5, 15), daily_mme=81),
                   TaperStep(date=d(6, 12), daily_mme=81, pause=True),
                   TaperStep(date=d(7, 10), daily_mme=72),
                   TaperStep(date=d(8, 7), daily_mme=0),
                   starts_on=d(5, 1))
    draft = taper(TaperStep(date=d(5, 1), daily_mme=10), starts_on=d(5, 1),
                  status=PlanStatus.DRAFT)
    plan = plan_of(oxycodone_qid(start=d(1, 1)), tapers=[draft, active])
    history = mme_history(plan, LOOKUP, TODAY)
    assert history.planned == [p(5, 1, 90), p(5, 15, 81), p(6, 12, 81), p(7, 10, 72),
                               p(8, 7, 0)]
    assert history.taper_steps == [
        Marker(date=d(5, 15), label="taper: 81 MME/day"),
        Marker(date=d(6, 12), label="taper pause: hold at 81 MME/day"),
        Marker(date=d(7, 10), label="taper: 72 MME/day"),
        Marker(date=d(8, 7), label="taper: stop (0 MME/day)"),
    ]
    assert history.taper_id == str(active.id)
    assert history.taper_status is PlanStatus.ACTIVE


def test_a_draft_taper_is_charted_when_none_is_active_and_revoked_ones_never() -> None:
    revoked = taper(TaperStep(date=d(5, 1), daily_mme=80), starts_on=d(5, 1),
                    status=PlanStatus.REVOKED)
    older = taper(TaperStep(date=d(6, 1), daily_mme=85), starts_on=d(6, 1),
                  status=PlanStatus.DRAFT)
    newer = taper(TaperStep(date=d(7, 1), daily_mme=85.5), starts_on=d(6, 20),
                  status=PlanStatus.DRAFT)
    history = mme_history(plan_of(tapers=[revoked, older, newer]), LOOKUP, TODAY)
    assert history.planned == [p(6, 20, 90), p(7, 1, 85.5)]
    assert history.taper_steps == [Marker(date=d(7, 1), label="taper: 85.5 MME/day")]
    assert mme_history(plan_of(tapers=[revoked]), LOOKUP, TODAY).planned == []


def test_a_first_step_on_the_start_date_shows_the_original_dose_the_day_before() -> None:
    plan = taper(TaperStep(date=d(5, 1), daily_mme=81), TaperStep(date=d(5, 29), daily_mme=72),
                 starts_on=d(5, 1))
    # dose_on(plan, Apr 30) = 90, dose_on(plan, May 1) = 81
    assert planned_schedule(plan) == [p(4, 30, 90), p(5, 1, 81), p(5, 29, 72)]


def test_goal_reviews_are_markers_in_date_order_with_their_t_score() -> None:
    # reviews are kept newest first on the plan
    plan = plan_of(reviews=[review(d(5, 2), 60.0), review(d(3, 1), 43.7789), review(d(4, 1),
                                                                                      None)])
    assert mme_history(plan, LOOKUP, TODAY).goal_reviews == [
        Marker(date=d(3, 1), label="goal review, GAS T 43.8"),
        Marker(date=d(4, 1), label="goal review"),
        Marker(date=d(5, 2), label="goal review, GAS T 60.0"),
    ]
