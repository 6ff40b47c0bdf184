from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post

from domain.actor import Actor
from domain.patient import Consent, Patient
from service.api.deps import expected_version, idempotent, page_limit, with_etag
from service.api.schemas import PatientCreate, PatientRead, PatientUpdate
from service.db import queries
from service.db.queries import Page
from service.db.uow import UnitOfWork
from service.usecases import patients


class PatientController(Controller):
    path = "/patients"
    tags = ["patients"]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: PatientCreate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[PatientRead]:
        async def run() -> Response[Any]:
            patient = Patient(
                id=uuid.uuid4(),
                clinic_id=actor.clinic_id,
                given_name=data.given_name,
                family_name=data.family_name,
                birth_date=data.birth_date,
                time_zone=data.time_zone,
                language=data.language,
                preferred_channel=data.preferred_channel,
                contact_points=data.contact_points,
                identifiers=data.identifiers,
                quiet_hours=data.quiet_hours,
                consent=Consent(messages=True, given_at=now)
                if data.consent_to_messages
                else Consent(),
            )
            await patients.create(uow, actor, patient, now)
            return with_etag(
                PatientRead.of(patient),
                patient.version,
                201,
                {"Location": f"/api/v1/patients/{patient.id}"},
            )

        return await idempotent(request, uow, actor, run)

    @get("/")
    async def find(
        self,
        uow: UnitOfWork,
        actor: Actor,
        limit: int | None = None,
        cursor: str | None = None,
        family_name: str | None = None,
    ) -> Page[PatientRead]:
        page = await queries.patients(
            uow.conn, actor, limit=page_limit(limit), cursor=cursor, family_name=family_name
        )
        for p in page.items:
            uow.audit(actor, "search", "Patient", p.id, p.id)
        return Page(items=[PatientRead.of(p) for p in page.items], next_cursor=page.next_cursor)

    @get("/{patient_id:uuid}")
    async def read(
        self, patient_id: uuid.UUID, uow: UnitOfWork, actor: Actor
    ) -> Response[PatientRead]:
        patient = await patients.get(uow, actor, patient_id)
        return with_etag(PatientRead.of(patient), patient.version)

    @patch("/{patient_id:uuid}")
    async def update(
        self,
        request: Request[Any, Any, Any],
        patient_id: uuid.UUID,
        data: PatientUpdate,
        uow: UnitOfWork,
        actor: Actor,
        now: dt.datetime,
    ) -> Response[PatientRead]:
        patient = await patients.update(
            uow, actor, patient_id, data, expected_version(request), now
        )
        return with_etag(PatientRead.of(patient), patient.version)
