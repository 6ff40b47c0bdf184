"""The opioid safety picture of one plan, the same for every discipline on the team:
total MME/day, thresholds crossed, co-prescription and naloxone flags, the active taper
and its next step, guardrails not yet acknowledged, and the prescriber's review clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import msgspec

from domain.care_plan import CarePlan
from domain.medication import MedicationStatement
from domain.opioids import taper as tapers
from domain.opioids.classify import Kind, kind_of
from domain.opioids.mme import MmeResult, PatientTotal, RiskFlags, mme_for, risk_flags, total_mme
from domain.opioids.products import OpioidProduct
from domain.opioids.review_clock import ReviewClock, review_clock
from domain.vocab import PlanStatus

Lookup = Callable[[str], OpioidProduct | None]


class TaperSummary(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    status: PlanStatus
    original_daily_mme: float
    next_step: tapers.TaperStep | None
    unacknowledged: tuple[tapers.GuardrailHit, ...]


class OpioidSafety(msgspec.Struct, kw_only=True, frozen=True):
    on_opioids: bool
    total: PatientTotal
    flags: RiskFlags
    statements: tuple[MmeResult, ...]
    tapers: tuple[TaperSummary, ...]
    review_clock: ReviewClock | None
    """Only while an opioid is active: when the prescriber must next review."""


def summarize(plan: CarePlan, lookup: Lookup, today: dt.date) -> OpioidSafety:
    opioids: list[tuple[MedicationStatement, OpioidProduct | None]] = []
    benzodiazepine = naloxone = False
    for statement in plan.medications:
        product = lookup(statement.rxnorm_code)
        kind = kind_of(statement.display, product is not None)
        if kind is Kind.OPIOID:
            opioids.append((statement, product))
        elif statement.is_active and kind is Kind.BENZODIAZEPINE:
            benzodiazepine = True
        elif kind is Kind.NALOXONE and statement.status.value in ("active", "completed"):
            naloxone = True
    results = tuple(mme_for(s, p) for s, p in opioids)
    total = total_mme(results)
    active = [s for s, _ in opioids if s.is_active]
    clock = None
    if active:
        started = min(s.period_start or (s.created_at or dt.datetime.now(dt.UTC)).date()
                      for s in active)
        clock = review_clock(started, plan.opioid_reviewed_on, today)
    return OpioidSafety(
        on_opioids=bool(active), total=total,
        flags=risk_flags(total, benzodiazepine_active=benzodiazepine, naloxone_on_file=naloxone),
        statements=results,
        tapers=tuple(_taper(t, today) for t in plan.tapers
                     if t.status not in (PlanStatus.REVOKED, PlanStatus.ENTERED_IN_ERROR)),
        review_clock=clock)


def _taper(plan: tapers.TaperPlan, today: dt.date) -> TaperSummary:
    return TaperSummary(id=str(plan.id), status=plan.status,
                        original_daily_mme=plan.original_daily_mme,
                        next_step=tapers.next_step(plan, today),
                        unacknowledged=tuple(plan.unacknowledged(tapers.evaluate(plan))))
