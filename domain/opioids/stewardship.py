"""Who may change opioid tapers and how they go live. The rules for a taper's schedule
are in `taper`; this is what the care plan adds: tapers are the prescriber's (a
physician on the team), and a guardrail never silently blocks one: the plan may only go
live once every hit has been acknowledged with a reason."""

from __future__ import annotations

import uuid

from domain.actor import Actor
from domain.care_plan import CarePlan
from domain.errors import IllegalTransition, Invalid, NotFound, NotYourDiscipline, StaleVersion
from domain.opioids import taper as tapers
from domain.transitions import PLAN, check
from domain.vocab import PlanStatus

PRESCRIBERS = frozenset({"physician"})


def require_prescriber(plan: CarePlan, actor: Actor) -> None:
    """Tapers are clinical decisions: a physician on the plan's team makes them."""
    plan.require_visible(actor)
    if actor.discipline not in PRESCRIBERS or plan.member(actor.staff_id) is None:
        raise NotYourDiscipline("opioid tapers are decided by a physician on the care team")


def find(plan: CarePlan, taper_id: uuid.UUID) -> tapers.TaperPlan:
    found = next((t for t in plan.tapers if t.id == taper_id), None)
    if found is None:
        raise NotFound("taper plan")
    return found


def validate_new(plan: CarePlan, taper: tapers.TaperPlan) -> None:
    taper.validate({g.id for g in plan.goals})
    statement_ids = {m.id for m in plan.medications}
    for index, statement_id in enumerate(taper.medication_statement_ids):
        if statement_id not in statement_ids:
            raise Invalid(f"medication_statement_ids[{index}]",
                                 "not a medication statement of this plan")
    if taper.status is not PlanStatus.DRAFT:
        raise Invalid("status", "a taper starts as a draft")
    if any(t.status is PlanStatus.ACTIVE for t in plan.tapers
           if set(t.medication_statement_ids) & set(taper.medication_statement_ids)):
        raise IllegalTransition("an active taper already covers these medications")


def transition(taper: tapers.TaperPlan, target: PlanStatus, expected: int) -> None:
    """Activation waits for every guardrail hit to be acknowledged, with its reason."""
    if taper.version != expected:
        raise StaleVersion("taper plan", expected, taper.version)
    check(PLAN, "taper plan", taper.status, target)
    if target is PlanStatus.ACTIVE:
        open_hits = taper.unacknowledged(tapers.evaluate(taper))
        if open_hits:
            reasons = "; ".join(f"[{h.kind.value}] {h.reason}" for h in open_hits)
            raise IllegalTransition(
                f"{len(open_hits)} guardrail(s) need an acknowledgement with a reason before "
                f"this taper can start: {reasons}", field="status")
    taper.status = target
    taper.version += 1
