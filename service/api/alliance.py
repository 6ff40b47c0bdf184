"""The alliance per relationship over the API: each clinician's alliance with the patient
over time, with its baseline and flags, as JSON and as an accessible SVG chart. As
visible as the plan (coordinators, admins, the plan's team; anyone else gets 404), and
audited as reads."""

from __future__ import annotations

import datetime as dt
import uuid

from litestar import Controller, Response, get

from domain.actor import Actor
from domain.alliance_trend import AllianceHistory
from service.alliance_chart import render_alliance_chart
from service.db.uow import UnitOfWork
from service.usecases import alliance

PLAN = "/care-plans/{plan_id:uuid}"


class AllianceController(Controller):
    path = PLAN
    tags = ["alliance"]

    @get("/alliance")
    async def trend(self, plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor,
                    now: dt.datetime) -> AllianceHistory:
        """Per relationship (patient and clinician): the check-ins over time, the baseline
        the latest is judged against, and whether it dropped or shows low goal agreement;
        the patient's PEG; the plan's goal reviews; and the rules in force."""
        _, history = await alliance.history(uow, actor, plan_id, now.date())
        return history

    @get("/alliance.svg", media_type="image/svg+xml")
    async def chart(self, plan_id: uuid.UUID, uow: UnitOfWork, actor: Actor,
                    now: dt.datetime) -> Response[str]:
        """The same as an SVG chart: alliance per clinician (1-5) above, PEG (0-10) below,
        goal reviews marked."""
        plan, history = await alliance.history(uow, actor, plan_id, now.date())
        svg = render_alliance_chart(history, f"Alliance and pain over time: {plan.title}")
        return Response(svg, media_type="image/svg+xml")
