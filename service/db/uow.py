"""One request or one job is one transaction: the UnitOfWork holds its connection and
repositories. Use cases never commit; the edge (`provide_uow`, a job's `async with`) does."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.actor import Actor
from fhir.store.repository import ResourceStore
from service.db.repos.audit import AuditEntry, AuditRepository
from service.db.repos.base import Repository, Touched
from service.db.repos.care_plans import CarePlanRepository
from service.db.repos.check_ins import CheckInRepository
from service.db.repos.clinic_settings import ClinicSettingsRepository
from service.db.repos.clinics import ClinicRepository
from service.db.repos.idempotency import IdempotencyRepository
from service.db.repos.links import LinkRepository
from service.db.repos.messages import MessageRepository
from service.db.repos.patients import PatientRepository
from service.db.repos.questionnaires import QuestionnaireRepository
from service.db.repos.responses import ResponseRepository
from service.db.repos.staff import StaffRepository, TokenRepository
from service.db.repos.tasks import TaskRepository
from service.db.repos.templates import TemplateRepository
from service.db.repos.visits import VisitRepository


class RequestContext(msgspec.Struct, frozen=True, kw_only=True):
    """Where a change came from, for the audit trail."""

    request_id: str | None = None
    client_address: str | None = None


class UnitOfWork:
    def __init__(self, conn: AsyncConnection, context: RequestContext | None = None) -> None:
        self.conn = conn
        self.context = context or RequestContext()
        self.touched = Touched()
        self.clinics = ClinicRepository(conn, self.touched)
        self.staff = StaffRepository(conn, self.touched)
        self.tokens = TokenRepository(conn)
        self.patients = PatientRepository(conn, self.touched)
        self.care_plans = CarePlanRepository(conn, self.touched)
        self.tasks = TaskRepository(conn, self.touched)
        self.check_ins = CheckInRepository(conn)
        self.templates = TemplateRepository(conn)
        self.idempotency = IdempotencyRepository(conn)
        self.messages = MessageRepository(conn, self.touched)
        self.links = LinkRepository(conn)
        self.responses = ResponseRepository(conn, self.touched)
        self.questionnaires = QuestionnaireRepository(conn, self.touched)
        self.clinic_settings = ClinicSettingsRepository(conn)
        self.visits = VisitRepository(conn)
        self.store = ResourceStore(conn)
        self._audit = AuditRepository(conn)
        self._pending_audit: list[AuditEntry] = []

    def audit(
        self,
        actor: Actor | None,
        action: str,
        resource_type: str,
        resource_id: uuid.UUID | None,
        patient_id: uuid.UUID | None,
        clinic_id: uuid.UUID | None = None,
    ) -> None:
        """Note an access to patient data; written with the transaction's other writes."""
        clinic = clinic_id or (actor.clinic_id if actor else None)
        if clinic is None:
            raise ValueError("an audit entry needs a clinic")
        self._pending_audit.append(
            AuditEntry(
                clinic_id=clinic,
                actor_type="staff" if actor else "system",
                actor_id=actor.staff_id if actor else None,
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                patient_id=patient_id,
                client_address=self.context.client_address,
                request_id=self.context.request_id,
            )
        )

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the transaction that may fail alone (a batch entry): on error its
        writes, audit entries and pending FHIR projections are all undone."""
        audit = list(self._pending_audit)
        touched = copy.deepcopy(self.touched)
        try:
            async with self.conn.begin_nested():
                yield
        except BaseException:
            self._pending_audit = audit
            self.touched = touched
            for repo in vars(self).values():
                if isinstance(repo, Repository):
                    repo.touched = touched
            raise

    async def flush(self) -> None:
        from fhir.store.projection import project  # the FHIR boundary builds on this layer

        await project(self)
        entries, self._pending_audit = self._pending_audit, []
        await self._audit.record(entries)


@asynccontextmanager
async def unit_of_work(
    engine: AsyncEngine, context: RequestContext | None = None
) -> AsyncIterator[UnitOfWork]:
    """Begin, yield, then write the audit trail and commit; roll back on any error."""
    async with engine.begin() as conn:
        uow = UnitOfWork(conn, context)
        yield uow
        await uow.flush()
