"""The patient's total opioid dose over time, in MME/day, for a chart: what was taken
(a step function over the medication statements' dates), what the taper plans, and the
dates the team looked at the plan (taper steps, goal reviews).

How a statement's active interval is read, from what the statement records:

* it starts on `period_start`, or the date it was recorded (`created_at`) when the
  period has no start; a statement with neither is not placed on the chart;
* it ends, exclusive, on `period_end`. Without one:
  - an `active` statement is still running: it counts up to and including `today`;
  - a `stopped`, `completed`, `on-hold` or `unknown` statement ended when it last
    changed (`updated_at`, the date its status was set), the day itself excluded;
* `entered-in-error`, `not-taken` and `intended` statements were never taken and never
  count.

So at `today` the total is that of `safety.summarize` (active statements only), except
for an active statement whose `period_end` has already passed, which stops counting then.

Each statement counts at its daily MME as `mme.mme_for` computes it from the statement
as it stands now: a statement records only its current dose, so a dose changed by an edit
is charted at the new dose over the statement's whole interval. An opioid whose MME is
unknown (no product, no factor, as-needed without a daily maximum...) adds nothing and
makes the total a lower bound while it runs (`lower_bound`); an excluded one
(buprenorphine) neither adds nor makes a lower bound, as in `mme.total_mme`. Only opioids
count, as `classify.kind_of` recognises them.

Values are unrounded; labels round to two decimals.
"""

from __future__ import annotations

import datetime as dt
import math

import msgspec

from domain.care_plan import CarePlan
from domain.medication import MedicationStatement, StatementStatus
from domain.opioids.classify import Kind, kind_of
from domain.opioids.mme import DOSAGE_THRESHOLDS, mme_for
from domain.opioids.safety import Lookup
from domain.opioids.taper import TaperPlan
from domain.vocab import PlanStatus

NEVER_TAKEN = frozenset({
    StatementStatus.ENTERED_IN_ERROR, StatementStatus.NOT_TAKEN, StatementStatus.INTENDED,
})
"""Statuses of statements that never count, whatever their dates."""

_SLACK = 1e-9
"""Two totals closer than this are the same total (binary rounding only)."""


class HistoryPoint(msgspec.Struct, kw_only=True, frozen=True):
    """From `date` on, until the next point, the total is `mme_per_day`."""

    date: dt.date
    mme_per_day: float
    lower_bound: bool = False
    """Some opioid taken then has an unknown MME: the total was at least this."""


class Marker(msgspec.Struct, kw_only=True, frozen=True):
    date: dt.date
    label: str


class MmeHistory(msgspec.Struct, kw_only=True, frozen=True):
    as_of: dt.date
    """`today`: the last date of `points`."""
    points: list[HistoryPoint]
    """The total MME/day as a step function: a point at every date where the total (or
    whether it is a lower bound) changes, and one at `as_of`. Empty: no opioid on record."""
    planned: list[HistoryPoint]
    """The taper's planned schedule as a step function: the original dose, then each
    step (see `planned_schedule`). Empty without an active or draft taper."""
    taper_steps: list[Marker]
    goal_reviews: list[Marker]
    thresholds: list[float]
    """MME/day lines the team watches (`mme.DOSAGE_THRESHOLDS`): 50 and 90."""
    taper_id: str | None = None
    """The taper `planned` and `taper_steps` come from."""
    taper_status: PlanStatus | None = None


def mme_history(plan: CarePlan, lookup: Lookup, today: dt.date,
                since: dt.date | None = None) -> MmeHistory:
    """The plan's opioid history up to `today`, from `since` on when given.

    With `since`, everything before it is left out, but a step function that had a
    value before `since` gets a point on `since` carrying the value then in effect, so
    the chart starts at the right height."""
    taper = chart_taper(plan)
    points = _clip(actual_points(plan, lookup, today), since)
    planned = _clip(planned_schedule(taper), since) if taper is not None else []
    steps = _taper_markers(taper) if taper is not None else []
    reviews = sorted(
        (Marker(date=r.reviewed_on, label=_review_label(r.t_score)) for r in plan.reviews),
        key=lambda m: (m.date, m.label))
    if since is not None:
        steps = [m for m in steps if m.date >= since]
        reviews = [m for m in reviews if m.date >= since]
    return MmeHistory(
        as_of=today, points=points, planned=planned, taper_steps=steps, goal_reviews=reviews,
        thresholds=[t.mme_per_day for t in DOSAGE_THRESHOLDS],
        taper_id=str(taper.id) if taper is not None else None,
        taper_status=taper.status if taper is not None else None)


class _Interval(msgspec.Struct, frozen=True):
    start: dt.date
    end: dt.date
    """Exclusive."""
    mme_per_day: float | None
    excluded: bool


def active_interval(statement: MedicationStatement,
                    today: dt.date) -> tuple[dt.date, dt.date] | None:
    """[start, end) of the days the statement was taken, as far as it says; None when it
    never counts or cannot be placed. See the module docstring for the rules."""
    if statement.status in NEVER_TAKEN:
        return None
    if statement.period_start is not None:
        start = statement.period_start
    elif statement.created_at is not None:
        start = statement.created_at.date()
    else:
        return None
    if statement.period_end is not None:
        end = statement.period_end
    elif statement.status is StatementStatus.ACTIVE:
        end = today + dt.timedelta(days=1)
    elif statement.updated_at is not None:
        end = statement.updated_at.date()
    else:
        return None
    if end <= start:
        return None
    return start, end


def actual_points(plan: CarePlan, lookup: Lookup, today: dt.date) -> list[HistoryPoint]:
    """The total MME/day of the plan's opioid statements, up to and including `today`."""
    intervals: list[_Interval] = []
    for statement in plan.medications:
        product = lookup(statement.rxnorm_code)
        if kind_of(statement.display, product is not None) is not Kind.OPIOID:
            continue
        span = active_interval(statement, today)
        if span is None or span[0] > today:
            continue
        result = mme_for(statement, product)
        intervals.append(_Interval(span[0], span[1], result.mme_per_day, result.excluded))
    if not intervals:
        return []
    dates = sorted({d for i in intervals for d in (i.start, i.end) if d <= today} | {today})
    points: list[HistoryPoint] = []
    for day in dates:
        running = [i for i in intervals if i.start <= day < i.end]
        total = math.fsum(i.mme_per_day for i in running if i.mme_per_day is not None)
        lower = any(i.mme_per_day is None and not i.excluded for i in running)
        last = points[-1] if points else None
        if (last is None or day == today or abs(total - last.mme_per_day) > _SLACK
                or lower != last.lower_bound):
            points.append(HistoryPoint(date=day, mme_per_day=total, lower_bound=lower))
    return points


def chart_taper(plan: CarePlan) -> TaperPlan | None:
    """The taper to chart: the active one, else the most recently added draft."""
    active = [t for t in plan.tapers if t.status is PlanStatus.ACTIVE]
    if active:
        return active[0]
    drafts = [t for t in plan.tapers if t.status is PlanStatus.DRAFT]
    return drafts[-1] if drafts else None


def planned_schedule(taper: TaperPlan) -> list[HistoryPoint]:
    """The taper's schedule as a step function: the original dose from `starts_on`, then
    each step from its date (`taper.dose_on` at every date).

    When the first step falls on `starts_on` itself, the original dose is shown on the
    day before, the last day the patient takes it, so that dates strictly increase."""
    first = taper.starts_on
    if taper.steps and taper.steps[0].date <= first:
        first = taper.steps[0].date - dt.timedelta(days=1)
    return [HistoryPoint(date=first, mme_per_day=taper.original_daily_mme),
            *(HistoryPoint(date=s.date, mme_per_day=s.daily_mme) for s in taper.steps)]


def _taper_markers(taper: TaperPlan) -> list[Marker]:
    markers = []
    for step in taper.steps:
        if step.pause:
            label = f"taper pause: hold at {fmt(step.daily_mme)} MME/day"
        elif step.daily_mme <= 0:
            label = "taper: stop (0 MME/day)"
        else:
            label = f"taper: {fmt(step.daily_mme)} MME/day"
        markers.append(Marker(date=step.date, label=label))
    return markers


def _review_label(t_score: float | None) -> str:
    return "goal review" if t_score is None else f"goal review, GAS T {t_score:.1f}"


def _clip(points: list[HistoryPoint], since: dt.date | None) -> list[HistoryPoint]:
    if since is None:
        return points
    before = [p for p in points if p.date < since]
    kept = [p for p in points if p.date >= since]
    if before and (not kept or kept[0].date != since):
        carried = before[-1]
        kept.insert(0, HistoryPoint(date=since, mme_per_day=carried.mme_per_day,
                                    lower_bound=carried.lower_bound))
    return kept


def fmt(value: float) -> str:
    """MME/day for people: 108.0 -> "108", 7.5 -> "7.5", 33.3333 -> "33.33"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
