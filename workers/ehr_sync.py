"""EHR sync: Concord as a FHIR client of each clinic's EHR (docs/adr/0007).

- Pull (`pull_medications`): for each patient with an identifier in the connection's
  system and an active plan, find the EHR's Patient (`Patient?identifier=system|value`,
  remembered in ehr_links), read the patient's MedicationStatements and
  MedicationRequests changed since that patient's watermark (`_lastUpdated=ge...`,
  every page), and record them in the active plan through the domain: a new resource is
  a new statement, a newer version updates the statement recorded from it, the same one
  again changes nothing; what Concord cannot hold is recorded as skipped with the reason.
  Watermarks move only in the transaction that records the batch.
- Push (`push_changes`): CarePlan and Goal versions from the FHIR store's change feed
  (fhir_versions after the connection's cursor) go to the EHR, for patients the EHR
  knows: first a conditional create, then updates with If-Match on the EHR's version;
  on 412 the EHR's copy is read again and merged by ownership, at most three times.
- Failures (EHR down, refused credentials, a conflict that will not settle) go to the
  connection's `last_error`; nothing is advanced, and the next run tries again.

HTTP happens outside database transactions; one run per connection and job at a time
(a PostgreSQL advisory lock), as arq may start a job twice."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from fhir.client import (
    AuthenticationFailed,
    Credentials,
    FhirClient,
    FhirError,
    FhirUnavailable,
    NotFoundOnServer,
    PreconditionFailed,
    TokenCache,
    escape_search_value,
)
from fhir.inbound.medication import Skipped, external_medication, from_fhir
from fhir.outbound.ownership import (
    OWNED,
    UUID_SYSTEM,
    inline_activities,
    is_concords,
    merge_owned,
    outbound,
    references,
)
from service.db.repos.ehr import EhrConnection, EhrRepository, Link, Skip
from service.db.repos.subscriptions import SubscriptionRepository
from service.db.uow import unit_of_work
from service.usecases import ehr as ehr_cases
from service.usecases.ehr import PULLED_TYPES, PatientPull, PullCounts, PullTarget

log = structlog.get_logger("concord.worker.ehr_sync")
PUSHED_TYPES = ("Goal", "CarePlan")
"""In the order a batch is sent: a CarePlan references its Goals by the EHR's ids."""
MERGE_TRIES = 3
"""Merges after a 412 before the push gives up until its next run."""
FEED_BATCH = 200
SYNC_EVERY_MINUTES = 5
JOB_TIMEOUT = 600


class PullReport(msgspec.Struct, kw_only=True):
    ran: bool = True
    patients: int = 0
    counts: PullCounts = msgspec.field(default_factory=PullCounts)
    error: str | None = None


class PushReport(msgspec.Struct, kw_only=True):
    ran: bool = True
    pushed: int = 0
    cursor: int | None = None
    error: str | None = None


class PushConflict(Exception):
    """The EHR kept changing its copy while Concord merged into it."""


def describe(exc: Exception) -> str:
    """What went wrong, for `last_error`: the kind and the status, the EHR's diagnostics
    (cut short), never a request's content."""
    if isinstance(exc, FhirError):
        text = str(exc)
        if exc.diagnostics:
            text += f": {exc.diagnostics[:300]}"
        return f"{type(exc).__name__}: {text}"
    return str(exc)[:500] if isinstance(exc, PushConflict) else type(exc).__name__


@asynccontextmanager
async def exclusive(engine: AsyncEngine, connection_id: uuid.UUID,
                    job: str) -> AsyncIterator[bool]:
    """Whether this run holds the connection's lock for `job`; released at the end of the
    run, or by PostgreSQL if the worker dies."""
    digest = hashlib.blake2b(f"ehr-{job}:{connection_id}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    async with engine.begin() as conn:
        yield bool(await conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(key))))


def client_for(connection: EhrConnection, http: httpx.AsyncClient | None,
               tokens: TokenCache | None) -> FhirClient:
    credentials = None
    if connection.token_url and connection.client_id and connection.private_key:
        credentials = Credentials(token_url=connection.token_url,
                                  client_id=connection.client_id,
                                  private_key=connection.private_key, scopes=connection.scopes)
    return FhirClient(connection.base_url, credentials, http=http, tokens=tokens)


def _patient_query(connection: EhrConnection, value: str) -> str:
    return (f"{escape_search_value(connection.identifier_system)}|"
            f"{escape_search_value(value)}")


async def find_patient(client: FhirClient, connection: EhrConnection,
                       identifier: str) -> tuple[str | None, str | None]:
    """The EHR's Patient id for the identifier, or why there is none."""
    matches = [p async for p in client.search(
        "Patient", [("identifier", _patient_query(connection, identifier))])]
    ids = sorted({str(p.get("id")) for p in matches if p.get("id")})
    if not ids:
        return None, "no Patient with this identifier on the EHR"
    if len(ids) > 1:
        return None, f"{len(ids)} Patients share this identifier on the EHR"
    return ids[0], None


# -- pull -------------------------------------------------------------------------------

async def pull_medications(engine: AsyncEngine, connection_id: uuid.UUID, *,
                           http: httpx.AsyncClient | None = None,
                           tokens: TokenCache | None = None) -> PullReport:
    """One pull for one connection; safe to run again at any time."""
    async with exclusive(engine, connection_id, "pull") as mine:
        if not mine:
            return PullReport(ran=False)
        async with unit_of_work(engine) as uow:
            connection = await ehr_cases.repo(uow).locate(connection_id)
            if not connection.active:
                return PullReport(ran=False)
            targets = await ehr_cases.pull_targets(uow, connection)
        now = dt.datetime.now(dt.UTC)
        try:
            async with client_for(connection, http, tokens) as client:
                types = await client.searchable(PULLED_TYPES) if targets else ()
                pulls = [await _pull_patient(client, connection, t, types) for t in targets]
        except FhirError as exc:
            error = describe(exc)
            async with unit_of_work(engine) as uow:
                await ehr_cases.record_pull_failure(uow, connection.id, error, now)
            log.warning("ehr_pull_failed", connection_id=str(connection.id), error=error)
            return PullReport(patients=len(targets), error=error)
        async with unit_of_work(engine) as uow:
            counts = await ehr_cases.record_pulled(uow, connection, pulls, now)
        log.info("ehr_pull", connection_id=str(connection.id), patients=len(targets),
                 **msgspec.structs.asdict(counts))
        return PullReport(patients=len(targets), counts=counts)


async def _pull_patient(client: FhirClient, connection: EhrConnection, target: PullTarget,
                        types: tuple[str, ...]) -> PatientPull:
    patient = target.patient
    remote_id, watermarks = target.remote_id, dict(target.watermarks or {})
    if remote_id is None:
        remote_id, problem = await find_patient(client, connection, patient.identifier)
        if remote_id is None:
            source = (f"{connection.base_url}/Patient?identifier="
                      f"{_patient_query(connection, patient.identifier)}")
            return PatientPull(patient_id=patient.id, problem=Skipped(
                resource_type="Patient", resource_id="", version_id=None, last_updated=None,
                source=source[:600], reason=problem or "not found"))
        watermarks = {}  # first time for this patient: everything it has
    pull = PatientPull(patient_id=patient.id, remote_id=remote_id, watermarks=dict(watermarks))
    medications: dict[str, dict[str, Any]] = {}
    for resource_type in types:
        params = [("patient", remote_id)]
        since = watermarks.get(resource_type)
        if since is not None:
            # ge, not gt: a resource updated at the very instant already seen is read
            # again and found unchanged, rather than missed.
            params.append(("_lastUpdated", f"ge{since.isoformat()}"))
        async for resource in client.search(resource_type, params):
            reference = external_medication(resource)
            if reference is not None and reference not in medications:
                # Not found: the mapping then says the medication could not be read.
                with contextlib.suppress(NotFoundOnServer):
                    medications[reference] = await client.read("Medication", reference)
            item = from_fhir(resource, connection.base_url, medications)
            pull.items.append(item)
            seen = pull.watermarks.get(resource_type)
            if item.last_updated is not None and (seen is None or item.last_updated > seen):
                pull.watermarks[resource_type] = item.last_updated
    return pull


# -- push -------------------------------------------------------------------------------

async def push_changes(engine: AsyncEngine, connection_id: uuid.UUID, *,
                       http: httpx.AsyncClient | None = None,
                       tokens: TokenCache | None = None) -> PushReport:
    """Send what changed since the connection's cursor, up to the point of the change
    feed that no open transaction can still add to; the cursor moves only when every
    change read was sent (or needs no sending)."""
    async with exclusive(engine, connection_id, "push") as mine:
        if not mine:
            return PushReport(ran=False)
        async with unit_of_work(engine) as uow:
            connection = await ehr_cases.repo(uow).locate(connection_id)
            if not connection.active:
                return PushReport(ran=False)
            now = (await uow.conn.execute(sa.select(sa.func.clock_timestamp()))).scalar_one()
            upto = await SubscriptionRepository(uow.conn).settled_seq()
        report = PushReport(cursor=connection.push_cursor_seq)
        if upto is None:
            return report  # a long transaction is open: the next run reads past it
        cursor = connection.push_cursor_seq
        try:
            async with client_for(connection, http, tokens) as client:
                pusher = _Pusher(engine, client, connection)
                while True:
                    async with unit_of_work(engine) as uow:
                        changes, last = await EhrRepository(uow.conn).changes(
                            connection.clinic_id, cursor, upto, PUSHED_TYPES,
                            limit=FEED_BATCH)
                    if last <= cursor:
                        break
                    for resource_type in PUSHED_TYPES:
                        for resource_id in dict.fromkeys(
                                c.id for c in changes if c.resource_type == resource_type):
                            await pusher.push(resource_type, resource_id)
                    cursor = last
                    async with unit_of_work(engine) as uow:
                        await EhrRepository(uow.conn).record_push(
                            connection.id, at=now, cursor=cursor, error=None)
        except (FhirError, PushConflict) as exc:
            report.error = describe(exc)
            async with unit_of_work(engine) as uow:
                await EhrRepository(uow.conn).record_push(connection.id, at=now, cursor=None,
                                                          error=report.error)
            log.warning("ehr_push_failed", connection_id=str(connection.id),
                        error=report.error)
            return report
        async with unit_of_work(engine) as uow:
            await EhrRepository(uow.conn).record_push(connection.id, at=now, cursor=cursor,
                                                      error=None)
        report.pushed, report.cursor = pusher.pushed, cursor
        log.info("ehr_push", connection_id=str(connection.id), pushed=pusher.pushed,
                 cursor=cursor)
        return report


class _Pusher:
    """Sends one connection's resources, each at most once per run."""

    def __init__(self, engine: AsyncEngine, client: FhirClient,
                 connection: EhrConnection) -> None:
        self.engine, self.client, self.connection = engine, client, connection
        self.done: dict[tuple[str, str], str | None] = {}
        self.pushed = 0

    async def push(self, resource_type: str, resource_id: str) -> str | None:
        """The EHR's id for the resource, after sending Concord's current version if the
        EHR does not have it yet; None when it cannot go (no patient on the EHR, deleted)."""
        key = (resource_type, resource_id)
        if key not in self.done:
            self.done[key] = None  # a reference cycle stops here
            try:
                self.done[key] = await self._push(resource_type, resource_id)
            except (FhirUnavailable, AuthenticationFailed):
                raise
            except FhirError as exc:
                # The EHR refuses this resource (4xx): say so, and carry on with the rest;
                # it is tried again when it next changes.
                await self._record(resource_type, resource_id, describe(exc))
            else:
                await self._record(resource_type, resource_id, None)
        return self.done[key]

    async def _record(self, resource_type: str, resource_id: str, refusal: str | None) -> None:
        source = f"Concord {resource_type}/{resource_id}"
        async with unit_of_work(self.engine) as uow:
            ehr = EhrRepository(uow.conn)
            if refusal is None:
                await ehr.clear_skip(self.connection.id, source)
                return
            stored = await uow.store.current(self.connection.clinic_id, resource_type,
                                             resource_id)
            await ehr.record_skip(self.connection.id, Skip(
                source=source, version_id=str(stored.version_id) if stored else None,
                patient_id=stored.patient_id if stored else None,
                reason=f"the EHR refused it: {refusal}", seen_at=dt.datetime.now(dt.UTC)))

    async def _push(self, resource_type: str, resource_id: str) -> str | None:
        connection = self.connection
        async with unit_of_work(self.engine) as uow:
            ehr = EhrRepository(uow.conn)
            stored = await uow.store.current(connection.clinic_id, resource_type, resource_id)
            if stored is None or stored.deleted or stored.patient_id is None:
                return None
            link = await ehr.link(connection.id, resource_type, resource_id)
            if link is not None and link.pushed_version == stored.version_id:
                return link.remote_id
            patient_link = await ehr.link(connection.id, "Patient", str(stored.patient_id))
            patient = await uow.patients.get(connection.clinic_id, stored.patient_id)
            requests = {}
            for request_id in references(stored.resource, "ServiceRequest"):
                found = await uow.store.current(connection.clinic_id, "ServiceRequest",
                                                request_id)
                if found is not None and not found.deleted:
                    requests[request_id] = found.resource
        remote_patient = patient_link.remote_id if patient_link else None
        if remote_patient is None:
            identifier = next((i.value for i in patient.identifiers
                               if i.system == connection.identifier_system), None)
            if identifier is None:
                return None
            remote_patient, _ = await find_patient(self.client, connection, identifier)
            if remote_patient is None:
                return None
            async with unit_of_work(self.engine) as uow:
                await EhrRepository(uow.conn).put_link(connection.id, Link(
                    resource_type="Patient", local_id=str(patient.id),
                    remote_id=remote_patient))
        resource = stored.resource
        if resource_type == "CarePlan":
            resource = inline_activities(resource, requests)
        goals = {goal_id: await self.push("Goal", goal_id)
                 for goal_id in references(resource, "Goal")}

        def resolve(kind: str, local: str) -> str | None:
            if kind == "Patient" and local == str(patient.id):
                return remote_patient
            return goals.get(local) if kind == "Goal" else None

        ours = outbound(resource, resolve)
        written = await self._write(resource_type, resource_id, ours, link)
        async with unit_of_work(self.engine) as uow:
            await EhrRepository(uow.conn).put_link(connection.id, Link(
                resource_type=resource_type, local_id=resource_id,
                remote_id=str(written["id"]),
                remote_version=str((written.get("meta") or {}).get("versionId") or "") or None,
                pushed_version=stored.version_id, pushed=written))
        self.pushed += 1
        return str(written["id"])

    async def _write(self, resource_type: str, resource_id: str, ours: dict[str, Any],
                     link: Link | None) -> dict[str, Any]:
        if link is not None:
            try:
                return await self._update(ours, link.pushed, link.remote_id,
                                          link.remote_version)
            except NotFoundOnServer:
                pass  # the EHR no longer has Concord's copy: make it again
        written = await self.client.create(
            ours, if_none_exist=f"identifier={UUID_SYSTEM}|urn:uuid:{resource_id}")
        if _owned(written) != _owned(ours):
            # The EHR already had a copy (a push that crashed before it was remembered):
            # bring it up to date the same way as any other update.
            written = await self._update(ours, written, str(written["id"]),
                                         (written.get("meta") or {}).get("versionId"))
        return written

    async def _update(self, ours: dict[str, Any], theirs: dict[str, Any] | None,
                      remote_id: str, version: str | None) -> dict[str, Any]:
        """PUT Concord's elements into the EHR's copy as last seen; on 412 read it again
        and merge once more, at most MERGE_TRIES times."""
        resource_type = str(ours["resourceType"])
        if theirs is None or version is None:
            # Nothing to build on, or no version to guard with: start from the EHR's copy
            # as it is now.
            theirs = await self.client.read(resource_type, remote_id)
            version = (theirs.get("meta") or {}).get("versionId")
        body = merge_owned(theirs, ours)
        for attempt in range(MERGE_TRIES + 1):
            try:
                return await self.client.update(body, version=version)
            except PreconditionFailed:
                if attempt == MERGE_TRIES:
                    break
                current = await self.client.read(resource_type, remote_id)
                body = merge_owned(current, ours)
                version = (current.get("meta") or {}).get("versionId")
        raise PushConflict(f"{resource_type}/{remote_id} on the EHR kept changing: "
                           f"{MERGE_TRIES} merges did not go through")


def _owned(resource: dict[str, Any]) -> dict[str, Any]:
    owned = OWNED[str(resource["resourceType"])]
    concord = [e for e in resource.get("extension") or [] if is_concords(e)]
    return {**{k: resource.get(k) for k in sorted(owned)}, "extension": concord}


# -- arq --------------------------------------------------------------------------------

def _tokens(ctx: dict[str, Any]) -> TokenCache:
    tokens: TokenCache = ctx.setdefault("ehr_tokens", TokenCache())
    return tokens


async def pull_ehr_medications(ctx: dict[str, Any], connection_id: str) -> dict[str, Any]:
    report = await pull_medications(ctx["engine"], uuid.UUID(connection_id),
                                    http=ctx.get("ehr_http"), tokens=_tokens(ctx))
    return msgspec.to_builtins(report)  # type: ignore[no-any-return]


async def push_ehr_changes(ctx: dict[str, Any], connection_id: str) -> dict[str, Any]:
    report = await push_changes(ctx["engine"], uuid.UUID(connection_id),
                                http=ctx.get("ehr_http"), tokens=_tokens(ctx))
    return msgspec.to_builtins(report)  # type: ignore[no-any-return]


async def schedule_ehr_sync(ctx: dict[str, Any]) -> int:
    """Every few minutes: a pull and a push job per active connection, one of each per
    tick however many workers run the cron (the job id names the tick). Without Redis
    (tests), the runs happen here."""
    async with unit_of_work(ctx["engine"]) as uow:
        active = await EhrRepository(uow.conn).active()
    tick = int(dt.datetime.now(dt.UTC).timestamp()) // (SYNC_EVERY_MINUTES * 60)
    redis = ctx.get("redis")
    for _, connection_id in active:
        if redis is None:
            await pull_ehr_medications(ctx, str(connection_id))
            await push_ehr_changes(ctx, str(connection_id))
            continue
        await redis.enqueue_job("pull_ehr_medications", str(connection_id),
                                _job_id=f"ehr-pull:{connection_id}:{tick}")
        await redis.enqueue_job("push_ehr_changes", str(connection_id),
                                _job_id=f"ehr-push:{connection_id}:{tick}")
    return len(active)
