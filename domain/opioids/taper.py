"""Opioid taper plans, and the guardrails that watch how fast and how a taper goes.

A taper plan is a dated schedule of daily doses in morphine milligram equivalents (MME),
from the patient's original daily dose down to a lower dose or to none. `evaluate`
computes which guardrails a plan hits. A hit never blocks anything here: the caller
records it and opens tasks, and a clinician's explicit acknowledgement, with a reason,
lets the plan go ahead (`TaperPlan.acknowledge`, `TaperPlan.unacknowledged`). The domain
only computes; it raises only for input that is not a taper at all (`Invalid`).

Sources, and what was read of them
----------------------------------
[CDC 2022] Dowell D, Ragan KR, Jones CM, Baldwin GT, Chou R. CDC Clinical Practice
Guideline for Prescribing Opioids for Pain - United States, 2022. MMWR Recomm Rep
2022;71(No. RR-3):1-95. Recommendation 5 and its implementation considerations. The
report itself could not be opened here; these sentences were read in a verbatim extract
of it (a public "threshold sheet" in the code index). MMWR page numbers could not be
checked: the table of contents puts Recommendation 2 on p. 21 and Recommendation 6 on
p. 38, and Recommendation 5 lies between them.
  * "Tapers of approximately 10% per month or slower are likely to be better tolerated
    than more rapid tapers when patients have been taking opioids for longer durations
    (e.g., >=1 year)".
  * "When patients have taken opioids for shorter durations (e.g., weeks to months
    rather than years), a decrease of 10% of the original dose per week or slower (until
    approximately 30% of the original dose is reached, followed by a weekly decrease of
    approximately 10% of the remaining dose) is less likely to trigger withdrawal".
  * "Unless there are indications of a life-threatening issue such as warning signs of
    impending overdose (e.g., confusion, sedation, or slurred speech), opioid therapy
    should not be discontinued abruptly, and clinicians should not rapidly reduce opioid
    dosages from higher dosages".
  * "If benefits outweigh risks of continued opioid therapy, clinicians should work
    closely with patients to optimize nonopioid therapies while continuing opioid
    therapy. If benefits do not outweigh risks of continued opioid therapy, clinicians
    should optimize other therapies and work closely with patients to gradually taper to
    lower dosages or, if warranted based on the individual circumstances of the patient,
    appropriately taper and discontinue opioids" (the Recommendation 5 statement).
  * "clinicians should follow up frequently (at least monthly) with patients engaging in
    opioid tapering".
  * MME conversion factors (the report's conversion table): hydrocodone 1.0, oxycodone
    1.5, morphine 1.0, hydromorphone 5.0, tramadol 0.2, codeine 0.15.
  * Read only in other people's words, not verbatim: the tapering plan is worked out
    with the patient, including when to pause the taper; tapers may be paused and
    restarted; and once the smallest available dose is reached, the interval between
    doses can be extended, and opioids can be stopped when taken less often than once
    a day.

[HHS 2019] U.S. Department of Health and Human Services. HHS Guide for Clinicians on the
Appropriate Dosage Reduction or Discontinuation of Long-Term Opioid Analgesics. The cover
is dated September 2019; it was released on October 10, 2019. Read: page 1, in the PDF
and on hhs.gov/opioids/treatment/clinicians-guide-opioid-dosage-reduction/.
  * "Opioids should not be tapered rapidly or discontinued suddenly due to the risks of
    significant opioid withdrawal."
  * "Unless there are indications of a life-threatening issue, such as warning signs of
    impending overdose, HHS does not recommend abrupt opioid dose reduction or
    discontinuation."
  * "In each case the clinician should review the risks and benefits of the current
    therapy with the patient, and decide if tapering is appropriate based on individual
    circumstances."
  * Dose changes "have potential to harm or put patients at risk if not made in a
    thoughtful, deliberative, collaborative, and measured manner."
  * Clinicians "should never abandon patients."
  The guide's own pages on taper rates could not be read here. Press coverage on the day
  it came out (Modern Healthcare) says in its own words: "Common tapers range from
  reducing opioids dosage between 5% and 20% every four weeks, but HHS recommends
  reducing dosage by 10% per month or slower for patients who have used opioids for more
  than a year." No source that could be read contains the exact words "a decrease of 10%
  of the original dose per month".

The rules as implemented
------------------------
1. Too fast (`Guardrail.TOO_FAST`). The dose cut in any `MONTH_DAYS` (28) consecutive
   days must be at most 10% of the ORIGINAL daily dose, for a patient who had been on
   opioids for a year or more when the taper starts. For shorter use, the same applies
   to any `WEEK_DAYS` (7) consecutive days. A cut takes effect on its step's date. The
   window is checked at every cut, including the first cut from the original dose.
   So the rate is the cuts in MME/day taking effect within a window, divided by the
   window length, compared with 10% of the original per 28 or per 7 days. Steps exactly
   28 (or 7) days apart, each cutting 10% of the original, pass; 27 (or 6) days apart,
   they do not. Two readings were chosen on purpose:
   * A "month" is 28 days, the shortest calendar month. A taper that cuts 10% on the
     same date every calendar month, or every 4 weeks as prescriptions are often
     written, is then never flagged. With 30 days, every cut falling on March 1 would
     be flagged (February gives only 28 days). The difference is 10.7% instead of 10%
     per 30 days, within the guideline's "approximately 10% per month".
   * Time spent at one dose is never banked. A pause, or any long hold, does not permit
     a bigger cut later: a 20% cut after three months at one dose is still 20% within
     28 days. This is why the check uses a sliding window, not "cut divided by the days
     since the previous step".
   The ceiling is the linear reading, "10% of the original" as the brief specifies. The
   guideline's monthly sentence does not say of which dose, and its weekly sentence
   slows to 10% of the REMAINING dose below about 30% of the original. Neither of those
   slower tails is enforced here.
2. Abrupt discontinuation (`Guardrail.ABRUPT_DISCONTINUATION`). A step to 0 from more
   than `ABRUPT_STOP_MAX_MME` (10) MME/day, whatever came before. 10 MME/day is a
   documented choice, not a cited number. It is about one smallest common tablet a day
   (oxycodone 5 mg = 7.5 MME, hydrocodone 5 mg = 5, hydromorphone 2 mg = 10,
   tramadol 50 mg = 10, by the CDC 2022 factors). It is also the lowest threshold at
   which a linear 10%-of-original taper from 100 MME/day may end by stopping from
   10 MME/day. It is more lenient than the guideline's "stop when taken less often
   than once a day": stopping from one 5 mg oxycodone tablet a day passes.
3. No shared decision (`Guardrail.NO_SHARED_DECISION`). There must be a recorded
   decision, dated and by a clinician, in which the patient agreed and which names at
   least one goal of the care plan that the taper serves. Whether a stable patient
   should taper at all is the clinician's and the patient's judgement. No guardrail
   decides it; the shared decision is where it is recorded.
4. Steps out of date order (or two on one date), steps before the taper starts, doses
   that rise, a pause that changes the dose, or steps after the dose has reached 0 are
   not a taper: `Invalid`, naming the field.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import math
import uuid
from collections.abc import Collection, Sequence

import msgspec

from domain.errors import Invalid, StaleVersion
from domain.patient import require_text
from domain.vocab import PlanStatus

TAPER_FRACTION = 0.10
"""The most of the ORIGINAL daily dose to cut per window: 10% (CDC 2022, Recommendation 5)."""

MONTH_DAYS = 28
"""The window for patients on opioids for a year or more; see the module docstring."""

WEEK_DAYS = 7
"""The window for patients on opioids for less than a year."""

LONG_TERM_MONTHS = 12
"""On opioids for this many calendar months when the taper starts = "longer durations (e.g.,
>=1 year)" (CDC 2022)."""

ABRUPT_STOP_MAX_MME = 10.0
"""A stop to 0 from more than this many MME/day is abrupt. A documented choice; see above."""

MAX_DAILY_MME = 10_000.0
"""Sanity bound on any daily dose in MME, to reject typing errors, not a clinical limit."""

_TOLERANCE = 1e-9
"""Relative slack for float arithmetic on doses, so that exactly 10% counts as 10%."""


class Guardrail(enum.StrEnum):
    TOO_FAST = "too-fast"
    ABRUPT_DISCONTINUATION = "abrupt-discontinuation"
    NO_SHARED_DECISION = "no-shared-decision"


_KIND_ORDER = {kind: order for order, kind in enumerate(Guardrail)}


class ProductDose(msgspec.Struct, kw_only=True, frozen=True):
    """The same day's dose as the prescription reads, e.g. 3 tablets of oxycodone 5 mg.
    For people; the guardrails read `TaperStep.daily_mme` only."""

    rxcui: str
    """RxNorm RXCUI of the product (SCD or SBD)."""
    quantity_per_day: float
    unit: str
    """`tablet`, `mL`, `patch`, ..."""

    def validate(self, field: str) -> None:
        if not self.rxcui.isdigit() or len(self.rxcui) > 10:
            raise Invalid(f"{field}.rxcui", "an RxNorm RXCUI: digits only")
        if not (math.isfinite(self.quantity_per_day) and 0 <= self.quantity_per_day <= 1000):
            raise Invalid(f"{field}.quantity_per_day", "between 0 and 1000")
        require_text(f"{field}.unit", self.unit, max_length=40)


class TaperStep(msgspec.Struct, kw_only=True, frozen=True):
    """From `date` on, the patient takes `daily_mme` a day until the next step.

    A pause holds the dose: it repeats the dose in effect and marks the hold as a
    deliberate pause (e.g. withdrawal symptoms, a hard month). A step that repeats the
    dose without `pause` is a scheduled hold, e.g. a review visit."""

    date: dt.date
    daily_mme: float
    pause: bool = False
    note: str | None = None
    product_dose: ProductDose | None = None


class SharedDecision(msgspec.Struct, kw_only=True):
    """The decision to taper, made with the patient: "work closely with patients" (CDC
    2022, Recommendation 5); "review the risks and benefits of the current therapy with
    the patient" (HHS 2019, p. 1)."""

    patient_agreed: bool
    decided_on: dt.date
    clinician_id: uuid.UUID
    goals_served: list[uuid.UUID] = msgspec.field(default_factory=list)
    """Ids of the care plan's goals (the patient's own) that this taper serves."""
    patient_words: str | None = None
    """What the patient said, in their words."""

    def validate(self, plan_goal_ids: Collection[uuid.UUID] | None = None) -> None:
        if len(set(self.goals_served)) != len(self.goals_served):
            raise Invalid("shared_decision.goals_served", "each goal may be listed once")
        if plan_goal_ids is not None:
            for index, goal_id in enumerate(self.goals_served):
                if goal_id not in plan_goal_ids:
                    raise Invalid(
                        f"shared_decision.goals_served[{index}]", "not a goal of this care plan"
                    )
        if self.patient_words is not None:
            require_text("shared_decision.patient_words", self.patient_words, max_length=4000)

    @property
    def is_complete(self) -> bool:
        return self.patient_agreed and bool(self.goals_served)


class GuardrailHit(msgspec.Struct, kw_only=True, frozen=True):
    """One guardrail a plan hits, at one step (or at the plan as a whole).

    `limit` and `actual` by kind:
      * TOO_FAST: MME/day that may be cut within the window (10% of the original), and
        MME/day cut within the window ending at this step;
      * ABRUPT_DISCONTINUATION: the largest daily MME one may stop from
        (`ABRUPT_STOP_MAX_MME`), and the daily MME this step stops from;
      * NO_SHARED_DECISION: both None."""

    kind: Guardrail
    step_index: int | None
    step_date: dt.date | None
    reason: str
    limit: float | None = None
    actual: float | None = None


class GuardrailAcknowledgement(msgspec.Struct, kw_only=True):
    """A clinician saw a hit and lets the plan proceed anyway, saying why.

    It covers the hit of the same kind at the same step. `step_date` ties it to the
    step as it was when acknowledged (`TaperPlan.acknowledge` fills it in). If the
    schedule is later revised, an acknowledgement never silently covers a different
    step that now has the same index."""

    kind: Guardrail
    step_index: int | None
    reason: str
    by: uuid.UUID
    at: dt.datetime
    step_date: dt.date | None = None

    def validate(self) -> None:
        require_text("reason", self.reason, max_length=2000)
        if self.kind is Guardrail.NO_SHARED_DECISION:
            if self.step_index is not None or self.step_date is not None:
                raise Invalid("step_index", "the shared decision is about the plan, not a step")
        elif self.step_index is None:
            raise Invalid("step_index", f"a {self.kind.value} guardrail is hit at a step")
        elif self.step_index < 0:
            raise Invalid("step_index", "0 or more")

    def covers(self, hit: GuardrailHit) -> bool:
        return (
            self.kind is hit.kind
            and self.step_index == hit.step_index
            and (self.step_date is None or self.step_date == hit.step_date)
        )


class TaperPlan(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    care_plan_id: uuid.UUID
    original_daily_mme: float
    """The daily dose the taper starts from: all opioids, in MME."""
    opioid_since: dt.date
    """When the patient's current, continuous opioid use began."""
    starts_on: dt.date
    """When the taper starts; no step comes before it."""
    medication_statement_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    """The MedicationStatements being tapered."""
    ingredient: str | None = None
    """Or the opioid ingredient, as `OpioidProduct.ingredient` names it: `oxycodone`..."""
    steps: list[TaperStep] = msgspec.field(default_factory=list)
    shared_decision: SharedDecision | None = None
    acknowledgements: list[GuardrailAcknowledgement] = msgspec.field(default_factory=list)
    status: PlanStatus = PlanStatus.DRAFT
    version: int = 1

    @property
    def long_term(self) -> bool:
        """On opioids for a year or more when the taper starts."""
        return is_long_term(self.opioid_since, self.starts_on)

    def validate(self, plan_goal_ids: Collection[uuid.UUID] | None = None) -> None:
        """Everything; `plan_goal_ids` are the care plan's goals, when the caller has them."""
        if not self.medication_statement_ids and self.ingredient is None:
            raise Invalid("ingredient", "name the medication statements or the ingredient tapered")
        if len(set(self.medication_statement_ids)) != len(self.medication_statement_ids):
            raise Invalid("medication_statement_ids", "each statement may be listed once")
        if self.ingredient is not None:
            require_text("ingredient", self.ingredient, max_length=100)
        self.validate_schedule()
        if self.shared_decision is not None:
            self.shared_decision.validate(plan_goal_ids)
        for index, acknowledgement in enumerate(self.acknowledgements):
            acknowledgement.validate()
            if acknowledgement.step_index is not None and acknowledgement.step_index >= len(
                self.steps
            ):
                raise Invalid(f"acknowledgements[{index}].step_index", "no such step")

    def validate_schedule(self) -> None:
        """Is this a taper at all? Raises `Invalid` naming the first field that is not."""
        original = self.original_daily_mme
        if not (math.isfinite(original) and 0 < original <= MAX_DAILY_MME):
            raise Invalid("original_daily_mme", f"greater than 0 and at most {MAX_DAILY_MME:g}")
        if self.opioid_since > self.starts_on:
            raise Invalid("opioid_since", "opioid use cannot begin after the taper starts")
        slack = _TOLERANCE * max(1.0, original)
        previous_dose, previous_date = original, None
        for index, step in enumerate(self.steps):
            field = f"steps[{index}]"
            if not (math.isfinite(step.daily_mme) and 0 <= step.daily_mme <= MAX_DAILY_MME):
                raise Invalid(f"{field}.daily_mme", f"between 0 and {MAX_DAILY_MME:g} MME/day")
            if step.date < self.starts_on:
                raise Invalid(
                    f"{field}.date", f"{step.date} is before the taper starts on {self.starts_on}"
                )
            if previous_date is not None and step.date <= previous_date:
                raise Invalid(
                    f"{field}.date",
                    f"steps go in date order, one per date: {step.date} does not come after "
                    f"{previous_date}",
                )
            if previous_date is not None and previous_dose <= 0:
                raise Invalid(field, f"the taper already stopped on {previous_date}")
            if step.daily_mme > previous_dose + slack:
                raise Invalid(
                    f"{field}.daily_mme",
                    f"the dose rises from {_fmt(previous_dose)} to {_fmt(step.daily_mme)} "
                    "MME/day: a taper only holds or lowers the dose",
                )
            if step.pause and abs(step.daily_mme - previous_dose) > slack:
                raise Invalid(
                    f"{field}.daily_mme",
                    f"a pause holds the dose: {_fmt(previous_dose)} MME/day, "
                    f"not {_fmt(step.daily_mme)}",
                )
            if step.note is not None:
                require_text(f"{field}.note", step.note, max_length=2000)
            if step.product_dose is not None:
                step.product_dose.validate(f"{field}.product_dose")
            previous_dose, previous_date = step.daily_mme, step.date

    def unacknowledged(self, hits: Sequence[GuardrailHit]) -> list[GuardrailHit]:
        """The hits no acknowledgement covers: the same kind at the same step."""
        return [hit for hit in hits if not any(a.covers(hit) for a in self.acknowledgements)]

    def acknowledge(
        self, acknowledgement: GuardrailAcknowledgement, expected: int | None = None
    ) -> None:
        """Record that a clinician lets the plan proceed despite a hit it has now.

        Replaces an earlier acknowledgement of the same kind and step."""
        _check_version(self.version, expected)
        acknowledgement.validate()
        hit = next(
            (
                h
                for h in evaluate(self)
                if h.kind is acknowledgement.kind and h.step_index == acknowledgement.step_index
            ),
            None,
        )
        if hit is None:
            where = (
                ""
                if acknowledgement.step_index is None
                else f" at step {acknowledgement.step_index}"
            )
            raise Invalid(
                "step_index", f"the plan hits no {acknowledgement.kind.value} guardrail{where}"
            )
        if acknowledgement.step_date is not None and acknowledgement.step_date != hit.step_date:
            raise Invalid("step_date", f"step {hit.step_index} is on {hit.step_date}")
        acknowledgement.step_date = hit.step_date
        self.acknowledgements = [
            a
            for a in self.acknowledgements
            if not (a.kind is acknowledgement.kind and a.step_index == acknowledgement.step_index)
        ]
        self.acknowledgements.append(acknowledgement)
        self.version += 1

    def revise_steps(self, steps: Sequence[TaperStep], expected: int | None = None) -> None:
        """Replace the schedule. Acknowledgements were given for the old schedule, so they
        go: the new one's hits must be looked at afresh."""
        _check_version(self.version, expected)
        msgspec.structs.replace(self, steps=list(steps)).validate_schedule()
        self.steps = list(steps)
        self.acknowledgements = []
        self.version += 1


def evaluate(plan: TaperPlan) -> list[GuardrailHit]:
    """Every guardrail the plan hits, the steps' in step order, then the plan's.

    Pure: reads the plan, changes nothing, raises only `Invalid` for a schedule that is
    not a taper (see `TaperPlan.validate_schedule`), never because of a hit."""
    plan.validate_schedule()
    hits = [*_too_fast(plan), *_abrupt(plan)]
    hits.sort(key=lambda h: (h.step_index or 0, _KIND_ORDER[h.kind]))
    shared = _no_shared_decision(plan)
    if shared is not None:
        hits.append(shared)
    return hits


def dose_on(plan: TaperPlan, day: dt.date) -> float:
    """The daily MME the schedule has the patient on on `day`."""
    dose = plan.original_daily_mme
    for step in plan.steps:
        if step.date > day:
            break
        dose = step.daily_mme
    return dose


def next_step(plan: TaperPlan, today: dt.date) -> TaperStep | None:
    """The next scheduled step of a plan in force: the first dated today or later.

    None when the plan is not active (a draft, on hold, completed, revoked...) or no
    step is left. A pause is a step: "hold at this dose until the next one"."""
    if plan.status is not PlanStatus.ACTIVE:
        return None
    return next((step for step in plan.steps if step.date >= today), None)


def percent_per_interval_schedule(
    original: float,
    start: dt.date,
    percent_of_original: float,
    interval_days: int,
    floor: float = 0,
) -> list[TaperStep]:
    """A linear taper: cut `percent_of_original`% of `original` on `start` and every
    `interval_days` after it, down to `floor` MME/day (0: stop).

    E.g. (100, d, 10, 28) is 90 on d, 80 on d+28, ... 0 on d+252: 10% of the original
    per month as `evaluate` reads a month."""
    if not (math.isfinite(original) and 0 < original <= MAX_DAILY_MME):
        raise Invalid("original", f"greater than 0 and at most {MAX_DAILY_MME:g}")
    if not (math.isfinite(percent_of_original) and 0 < percent_of_original <= 100):
        raise Invalid("percent_of_original", "greater than 0 and at most 100")
    if not 1 <= interval_days <= 366:
        raise Invalid("interval_days", "between 1 and 366 days")
    if not (math.isfinite(floor) and 0 <= floor < original):
        raise Invalid("floor", "0 or more and below the original dose")
    steps: list[TaperStep] = []
    count = 1
    while not steps or steps[-1].daily_mme > floor:
        # original * (100 - p*k) / 100 keeps whole percentages exact (100 * 70 / 100 = 70.0)
        dose = max(original * (100 - percent_of_original * count) / 100, floor)
        day = start + dt.timedelta(days=interval_days * (count - 1))
        steps.append(TaperStep(date=day, daily_mme=dose))
        count += 1
    return steps


def is_long_term(opioid_since: dt.date, on: dt.date) -> bool:
    """On opioids for a year or more on `on` (Feb 29 + 1 year = Feb 28)."""
    return _add_months(opioid_since, LONG_TERM_MONTHS) <= on


# -- the guardrails -------------------------------------------------------------------


def _too_fast(plan: TaperPlan) -> list[GuardrailHit]:
    original = plan.original_daily_mme
    long_term = plan.long_term
    window = MONTH_DAYS if long_term else WEEK_DAYS
    limit = TAPER_FRACTION * original
    slack = _TOLERANCE * max(1.0, original)
    advice = (
        f"for someone on opioids for {_duration(plan.opioid_since, plan.starts_on)} the guides "
        f"advise at most 10% of the original dose per {'month' if long_term else 'week'} "
        f"({_fmt(limit)} MME/day in any {window} days)"
    )
    hits: list[GuardrailHit] = []
    cuts: list[tuple[dt.date, float]] = []
    previous = original
    for index, step in enumerate(plan.steps):
        cut, previous = previous - step.daily_mme, step.daily_mme
        if cut <= slack:
            continue
        earlier = [c for c in cuts if c[0] > step.date - dt.timedelta(days=window)]
        cuts.append((step.date, cut))
        total = cut + sum(c[1] for c in earlier)
        if total <= limit + slack:
            continue
        if earlier:
            first = earlier[0][0]
            others = (
                f"the cut on {first}"
                if len(earlier) == 1
                else f"the {len(earlier)} cuts since {first}"
            )
            what = (
                f"step on {step.date} cuts {_fmt(cut)} MME/day; with {others}, "
                f"{_fmt(total)} MME/day ({_fmt(100 * total / original)}% of the original "
                f"{_fmt(original)}) is cut within {(step.date - first).days} days"
            )
        else:
            when = (
                f"{(step.date - cuts[-2][0]).days} days after the previous cut"
                if len(cuts) > 1
                else "as the first cut of the taper"
            )
            what = (
                f"step on {step.date} cuts {_fmt(cut)} MME/day ({_fmt(100 * cut / original)}% "
                f"of the original {_fmt(original)}) {when}"
            )
        hits.append(
            GuardrailHit(
                kind=Guardrail.TOO_FAST,
                step_index=index,
                step_date=step.date,
                reason=f"{what}; {advice}",
                limit=limit,
                actual=total,
            )
        )
    return hits


def _abrupt(plan: TaperPlan) -> list[GuardrailHit]:
    slack = _TOLERANCE * max(1.0, plan.original_daily_mme)
    previous = plan.original_daily_mme
    for index, step in enumerate(plan.steps):
        if step.daily_mme <= 0 and previous > ABRUPT_STOP_MAX_MME + slack:
            reason = (
                f"step on {step.date} stops the opioid at once from {_fmt(previous)} MME/day; "
                "the guides advise against abrupt discontinuation and say to stop only from "
                f"the smallest available dose (here: at most {_fmt(ABRUPT_STOP_MAX_MME)} "
                "MME/day before the stop)"
            )
            return [
                GuardrailHit(
                    kind=Guardrail.ABRUPT_DISCONTINUATION,
                    step_index=index,
                    step_date=step.date,
                    reason=reason,
                    limit=ABRUPT_STOP_MAX_MME,
                    actual=previous,
                )
            ]
        previous = step.daily_mme
    return []


def _no_shared_decision(plan: TaperPlan) -> GuardrailHit | None:
    decision = plan.shared_decision
    if decision is not None and decision.is_complete:
        return None
    if decision is None:
        what = "no shared decision with the patient is recorded for this taper"
    else:
        missing = []
        if not decision.patient_agreed:
            missing.append(f"the patient did not agree ({decision.decided_on})")
        if not decision.goals_served:
            missing.append("it names none of the patient's goals the taper serves")
        what = "the shared decision is incomplete: " + " and ".join(missing)
    return GuardrailHit(
        kind=Guardrail.NO_SHARED_DECISION,
        step_index=None,
        step_date=None,
        reason=(
            f"{what}; the guides ask clinicians to decide a taper with the patient and to "
            "work closely with them on it"
        ),
    )


# -- helpers --------------------------------------------------------------------------


def _check_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise StaleVersion("taper plan", expected, current)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def _duration(since: dt.date, until: dt.date) -> str:
    months = (until.year - since.year) * 12 + until.month - since.month
    while months > 0 and _add_months(since, months) > until:
        months -= 1
    if months <= 0:
        return _plural((until - since).days, "day")
    years, months = divmod(months, 12)
    parts = [_plural(years, "year")] if years else []
    if months:
        parts.append(_plural(months, "month"))
    return " and ".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _fmt(value: float) -> str:
    """100.0 -> "100", 7.5 -> "7.5", 33.333 -> "33.33"."""
    return f"{round(value, 2):g}"
