"""A clinic's EHR connections (registered by an admin) and the database side of EHR sync:
which patients to pull for, recording what was pulled into each patient's active plan
through the domain, and what the push has already sent. The HTTP side is the worker's
(workers/ehr_sync.py), through fhir.client."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from domain import medication
from domain.actor import Actor
from domain.errors import DomainError, Invalid, StaleVersion
from domain.medication import MedicationStatement, ReportedBy
from domain.patient import require_text
from domain.vocab import NON_CLINICAL_DISCIPLINE, Role
from fhir.client import signing_key
from fhir.inbound.medication import EhrMedication, Skipped
from service.db import tables as t
from service.db.repos.ehr import EhrConnection, EhrRepository, Link, LinkedPatient, Skip
from service.db.uow import UnitOfWork
from service.net import is_loopback

DEFAULT_SCOPES = ("system/Patient.rs system/Medication.r system/MedicationRequest.rs "
                  "system/MedicationStatement.rs system/CarePlan.crus system/Goal.crus")
"""SMART v2 scopes for what the sync does: find patients, read their medications; create
(conditionally, hence search), read and update the CarePlans and Goals Concord pushes."""
PULLED_TYPES = ("MedicationStatement", "MedicationRequest")
_SCOPE = re.compile(
    r"^system/(\*|[A-Z][A-Za-z]{1,63})\.(\*|read|write|(?=[cruds])c?r?u?d?s?)(\?\S+)?$")
"""A SMART system scope, v1 (`.read`) or v2 (`.cruds`, with an optional query)."""


def repo(uow: UnitOfWork) -> EhrRepository:
    return EhrRepository(uow.conn)


def ehr_actor(connection: EhrConnection) -> Actor:
    """The EHR, acting for the clinic on its medication lists: it records and updates
    medications on any of the clinic's plans as a coordinator may. Its id is the
    connection's (no staff row); the audit trail records its writes as the system's."""
    return Actor(clinic_id=connection.clinic_id, staff_id=connection.id,
                 role=Role.COORDINATOR, discipline=NON_CLINICAL_DISCIPLINE)


# -- administration ---------------------------------------------------------------------

def validate(connection: EhrConnection) -> None:
    require_text("name", connection.name, max_length=200)
    _url("base_url", connection.base_url)
    if connection.base_url.rstrip("/") != connection.base_url:
        raise Invalid("base_url", "without a trailing slash, e.g. https://ehr.example/fhir/R4")
    auth = (connection.token_url, connection.client_id, connection.private_key)
    if any(v is not None for v in auth) and not all(v is not None for v in auth):
        raise Invalid("token_url", "token_url, client_id and private_key go together "
                                   "(SMART Backend Services), or none of them")
    if connection.token_url is not None:
        _url("token_url", connection.token_url)
    if connection.client_id is not None:
        require_text("client_id", connection.client_id, max_length=200)
    if connection.private_key is not None:
        try:
            signing_key(connection.private_key)
        except ValueError as exc:
            raise Invalid("private_key", str(exc)) from None
    require_text("scopes", connection.scopes, max_length=2000)
    scopes = [s for s in connection.scopes.split(" ") if s]
    if not scopes or not all(_SCOPE.match(s) for s in scopes):
        raise Invalid("scopes", "space-separated SMART system scopes, e.g. system/Patient.rs")
    require_text("identifier_system", connection.identifier_system, max_length=300)
    if any(c.isspace() for c in connection.identifier_system):
        raise Invalid("identifier_system", "a URI, without spaces")


def _url(field: str, value: str) -> None:
    require_text(field, value, max_length=500)
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid(field, "an absolute https URL")
    if parts.query or parts.fragment:
        raise Invalid(field, "without a query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        # Patient data and bearer tokens travel over it: plain http only on this machine.
        raise Invalid(field, "must use https (http only for localhost)")



async def register(uow: UnitOfWork, actor: Actor, connection: EhrConnection) -> EhrConnection:
    actor.require_admin()
    connection.clinic_id = actor.clinic_id
    validate(connection)
    await repo(uow).add(connection)
    return await repo(uow).get(actor.clinic_id, connection.id)


async def find(uow: UnitOfWork, actor: Actor) -> list[EhrConnection]:
    actor.require_plan_manager()
    return await repo(uow).find(actor.clinic_id)


async def get(uow: UnitOfWork, actor: Actor,
              connection_id: uuid.UUID) -> tuple[EhrConnection, list[Skip]]:
    connection = await repo(uow).get(actor.clinic_id, connection_id)  # another clinic's: 404
    actor.require_plan_manager()
    return connection, await repo(uow).skips(connection.id)


class ConnectionPatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    scopes: str | msgspec.UnsetType = msgspec.UNSET
    private_key: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    """A new key (rotation): register its public half with the EHR first."""


async def update(uow: UnitOfWork, actor: Actor, connection_id: uuid.UUID,
                 patch: ConnectionPatch, expected: int) -> EhrConnection:
    connection = await repo(uow).get(actor.clinic_id, connection_id, for_update=True)
    actor.require_admin()
    if connection.version != expected:
        raise StaleVersion("EHR connection", expected, connection.version)
    for field in patch.__struct_fields__:
        value = getattr(patch, field)
        if value is not msgspec.UNSET:
            setattr(connection, field, value)
    validate(connection)
    connection.version += 1
    await repo(uow).save(connection)
    return connection


# -- pull -------------------------------------------------------------------------------

class PullTarget(msgspec.Struct, kw_only=True, frozen=True):
    """A patient to pull medications for: in the connection's identifier system, with an
    active plan to record them in."""

    patient: LinkedPatient
    remote_id: str | None
    """The EHR's Patient id, when already found."""
    watermarks: dict[str, dt.datetime] | None


class PatientPull(msgspec.Struct, kw_only=True):
    """What one patient's pull brought back from the EHR."""

    patient_id: uuid.UUID
    remote_id: str | None = None
    items: list[EhrMedication | Skipped] = msgspec.field(default_factory=list)
    watermarks: dict[str, dt.datetime] = msgspec.field(default_factory=dict)
    problem: Skipped | None = None
    """Why the patient could not be pulled (not found on the EHR, ambiguous)."""


class PullCounts(msgspec.Struct, kw_only=True):
    recorded: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0


async def active_plan(uow: UnitOfWork, clinic_id: uuid.UUID,
                      patient_id: uuid.UUID) -> uuid.UUID | None:
    p = t.care_plans
    plan_id: uuid.UUID | None = await uow.conn.scalar(
        sa.select(p.c.id).where(p.c.clinic_id == clinic_id, p.c.patient_id == patient_id,
                                p.c.status == "active")
        .order_by(p.c.created_at.desc(), p.c.id).limit(1))
    return plan_id


async def pull_targets(uow: UnitOfWork, connection: EhrConnection) -> list[PullTarget]:
    """Patients with an identifier in the connection's system and an active plan. A
    patient without an active plan is not read: when a plan becomes active, the patient's
    first pull reads everything, not only what changed since."""
    ehr = repo(uow)
    patients = await ehr.patients_with_identifier(connection.clinic_id,
                                                  connection.identifier_system)
    links = await ehr.links(connection.id, "Patient", [str(p.id) for p in patients])
    targets = []
    for patient in patients:
        if await active_plan(uow, connection.clinic_id, patient.id) is None:
            continue
        link = links.get(str(patient.id))
        targets.append(PullTarget(patient=patient, remote_id=link.remote_id if link else None,
                                  watermarks=link.watermarks if link else None))
    return targets


async def record_pulled(uow: UnitOfWork, connection: EhrConnection, pulls: list[PatientPull],
                        now: dt.datetime) -> PullCounts:
    """Record one run's results: each EHR resource into the patient's active plan (a new
    statement, an update of the one recorded from an earlier version, or nothing when
    it is already there), what was left out with its reason, and the watermarks."""
    ehr, counts = repo(uow), PullCounts()
    latest: dt.datetime | None = None
    for pull in pulls:
        if pull.problem is not None:
            await _skip(ehr, connection, pull.patient_id, pull.problem, counts)
            continue
        if pull.remote_id is None:
            continue
        await ehr.put_link(connection.id, Link(resource_type="Patient",
                                               local_id=str(pull.patient_id),
                                               remote_id=pull.remote_id))
        for item in pull.items:
            if isinstance(item, Skipped):
                await _skip(ehr, connection, pull.patient_id, item, counts)
            else:
                await _record_one(uow, connection, pull.patient_id, item, now, counts)
        await ehr.set_watermarks(connection.id, pull.patient_id, pull.watermarks)
        for seen in pull.watermarks.values():
            latest = seen if latest is None or seen > latest else latest
    await ehr.record_pull(connection.id, at=now, watermark=latest, error=None)
    return counts


async def _skip(ehr: EhrRepository, connection: EhrConnection, patient_id: uuid.UUID,
                item: Skipped, counts: PullCounts) -> None:
    counts.skipped += 1
    await ehr.record_skip(connection.id, Skip(source=item.source, version_id=item.version_id,
                                              patient_id=patient_id, reason=item.reason,
                                              seen_at=dt.datetime.now(dt.UTC)))


async def _record_one(uow: UnitOfWork, connection: EhrConnection, patient_id: uuid.UUID,
                      item: EhrMedication, now: dt.datetime, counts: PullCounts) -> None:
    """Under the plan's row lock (so two pulls of the same resource queue, and the second
    finds the first's statement), in a savepoint (so that one resource that cannot be
    stored is recorded as skipped without undoing the rest of the run)."""
    ehr = repo(uow)
    try:
        async with uow.conn.begin_nested():
            outcome = await _upsert(uow, connection, patient_id, item, now)
    except DomainError as exc:
        reason = f"{exc.field}: {exc.detail}" if exc.field else exc.detail
        skipped = Skipped(resource_type=item.resource_type, resource_id=item.resource_id,
                          version_id=item.version_id, last_updated=item.last_updated,
                          source=item.source, reason=reason)
        await _skip(ehr, connection, patient_id, skipped, counts)
        return
    except DBAPIError:
        skipped = Skipped(resource_type=item.resource_type, resource_id=item.resource_id,
                          version_id=item.version_id, last_updated=item.last_updated,
                          source=item.source, reason="the database refused the values")
        await _skip(ehr, connection, patient_id, skipped, counts)
        return
    setattr(counts, outcome, getattr(counts, outcome) + 1)
    await ehr.clear_skip(connection.id, item.source)


async def _upsert(uow: UnitOfWork, connection: EhrConnection, patient_id: uuid.UUID,
                  item: EhrMedication, now: dt.datetime) -> str:
    plan_id = await active_plan(uow, connection.clinic_id, patient_id)
    if plan_id is None:
        raise DomainError("the patient has no active care plan")
    plan = await uow.care_plans.get(connection.clinic_id, plan_id, for_update=True)
    actor, ehr = ehr_actor(connection), repo(uow)
    existing = next((m for m in plan.medications
                     if m.reported_by is ReportedBy.EHR and m.source == item.source), None)
    if existing is None:
        statement = item.statement(uuid.uuid4())
        statement.care_plan_id, statement.patient_id = plan.id, plan.patient_id
        medication.record(plan, actor, statement, now)
        await uow.care_plans.add_medication(plan, statement)
        uow.audit(None, "create", "MedicationStatement", statement.id, plan.patient_id,
                  clinic_id=plan.clinic_id)
        outcome, local = "recorded", statement
    else:
        link = await ehr.link(connection.id, item.resource_type, str(existing.id))
        if link is not None and item.version_id is not None \
                and link.remote_version == item.version_id:
            return "unchanged"
        if _same(existing, item):
            outcome, local = "unchanged", existing
        else:
            local = medication.update(plan, actor, existing.id, item.patch(), existing.version,
                                      now)
            await uow.care_plans.save_medication(local)
            uow.audit(None, "update", "MedicationStatement", local.id, plan.patient_id,
                      clinic_id=plan.clinic_id)
            outcome = "updated"
    await ehr.put_link(connection.id, Link(resource_type=item.resource_type,
                                           local_id=str(local.id), remote_id=item.resource_id,
                                           remote_version=item.version_id))
    return outcome


def _same(statement: MedicationStatement, item: EhrMedication) -> bool:
    patch = msgspec.structs.asdict(item.patch())
    return all(getattr(statement, field) == value for field, value in patch.items())


async def record_pull_failure(uow: UnitOfWork, connection_id: uuid.UUID, error: str,
                              now: dt.datetime) -> None:
    await repo(uow).record_pull(connection_id, at=now, watermark=None, error=error)
