"""`care-plans/{plan_id}/visits`: a visit the patient had with a clinician of the team.
Coordinators, admins and the plan's team record them; with the clinic's
`check_in_after_visit` on, the scheduler follows a visit with a check-in the next local
day about the clinician seen (workers/check_ins.py)."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
from litestar import Controller, Response, post

from domain.actor import Actor
from domain.check_in import CLOCK_SKEW
from domain.errors import Invalid
from service.db.repos.visits import Visit
from service.db.uow import UnitOfWork


class VisitCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    clinician_id: uuid.UUID
    """A clinician on the plan's care team."""
    visited_at: dt.datetime
    """ISO 8601 with an offset; not in the future."""


class VisitController(Controller):
    path = "/care-plans/{plan_id:uuid}/visits"
    tags = ["care-plans"]

    @post("/", status_code=201)
    async def create(self, plan_id: uuid.UUID, data: VisitCreate, uow: UnitOfWork,
                     actor: Actor, now: dt.datetime) -> Response[Visit]:
        plan = await uow.care_plans.get(actor.clinic_id, plan_id)
        plan.require_visible(actor)
        member = plan.member(data.clinician_id)
        if member is None or member.discipline == "administration":
            raise Invalid("clinician_id", "not a clinician on this plan's care team")
        if data.visited_at.tzinfo is None:
            raise Invalid("visited_at",
                          "an ISO 8601 date-time with its offset, e.g. 2026-11-21T15:00:00Z")
        if data.visited_at > now + CLOCK_SKEW:
            raise Invalid("visited_at", "a visit that has happened: now or earlier")
        visit = Visit(id=uuid.uuid4(), clinic_id=plan.clinic_id, care_plan_id=plan.id,
                      patient_id=plan.patient_id, clinician_id=data.clinician_id,
                      visited_at=data.visited_at.astimezone(dt.UTC),
                      recorded_by=actor.staff_id, created_at=now)
        await uow.visits.add(visit)
        uow.audit(actor, "create", "Visit", visit.id, plan.patient_id)
        return Response(visit, status_code=201)
