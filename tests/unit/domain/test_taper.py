"""Opioid taper guardrails.

Where the numbers come from
---------------------------
The rates are the CDC's (Dowell et al., CDC Clinical Practice Guideline for Prescribing
Opioids for Pain - United States, 2022, MMWR Recomm Rep 2022;71(No. RR-3), Recommendation
5). Its sentences were read in a verbatim extract; see domain/opioids/taper.py.
  LONG:  "Tapers of approximately 10% per month or slower are likely to be better
          tolerated than more rapid tapers when patients have been taking opioids for
          longer durations (e.g., >=1 year)".
  SHORT: "When patients have taken opioids for shorter durations (e.g., weeks to months
          rather than years), a decrease of 10% of the original dose per week or slower
          (until approximately 30% of the original dose is reached, followed by a weekly
          decrease of approximately 10% of the remaining dose) is less likely to trigger
          withdrawal".
  ABRUPT: HHS Guide for Clinicians on the Appropriate Dosage Reduction or Discontinuation
          of Long-Term Opioid Analgesics (2019), p. 1: "HHS does not recommend abrupt
          opioid dose reduction or discontinuation".
Neither source gives a worked example with dates and doses that could be read here, so
every schedule below is built by hand from those sentences, with the arithmetic next to
it. None of the expected values comes from running the code under test. "Month" is 28
days and the abrupt-stop threshold is 10 MME/day: the module's documented choices, not
numbers from the sources.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domain.errors import Invalid, StaleVersion
from domain.opioids.taper import (
    ABRUPT_STOP_MAX_MME,
    MONTH_DAYS,
    WEEK_DAYS,
    Guardrail,
    GuardrailAcknowledgement,
    GuardrailHit,
    SharedDecision,
    TaperPlan,
    TaperStep,
    dose_on,
    evaluate,
    is_long_term,
    next_step,
    percent_per_interval_schedule,
)
from domain.vocab import PlanStatus

START = dt.date(2026, 1, 5)
THREE_YEARS_BEFORE = dt.date(2023, 1, 5)
THREE_MONTHS_BEFORE = dt.date(2025, 10, 5)
GOAL = uuid.UUID("00000000-0000-0000-0000-00000000000a")
CLINICIAN = uuid.UUID("00000000-0000-0000-0000-00000000000c")
NOW = dt.datetime(2026, 1, 2, 9, 0, tzinfo=dt.UTC)


def agreed() -> SharedDecision:
    return SharedDecision(
        patient_agreed=True,
        decided_on=dt.date(2026, 1, 2),
        clinician_id=CLINICIAN,
        goals_served=[GOAL],
        patient_words="I want to be clear-headed enough to drive my grandson to school.",
    )


def plan(
    steps: list[TaperStep],
    *,
    original: float = 100.0,
    since: dt.date = THREE_YEARS_BEFORE,
    decision: SharedDecision | None = None,
    status: PlanStatus = PlanStatus.ACTIVE,
) -> TaperPlan:
    return TaperPlan(
        id=uuid.uuid4(),
        care_plan_id=uuid.uuid4(),
        original_daily_mme=original,
        opioid_since=since,
        starts_on=START,
        ingredient="oxycodone",
        steps=steps,
        shared_decision=decision,
        status=status,
    )


def step(day: dt.date, mme: float, *, pause: bool = False) -> TaperStep:
    return TaperStep(date=day, daily_mme=mme, pause=pause)


def days(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def kinds(hits: list[GuardrailHit]) -> list[tuple[Guardrail, int | None]]:
    return [(h.kind, h.step_index) for h in hits]


def acknowledgement(kind: Guardrail, index: int | None) -> GuardrailAcknowledgement:
    return GuardrailAcknowledgement(
        kind=kind,
        step_index=index,
        reason="Discussed with the patient, who asked for this pace; weekly visits booked.",
        by=CLINICIAN,
        at=NOW,
    )


# --- The acceptance cases ---------------------------------------------------------


class TestAcceptance:
    def test_ten_week_taper_to_zero_after_three_years_is_too_fast(self) -> None:
        # Three years on opioids, 100 MME/day, cut 10 MME/day (10% of the original) every
        # week: 90, 80, ... 10, 0 on weeks 0..9. LONG allows ~10% per month. By hand, the
        # 28 days ending on week 1 hold the cuts of weeks 0 and 1 (20 MME/day), week 2's
        # three (30), week 3's four (40), and from then on four (40). The first cut alone
        # is 10 <= 10. So steps 1 to 9 are too fast and step 0 is not.
        steps = [step(days(7 * k), 100 - 10 * (k + 1)) for k in range(10)]
        assert [s.daily_mme for s in steps] == [90, 80, 70, 60, 50, 40, 30, 20, 10, 0]
        hits = evaluate(plan(steps, decision=agreed()))
        assert kinds(hits) == [(Guardrail.TOO_FAST, k) for k in range(1, 10)]
        assert hits[0].reason == (
            "step on 2026-01-12 cuts 10 MME/day; with the cut on 2026-01-05, 20 MME/day "
            "(20% of the original 100) is cut within 7 days; for someone on opioids for "
            "3 years the guides advise at most 10% of the original dose per month "
            "(10 MME/day in any 28 days)"
        )
        assert (hits[0].limit, hits[0].actual) == (10.0, 20.0)
        assert (hits[3].limit, hits[3].actual) == (10.0, 40.0)  # weeks 0..3 in one window
        # The last step stops from 10 MME/day, not more than 10: not an abrupt stop.
        assert Guardrail.ABRUPT_DISCONTINUATION not in {h.kind for h in hits}

    def test_ten_percent_of_original_per_month_with_shared_decision_raises_nothing(self) -> None:
        # LONG: ~10% per month. 100 -> 90 -> ... -> 0, one 10 MME/day cut every 28 days.
        # Each 28-day window holds one cut of 10 = 10% of 100. The stop is from 10.
        steps = [step(days(28 * k), 100 - 10 * (k + 1)) for k in range(10)]
        assert evaluate(plan(steps, decision=agreed())) == []

    def test_same_taper_on_calendar_months_raises_nothing(self) -> None:
        # "Per month" read as the same date each month: Jan 5, Feb 5, ... Oct 5. The
        # shortest gap is Feb 5 -> Mar 5 = 28 days (2026 is not a leap year), so no
        # 28-day window holds two cuts.
        steps = [step(dt.date(2026, 1 + k, 5), 100 - 10 * (k + 1)) for k in range(10)]
        assert evaluate(plan(steps, decision=agreed())) == []

    def test_same_taper_without_shared_decision_raises_only_that(self) -> None:
        steps = [step(days(28 * k), 100 - 10 * (k + 1)) for k in range(10)]
        hits = evaluate(plan(steps, decision=None))
        assert kinds(hits) == [(Guardrail.NO_SHARED_DECISION, None)]
        assert hits[0].reason.startswith(
            "no shared decision with the patient is recorded for this taper"
        )

    def test_abrupt_stop_from_90_to_0(self) -> None:
        # 90 MME/day to nothing in one step. ABRUPT: more than 10 MME/day before the stop.
        # It is also a cut of 90 (90% of the original) in one step, so too fast as well.
        hits = evaluate(plan([step(START, 0)], original=90, decision=agreed()))
        assert kinds(hits) == [
            (Guardrail.TOO_FAST, 0),
            (Guardrail.ABRUPT_DISCONTINUATION, 0),
        ]
        abrupt = hits[1]
        assert (abrupt.limit, abrupt.actual) == (ABRUPT_STOP_MAX_MME, 90.0)
        assert abrupt.reason.startswith(
            "step on 2026-01-05 stops the opioid at once from 90 MME/day"
        )

    def test_abrupt_stop_after_a_gradual_start(self) -> None:
        # 100 -> 90 (10%, fine), then 90 -> 0 a month later: the stop is abrupt.
        hits = evaluate(plan([step(START, 90), step(days(28), 0)], decision=agreed()))
        assert (Guardrail.ABRUPT_DISCONTINUATION, 1) in kinds(hits)

    def test_three_months_on_opioids_ten_percent_a_week_passes(self) -> None:
        # SHORT: "a decrease of 10% of the original dose per week or slower". 3 months on
        # opioids: 100 -> 90 -> ... -> 0, one 10 MME/day cut every 7 days. Each 7-day window
        # holds one cut of 10 = 10% of the original. The stop is from 10.
        steps = [step(days(7 * k), 100 - 10 * (k + 1)) for k in range(10)]
        assert evaluate(plan(steps, since=THREE_MONTHS_BEFORE, decision=agreed())) == []

    def test_pauses_are_allowed_and_not_violations(self) -> None:
        # Monthly 10% cuts with a two-month pause at 70 (after the third cut). A pause
        # holds the dose, so it cuts nothing. The cut after the pause is one 10 MME/day
        # cut in its 28 days.
        steps = [
            step(days(0), 90),
            step(days(28), 80),
            step(days(56), 70),
            step(days(70), 70, pause=True),
            step(days(98), 70, pause=True),
            step(days(140), 60),
            step(days(168), 50),
        ]
        assert evaluate(plan(steps, decision=agreed())) == []

    def test_acknowledgement_clears_only_its_kind_and_step(self) -> None:
        # 90 -> 0 at once hits TOO_FAST and ABRUPT, both at step 0.
        taper = plan([step(START, 0)], original=90, decision=agreed())
        hits = evaluate(taper)
        taper.acknowledge(acknowledgement(Guardrail.TOO_FAST, 0), expected=1)
        assert kinds(taper.unacknowledged(hits)) == [(Guardrail.ABRUPT_DISCONTINUATION, 0)]
        assert taper.version == 2
        assert taper.acknowledgements[0].step_date == START

    def test_acknowledging_one_too_fast_step_leaves_the_others(self) -> None:
        steps = [step(days(7 * k), 100 - 10 * (k + 1)) for k in range(10)]
        taper = plan(steps, decision=agreed())
        taper.acknowledge(acknowledgement(Guardrail.TOO_FAST, 3))
        remaining = taper.unacknowledged(evaluate(taper))
        assert [h.step_index for h in remaining] == [1, 2, 4, 5, 6, 7, 8, 9]


# --- Rule 1: too fast, the boundaries --------------------------------------------------


class TestTooFast:
    def test_exactly_ten_percent_per_month_passes_and_a_day_sooner_does_not(self) -> None:
        # Cuts of 10 MME/day (10% of 100) 28 days apart: one per 28-day window, 10 <= 10.
        assert evaluate(plan([step(days(0), 90), step(days(28), 80)], decision=agreed())) == []
        # 27 days apart: both fall within the 28 days ending on the second: 20 > 10.
        hits = evaluate(plan([step(days(0), 90), step(days(27), 80)], decision=agreed()))
        assert kinds(hits) == [(Guardrail.TOO_FAST, 1)]
        assert (hits[0].limit, hits[0].actual) == (10.0, 20.0)

    def test_exactly_ten_percent_per_week_passes_for_short_use(self) -> None:
        # SHORT: 7 days apart pass; 6 days apart put 20 MME/day in one 7-day window.
        short = THREE_MONTHS_BEFORE
        assert (
            evaluate(plan([step(days(0), 90), step(days(7), 80)], since=short, decision=agreed()))
            == []
        )
        hits = evaluate(
            plan([step(days(0), 90), step(days(6), 80)], since=short, decision=agreed())
        )
        assert kinds(hits) == [(Guardrail.TOO_FAST, 1)]
        assert "per week (10 MME/day in any 7 days)" in hits[0].reason
        assert "on opioids for 3 months" in hits[0].reason

    def test_first_cut_from_the_original_dose_counts(self) -> None:
        # 120 -> 90 on the first step: 30 MME/day = 25% of 120 at once. LONG allows 12.
        hits = evaluate(plan([step(START, 90)], original=120, decision=agreed()))
        assert kinds(hits) == [(Guardrail.TOO_FAST, 0)]
        assert hits[0].reason == (
            "step on 2026-01-05 cuts 30 MME/day (25% of the original 120) as the first cut "
            "of the taper; for someone on opioids for 3 years the guides advise at most 10% "
            "of the original dose per month (12 MME/day in any 28 days)"
        )
        assert (hits[0].limit, hits[0].actual) == (12.0, 30.0)

    def test_a_single_large_cut_says_how_long_after_the_previous(self) -> None:
        # 120 -> 108 (12 = 10%), then 35 days later 108 -> 78: 30 = 25% in one cut.
        hits = evaluate(
            plan([step(START, 108), step(days(35), 78)], original=120, decision=agreed())
        )
        assert kinds(hits) == [(Guardrail.TOO_FAST, 1)]
        assert hits[0].reason.startswith(
            "step on 2026-02-09 cuts 30 MME/day (25% of the original 120) 35 days after "
            "the previous cut;"
        )

    def test_a_pause_does_not_bank_time_for_a_bigger_cut(self) -> None:
        # 90 held three months (pauses), then 90 -> 70: 20% of 100 in one cut is more than
        # 10% in its 28 days, however long the dose was held before.
        steps = [
            step(days(0), 90),
            step(days(30), 90, pause=True),
            step(days(60), 90, pause=True),
            step(days(90), 70),
        ]
        hits = evaluate(plan(steps, decision=agreed()))
        assert kinds(hits) == [(Guardrail.TOO_FAST, 3)]
        assert hits[0].actual == 20.0

    def test_small_frequent_cuts_are_summed_over_the_window(self) -> None:
        # 2.5 MME/day every 7 days = 10 per 28 days: passes. 3 every 7 days: the 28 days
        # ending on the 4th cut hold 4 x 3 = 12 > 10.
        ok = [step(days(7 * k), 100 - 2.5 * (k + 1)) for k in range(8)]
        assert evaluate(plan(ok, decision=agreed())) == []
        fast = [step(days(7 * k), 100 - 3 * (k + 1)) for k in range(8)]
        hits = evaluate(plan(fast, decision=agreed()))
        assert [h.step_index for h in hits] == [3, 4, 5, 6, 7]
        assert hits[0].actual == pytest.approx(12.0)

    def test_cdc_short_duration_schedule_passes(self) -> None:
        # SHORT, literally: 10% of the original per week "until approximately 30% of the
        # original dose is reached, followed by a weekly decrease of approximately 10% of
        # the remaining dose". From 100: 90, 80, ..., 30 (weeks 0..6), then x0.9 a week:
        # 27, 24.3, 21.87, 19.683, 17.7147, 15.94323, 14.348907, 12.9140163, 11.62261467,
        # 10.460353203, 9.4143178827 (weeks 7..17), then stop from 9.41 <= 10 (week 18).
        doses: list[float] = [100 - 10 * (k + 1) for k in range(7)]
        while doses[-1] > 10:
            doses.append(doses[-1] * 0.9)
        assert doses[-1] == pytest.approx(9.4143178827)
        doses.append(0)
        steps = [step(days(7 * k), d) for k, d in enumerate(doses)]
        assert len(steps) == 19
        assert evaluate(plan(steps, since=THREE_MONTHS_BEFORE, decision=agreed())) == []

    def test_one_year_on_opioids_is_long_term(self) -> None:
        # "longer durations (e.g., >=1 year)": exactly one year counts as long term.
        assert is_long_term(dt.date(2025, 1, 5), START)
        assert not is_long_term(dt.date(2025, 1, 6), START)
        assert is_long_term(dt.date(2024, 2, 29), dt.date(2025, 2, 28))
        weekly = [step(days(0), 90), step(days(7), 80)]
        one_year = evaluate(plan(weekly, since=dt.date(2025, 1, 5), decision=agreed()))
        assert kinds(one_year) == [(Guardrail.TOO_FAST, 1)]
        assert "on opioids for 1 year the guides advise" in one_year[0].reason
        a_day_less = evaluate(plan(weekly, since=dt.date(2025, 1, 6), decision=agreed()))
        assert a_day_less == []

    def test_windows_are_the_documented_lengths(self) -> None:
        assert (MONTH_DAYS, WEEK_DAYS) == (28, 7)


# --- Rule 2: abrupt discontinuation ----------------------------------------------------


class TestAbrupt:
    def test_stop_from_exactly_the_threshold_passes_and_just_above_does_not(self) -> None:
        # 3 months on opioids, 20 MME/day: 20 -> 10, a week later 0. Each cut is 10 =
        # 50% of 20 in a 7-day window, which is too fast, so only ABRUPT is looked at here.
        short = THREE_MONTHS_BEFORE
        at = evaluate(
            plan([step(days(0), 10), step(days(7), 0)], original=20, since=short, decision=agreed())
        )
        assert Guardrail.ABRUPT_DISCONTINUATION not in {h.kind for h in at}
        above = evaluate(
            plan(
                [step(days(0), 10.5), step(days(7), 0)], original=20, since=short, decision=agreed()
            )
        )
        assert (Guardrail.ABRUPT_DISCONTINUATION, 1) in kinds(above)

    def test_a_taper_that_ends_above_zero_never_stops(self) -> None:
        steps = percent_per_interval_schedule(100, START, 10, 28, floor=50)
        assert evaluate(plan(steps, decision=agreed())) == []


# --- Rule 3: shared decision -----------------------------------------------------------


class TestSharedDecision:
    def test_patient_did_not_agree(self) -> None:
        decision = agreed()
        decision.patient_agreed = False
        hits = evaluate(plan([step(START, 90)], decision=decision))
        assert kinds(hits) == [(Guardrail.NO_SHARED_DECISION, None)]
        assert hits[0].reason.startswith(
            "the shared decision is incomplete: the patient did not agree (2026-01-02);"
        )

    def test_no_goal_served(self) -> None:
        decision = agreed()
        decision.goals_served = []
        hits = evaluate(plan([step(START, 90)], decision=decision))
        assert kinds(hits) == [(Guardrail.NO_SHARED_DECISION, None)]
        assert "it names none of the patient's goals the taper serves" in hits[0].reason

    def test_goals_must_be_the_care_plans(self) -> None:
        taper = plan([step(START, 90)], decision=agreed())
        taper.validate({GOAL})
        with pytest.raises(Invalid) as error:
            taper.validate({uuid.uuid4()})
        assert error.value.field == "shared_decision.goals_served[0]"

    def test_acknowledging_the_missing_decision(self) -> None:
        taper = plan([step(START, 90)], decision=None)
        taper.acknowledge(acknowledgement(Guardrail.NO_SHARED_DECISION, None))
        assert taper.unacknowledged(evaluate(taper)) == []


# --- Rule 4: not a taper -> Invalid ------------------------------------------------------


class TestInvalid:
    @pytest.mark.parametrize(
        ("steps", "field"),
        [
            ([step(days(7), 90), step(days(0), 80)], "steps[1].date"),
            ([step(days(0), 90), step(days(0), 80)], "steps[1].date"),
            ([step(days(-1), 90)], "steps[0].date"),
            ([step(days(0), 90), step(days(28), 95)], "steps[1].daily_mme"),
            ([step(days(0), 110)], "steps[0].daily_mme"),
            ([step(days(0), 90), step(days(28), 80, pause=True)], "steps[1].daily_mme"),
            ([step(days(0), 90), step(days(28), 0), step(days(56), 0)], "steps[2]"),
            ([step(days(0), -1)], "steps[0].daily_mme"),
            ([step(days(0), float("nan"))], "steps[0].daily_mme"),
        ],
    )
    def test_evaluate_raises_invalid_naming_the_field(
        self, steps: list[TaperStep], field: str
    ) -> None:
        with pytest.raises(Invalid) as error:
            evaluate(plan(steps, decision=agreed()))
        assert error.value.field == field

    def test_dose_increase_says_it_is_not_a_taper(self) -> None:
        with pytest.raises(Invalid, match="a taper only holds or lowers the dose"):
            evaluate(plan([step(days(0), 90), step(days(28), 95)]))

    def test_opioid_use_after_the_taper_starts(self) -> None:
        taper = plan([step(START, 90)], since=days(1))
        with pytest.raises(Invalid) as error:
            evaluate(taper)
        assert error.value.field == "opioid_since"

    @pytest.mark.parametrize("original", [0.0, -5.0, float("inf")])
    def test_original_dose(self, original: float) -> None:
        with pytest.raises(Invalid) as error:
            evaluate(plan([], original=original))
        assert error.value.field == "original_daily_mme"

    def test_a_plan_names_what_it_tapers(self) -> None:
        taper = plan([])
        taper.ingredient = None
        with pytest.raises(Invalid) as error:
            taper.validate()
        assert error.value.field == "ingredient"


# --- Acknowledgements and revisions ---------------------------------------------------------


class TestAcknowledgements:
    def test_reason_is_required(self) -> None:
        taper = plan([step(START, 0)], original=90, decision=agreed())
        blank = acknowledgement(Guardrail.TOO_FAST, 0)
        blank.reason = "   "
        with pytest.raises(Invalid) as error:
            taper.acknowledge(blank)
        assert error.value.field == "reason"
        assert taper.acknowledgements == []

    def test_only_a_current_hit_can_be_acknowledged(self) -> None:
        taper = plan([step(days(0), 90), step(days(28), 80)], decision=agreed())
        with pytest.raises(Invalid, match="no too-fast guardrail at step 1"):
            taper.acknowledge(acknowledgement(Guardrail.TOO_FAST, 1))

    def test_stale_version(self) -> None:
        taper = plan([step(START, 0)], original=90, decision=agreed())
        with pytest.raises(StaleVersion):
            taper.acknowledge(acknowledgement(Guardrail.TOO_FAST, 0), expected=7)

    def test_an_acknowledgement_is_tied_to_its_step_date(self) -> None:
        # Acknowledged for the step on Jan 5; the same index on another date is not covered.
        taper = plan([step(START, 0)], original=90, decision=agreed())
        taper.acknowledge(acknowledgement(Guardrail.TOO_FAST, 0))
        moved = GuardrailHit(
            kind=Guardrail.TOO_FAST, step_index=0, step_date=days(3), reason="moved"
        )
        assert taper.unacknowledged([moved]) == [moved]

    def test_revising_the_steps_drops_acknowledgements(self) -> None:
        taper = plan([step(START, 0)], original=90, decision=agreed())
        taper.acknowledge(acknowledgement(Guardrail.TOO_FAST, 0))
        taper.revise_steps(percent_per_interval_schedule(90, START, 10, 28), expected=2)
        assert taper.acknowledgements == []
        assert taper.version == 3
        assert evaluate(taper) == []

    def test_revising_to_a_non_taper_changes_nothing(self) -> None:
        taper = plan([step(START, 90)], decision=agreed())
        with pytest.raises(Invalid):
            taper.revise_steps([step(days(0), 90), step(days(28), 95)])
        assert taper.steps == [step(START, 90)]
        assert taper.version == 1


# --- The schedule: next step, dose on a day, the linear helper ------------------------------


class TestSchedule:
    def test_next_step(self) -> None:
        steps = [step(days(0), 90), step(days(28), 90, pause=True), step(days(56), 80)]
        taper = plan(steps, decision=agreed())
        assert next_step(taper, days(-3)) == steps[0]
        assert next_step(taper, days(0)) == steps[0]  # a step dated today is still next
        assert next_step(taper, days(1)) == steps[1]  # the pause is a step
        assert next_step(taper, days(56)) == steps[2]
        assert next_step(taper, days(57)) is None

    @pytest.mark.parametrize(
        "status",
        [PlanStatus.DRAFT, PlanStatus.ON_HOLD, PlanStatus.COMPLETED, PlanStatus.REVOKED],
    )
    def test_no_next_step_unless_active(self, status: PlanStatus) -> None:
        assert next_step(plan([step(days(0), 90)], status=status), days(-1)) is None

    def test_dose_on(self) -> None:
        taper = plan([step(days(0), 90), step(days(28), 80)])
        assert dose_on(taper, days(-1)) == 100
        assert dose_on(taper, days(0)) == 90
        assert dose_on(taper, days(27)) == 90
        assert dose_on(taper, days(28)) == 80

    def test_percent_per_interval_schedule(self) -> None:
        # 10% of 100 every 28 days from Jan 5: 90 on Jan 5, 80 on Feb 2, ..., 0 on day 252.
        steps = percent_per_interval_schedule(100, START, 10, 28)
        assert [s.daily_mme for s in steps] == [90, 80, 70, 60, 50, 40, 30, 20, 10, 0]
        assert [s.date for s in steps] == [days(28 * k) for k in range(10)]
        assert steps[1].date == dt.date(2026, 2, 2)

    def test_schedule_stops_at_its_floor(self) -> None:
        # 15% of 120 = 18 a step: 102, 84, 66, 48, then 30 would pass the floor of 40.
        steps = percent_per_interval_schedule(120, START, 15, 7, floor=40)
        assert [s.daily_mme for s in steps] == [102, 84, 66, 48, 40]

    def test_schedule_with_uneven_percent_ends_at_zero(self) -> None:
        # 30% of 50 = 15 a step: 35, 20, 5, then 0 (not -10).
        steps = percent_per_interval_schedule(50, START, 30, 7)
        assert [s.daily_mme for s in steps] == pytest.approx([35, 20, 5, 0])

    @pytest.mark.parametrize(
        ("args", "field"),
        [
            ((0, 10, 28, 0), "original"),
            ((100, 0, 28, 0), "percent_of_original"),
            ((100, 101, 28, 0), "percent_of_original"),
            ((100, 10, 0, 0), "interval_days"),
            ((100, 10, 28, 100), "floor"),
        ],
    )
    def test_schedule_arguments(self, args: tuple[float, float, int, float], field: str) -> None:
        original, percent, interval, floor = args
        with pytest.raises(Invalid) as error:
            percent_per_interval_schedule(original, START, percent, interval, floor)
        assert error.value.field == field
