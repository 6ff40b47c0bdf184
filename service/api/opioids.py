"""Opioid stewardship over the API: the safety summary every discipline reads, tapers
with their guardrails, and the prescriber's reviews."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, put

from domain.actor import Actor
from domain.errors import Invalid, NotFound
from domain.opioids import taper as tapers
from domain.opioids.history import MmeHistory, mme_history
from domain.opioids.safety import OpioidSafety
from domain.opioids.terminology import load_terminology
from domain.vocab import PlanStatus
from service.api.deps import expected_version, idempotent, with_etag
from service.charts import render_mme_chart
from service.db.uow import UnitOfWork
from service.usecases import opioids

PLAN = "/care-plans/{plan_id:uuid}"


class Input(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class SharedDecisionInput(Input):
    patient_agreed: bool
    decided_on: dt.date
    goals_served: list[uuid.UUID] = msgspec.field(default_factory=list)
    patient_words: str | None = None


class TaperCreate(Input):
    opioid_since: dt.date
    """When the patient's current, continuous opioid use began."""
    starts_on: dt.date
    steps: list[tapers.TaperStep]
    medication_statement_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    ingredient: str | None = None
    original_daily_mme: float | None = None
    """Defaults to the current MME/day of the medications tapered."""
    shared_decision: SharedDecisionInput | None = None


class StepsUpdate(Input):
    steps: list[tapers.TaperStep]


class AcknowledgementCreate(Input):
    kind: tapers.Guardrail
    reason: str
    step_index: int | None = None


class TaperStatusChange(Input):
    status: PlanStatus


class OpioidReviewCreate(Input):
    reviewed_on: dt.date
    note: str | None = None


class TaperRead(msgspec.Struct, kw_only=True):
    taper: tapers.TaperPlan
    guardrails: list[tapers.GuardrailHit]
    """Hits not yet acknowledged: each has its reason and an open task for the prescriber."""
    etag: str


def _read(taper: tapers.TaperPlan, hits: list[tapers.GuardrailHit] | None = None) -> TaperRead:
    if hits is None:
        hits = taper.unacknowledged(tapers.evaluate(taper))
    return TaperRead(taper=taper, guardrails=hits, etag=f'W/"{taper.version}"')


def _decision(data: SharedDecisionInput, actor: Actor) -> tapers.SharedDecision:
    return tapers.SharedDecision(patient_agreed=data.patient_agreed, decided_on=data.decided_on,
                                 clinician_id=actor.staff_id, goals_served=data.goals_served,
                                 patient_words=data.patient_words)


class OpioidController(Controller):
    path = PLAN
    tags = ["opioid stewardship"]

    @get("/opioid-safety")
    async def safety(self, plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor,
                     now: dt.datetime) -> OpioidSafety:
        _, summary = await opioids.safety(uow, actor, plan_id, now.date())
        return summary

    @get("/opioid-safety/history")
    async def history(self, plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor,
                      now: dt.datetime, since: dt.date | None = None) -> MmeHistory:
        """Total MME/day over time, the taper's plan, and the dates to mark; `since`
        leaves out what came before."""
        plan, _ = await opioids.safety(uow, actor, plan_id, now.date())
        return mme_history(plan, load_terminology().lookup, now.date(), since)

    @get("/opioid-safety/history.svg", media_type="image/svg+xml")
    async def history_chart(self, plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor,
                            now: dt.datetime, since: dt.date | None = None) -> Response[str]:
        """The same history as an accessible SVG chart."""
        plan, _ = await opioids.safety(uow, actor, plan_id, now.date())
        history = mme_history(plan, load_terminology().lookup, now.date(), since)
        svg = render_mme_chart(history, f"Total opioid dose, MME/day: {plan.title}")
        return Response(svg, media_type="image/svg+xml")

    @post("/opioid-reviews", status_code=201)
    async def review(self, request: Request[Any, Any, Any], plan_id: uuid.UUID,
                     data: OpioidReviewCreate, uow: UnitOfWork, actor: Actor,
                     now: dt.datetime) -> Response[OpioidSafety]:
        async def run() -> Response[Any]:
            plan = await opioids.record_review(uow, actor, plan_id, data.reviewed_on,
                                               data.note, now)
            return Response(opioids.safety_of(plan, now.date()), status_code=201)
        return await idempotent(request, uow, actor, run)

    @get("/tapers")
    async def find(self, plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor) -> list[TaperRead]:
        plan, _ = await opioids.safety(uow, actor, plan_id, dt.date.today())
        return [_read(t) for t in plan.tapers]

    @post("/tapers", status_code=201)
    async def create(self, request: Request[Any, Any, Any], plan_id: uuid.UUID,
                     data: TaperCreate, uow: UnitOfWork, actor: Actor,
                     now: dt.datetime) -> Response[TaperRead]:
        async def run() -> Response[Any]:
            original = data.original_daily_mme
            if original is None:
                original = await _current_mme(uow, actor, plan_id, data, now)
            taper = tapers.TaperPlan(
                id=uuid.uuid4(), care_plan_id=plan_id, original_daily_mme=original,
                opioid_since=data.opioid_since, starts_on=data.starts_on,
                medication_statement_ids=data.medication_statement_ids,
                ingredient=data.ingredient, steps=data.steps,
                shared_decision=_decision(data.shared_decision, actor)
                if data.shared_decision else None)
            hits = await opioids.create_taper(uow, actor, plan_id, taper, now)
            return with_etag(_read(taper, hits), taper.version, 201, {
                "Location": f"/api/v1/care-plans/{plan_id}/tapers/{taper.id}"})
        return await idempotent(request, uow, actor, run)

    @get("/tapers/{taper_id:uuid}")
    async def read(self, plan_id: uuid.UUID, taper_id: uuid.UUID, uow: UnitOfWork,
                   actor: Actor) -> Response[TaperRead]:
        plan, _ = await opioids.safety(uow, actor, plan_id, dt.date.today())
        taper = next((t for t in plan.tapers if t.id == taper_id), None)
        if taper is None:
            raise NotFound("taper plan")
        return with_etag(_read(taper), taper.version)

    @put("/tapers/{taper_id:uuid}/steps")
    async def revise(self, request: Request[Any, Any, Any], plan_id: uuid.UUID,
                     taper_id: uuid.UUID, data: StepsUpdate, uow: UnitOfWork, actor: Actor,
                     now: dt.datetime) -> Response[TaperRead]:
        taper, hits = await opioids.revise_steps(uow, actor, plan_id, taper_id, data.steps,
                                                 expected_version(request), now)
        return with_etag(_read(taper, hits), taper.version)

    @put("/tapers/{taper_id:uuid}/shared-decision")
    async def decide(self, request: Request[Any, Any, Any], plan_id: uuid.UUID,
                     taper_id: uuid.UUID, data: SharedDecisionInput, uow: UnitOfWork,
                     actor: Actor, now: dt.datetime) -> Response[TaperRead]:
        taper = await opioids.record_shared_decision(uow, actor, plan_id, taper_id,
                                                     _decision(data, actor),
                                                     expected_version(request), now)
        return with_etag(_read(taper), taper.version)

    @post("/tapers/{taper_id:uuid}/acknowledgements", status_code=200)
    async def acknowledge(self, request: Request[Any, Any, Any], plan_id: uuid.UUID,
                          taper_id: uuid.UUID, data: AcknowledgementCreate, uow: UnitOfWork,
                          actor: Actor, now: dt.datetime) -> Response[TaperRead]:
        taper = await opioids.acknowledge(uow, actor, plan_id, taper_id, data.kind,
                                          data.step_index, data.reason,
                                          expected_version(request), now)
        return with_etag(_read(taper), taper.version)

    @post("/tapers/{taper_id:uuid}/status", status_code=200)
    async def transition(self, request: Request[Any, Any, Any], plan_id: uuid.UUID,
                         taper_id: uuid.UUID, data: TaperStatusChange, uow: UnitOfWork,
                         actor: Actor) -> Response[TaperRead]:
        taper = await opioids.transition(uow, actor, plan_id, taper_id, data.status,
                                         expected_version(request))
        return with_etag(_read(taper), taper.version)


async def _current_mme(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID, data: TaperCreate,
                       now: dt.datetime) -> float:
    _, summary = await opioids.safety(uow, actor, plan_id, now.date())
    chosen = set(data.medication_statement_ids)
    results = [r for r in summary.statements if r.active and r.statement_id in chosen]
    if not results:
        raise Invalid("original_daily_mme", "name the medications tapered, or give the dose")
    unknown = [r for r in results if r.mme_per_day is None]
    if unknown:
        raise Invalid("original_daily_mme", f"the MME of {unknown[0].display} is unknown "
                      f"({unknown[0].unknown_reason}); give the original dose")
    return sum(r.mme_per_day or 0.0 for r in results)
