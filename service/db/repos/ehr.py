"""A clinic's EHR connections, what Concord knows of its resources there (links), the EHR
resources the pull did not record (skips), and the change feed the push reads."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert

from domain.errors import NotFound
from service.db import tables as t
from service.db.repos.base import Repository, compare_and_set, from_row, to_row

PULL, PUSH = "pull", "push"
"""The two jobs, as the prefix of the `last_error` each writes."""


class EhrConnection(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    name: str
    base_url: str
    token_url: str | None = None
    client_id: str | None = None
    private_key: dict[str, Any] | None = None
    """The private JWK Concord signs its client assertions with; never served."""
    scopes: str
    identifier_system: str
    medications_watermark: dt.datetime | None = None
    push_cursor_seq: int = 0
    active: bool = True
    last_polled_at: dt.datetime | None = None
    last_pushed_at: dt.datetime | None = None
    last_error: str | None = None
    version: int = 1
    created_at: dt.datetime | None = None


class Link(msgspec.Struct, kw_only=True):
    resource_type: str
    local_id: str
    remote_id: str
    remote_version: str | None = None
    pushed_version: int | None = None
    pushed: dict[str, Any] | None = None
    """Push links: the resource as the EHR held it after Concord's last write."""
    watermarks: dict[str, dt.datetime] | None = None
    """Patient links: the latest meta.lastUpdated pulled, per resource type."""


class Skip(msgspec.Struct, kw_only=True):
    source: str
    version_id: str | None = None
    patient_id: uuid.UUID | None = None
    reason: str
    seen_at: dt.datetime


class Change(msgspec.Struct, kw_only=True, frozen=True):
    seq: int
    resource_type: str
    id: str
    patient_id: uuid.UUID | None


class LinkedPatient(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    identifier: str
    """The patient's value in the connection's identifier system."""


class EhrRepository(Repository):
    # -- connections -------------------------------------------------------------------

    async def add(self, connection: EhrConnection) -> None:
        await self.conn.execute(t.ehr_connections.insert().values(**to_row(connection)))

    async def get(self, clinic_id: uuid.UUID, connection_id: uuid.UUID, *,
                  for_update: bool = False) -> EhrConnection:
        c = t.ehr_connections
        query = sa.select(c).where(c.c.id == connection_id, c.c.clinic_id == clinic_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound("EHR connection")
        return from_row(row, EhrConnection)

    async def locate(self, connection_id: uuid.UUID) -> EhrConnection:
        """A connection by id alone, for the sync jobs (which act for its clinic)."""
        row = (await self.conn.execute(
            sa.select(t.ehr_connections).where(t.ehr_connections.c.id == connection_id)
        )).mappings().first()
        if row is None:
            raise NotFound("EHR connection")
        return from_row(row, EhrConnection)

    async def find(self, clinic_id: uuid.UUID) -> list[EhrConnection]:
        c = t.ehr_connections
        rows = (await self.conn.execute(
            sa.select(c).where(c.c.clinic_id == clinic_id).order_by(c.c.created_at, c.c.id)
        )).mappings().all()
        return [from_row(row, EhrConnection) for row in rows]

    async def active(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(clinic, connection) of every active connection, across clinics: the cron's list."""
        c = t.ehr_connections
        rows = (await self.conn.execute(
            sa.select(c.c.clinic_id, c.c.id).where(c.c.active).order_by(c.c.created_at)
        )).all()
        return [(row[0], row[1]) for row in rows]

    async def save(self, connection: EhrConnection) -> None:
        """An administrator's change (name, key, scopes, active), compare-and-set."""
        await compare_and_set(
            self.conn, t.ehr_connections, "EHR connection", connection.id, connection.version,
            to_row(connection, exclude=("id", "clinic_id", "version", "created_at")))

    async def record_pull(self, connection_id: uuid.UUID, *, at: dt.datetime,
                          watermark: dt.datetime | None, error: str | None) -> None:
        """How the pull went. The watermark only moves forward; a success clears only a
        pull's error, a failure replaces whatever was there."""
        c = t.ehr_connections
        values: dict[str, Any] = {"last_polled_at": at}
        if watermark is not None:
            values["medications_watermark"] = sa.func.greatest(
                sa.func.coalesce(c.c.medications_watermark, watermark), watermark)
        values["last_error"] = _error(PULL, error)
        await self.conn.execute(sa.update(c).where(c.c.id == connection_id).values(**values))

    async def record_push(self, connection_id: uuid.UUID, *, at: dt.datetime,
                          cursor: int | None, error: str | None) -> None:
        c = t.ehr_connections
        values: dict[str, Any] = {"last_pushed_at": at, "last_error": _error(PUSH, error)}
        if cursor is not None:
            values["push_cursor_seq"] = sa.func.greatest(c.c.push_cursor_seq, cursor)
        await self.conn.execute(sa.update(c).where(c.c.id == connection_id).values(**values))

    # -- patients and links -----------------------------------------------------------

    async def patients_with_identifier(self, clinic_id: uuid.UUID,
                                       system: str) -> list[LinkedPatient]:
        p = t.patients
        rows = (await self.conn.execute(
            sa.select(p.c.id, p.c.identifiers)
            .where(p.c.clinic_id == clinic_id,
                   p.c.identifiers.contains(sa.cast([{"system": system}], JSONB)))
            .order_by(p.c.created_at, p.c.id)
        )).all()
        found = []
        for patient_id, identifiers in rows:
            value = next((i.get("value") for i in identifiers
                          if i.get("system") == system and i.get("value")), None)
            if value:
                found.append(LinkedPatient(id=patient_id, identifier=str(value)))
        return found

    async def link(self, connection_id: uuid.UUID, resource_type: str,
                   local_id: str) -> Link | None:
        l_ = t.ehr_links
        row = (await self.conn.execute(
            sa.select(l_).where(l_.c.connection_id == connection_id,
                                l_.c.resource_type == resource_type,
                                l_.c.local_id == local_id)
        )).mappings().first()
        return None if row is None else from_row(row, Link)

    async def links(self, connection_id: uuid.UUID, resource_type: str,
                    local_ids: list[str]) -> dict[str, Link]:
        if not local_ids:
            return {}
        l_ = t.ehr_links
        rows = (await self.conn.execute(
            sa.select(l_).where(l_.c.connection_id == connection_id,
                                l_.c.resource_type == resource_type,
                                l_.c.local_id.in_(local_ids))
        )).mappings().all()
        return {row["local_id"]: from_row(row, Link) for row in rows}

    async def put_link(self, connection_id: uuid.UUID, link: Link) -> None:
        """Insert or update the link; an update leaves alone what `link` does not set
        (a Patient link found again keeps its watermarks)."""
        row = to_row(link)
        statement = insert(t.ehr_links).values(**row, connection_id=connection_id)
        changed = {k: statement.excluded[k] for k, v in row.items()
                   if v is not None and k not in ("resource_type", "local_id")}
        await self.conn.execute(statement.on_conflict_do_update(
            index_elements=["connection_id", "resource_type", "local_id"],
            set_={**changed, "updated_at": sa.func.clock_timestamp()}))

    async def set_watermarks(self, connection_id: uuid.UUID, patient_id: uuid.UUID,
                             watermarks: dict[str, dt.datetime]) -> None:
        l_ = t.ehr_links
        await self.conn.execute(sa.update(l_).where(
            l_.c.connection_id == connection_id, l_.c.resource_type == "Patient",
            l_.c.local_id == str(patient_id)).values(
                watermarks={k: v.isoformat() for k, v in watermarks.items()},
                updated_at=sa.func.clock_timestamp()))

    # -- what the pull left out -------------------------------------------------------

    async def record_skip(self, connection_id: uuid.UUID, skip: Skip) -> None:
        values = {**to_row(skip), "connection_id": connection_id}
        statement = insert(t.ehr_skips).values(**values)
        await self.conn.execute(statement.on_conflict_do_update(
            index_elements=["connection_id", "source"],
            set_={k: statement.excluded[k] for k in ("version_id", "patient_id", "reason",
                                                     "seen_at")}))

    async def clear_skip(self, connection_id: uuid.UUID, source: str) -> None:
        s = t.ehr_skips
        await self.conn.execute(sa.delete(s).where(s.c.connection_id == connection_id,
                                                   s.c.source == source))

    async def skips(self, connection_id: uuid.UUID, limit: int = 100) -> list[Skip]:
        s = t.ehr_skips
        rows = (await self.conn.execute(
            sa.select(s.c.source, s.c.version_id, s.c.patient_id, s.c.reason, s.c.seen_at)
            .where(s.c.connection_id == connection_id)
            .order_by(s.c.seen_at.desc(), s.c.source).limit(limit)
        )).mappings().all()
        return [from_row(row, Skip) for row in rows]

    # -- the change feed ----------------------------------------------------------------

    async def changes(self, clinic_id: uuid.UUID, after_seq: int, upto: int,
                      resource_types: tuple[str, ...], *,
                      limit: int) -> tuple[list[Change], int]:
        """The clinic's changes of the given types after `after_seq` and at most `upto`
        (a settled point of the feed, see SubscriptionRepository.settled_seq), in order;
        and how far that reading went."""
        v = t.fhir_versions
        rows = (await self.conn.execute(
            sa.select(v.c.seq, v.c.resource_type, v.c.id, v.c.patient_id)
            .where(v.c.clinic_id == clinic_id, v.c.seq > after_seq, v.c.seq <= upto)
            .order_by(v.c.seq).limit(limit)
        )).all()
        changes = [Change(seq=seq, resource_type=kind, id=resource_id, patient_id=patient_id)
                   for seq, kind, resource_id, patient_id in rows if kind in resource_types]
        last = upto if len(rows) < limit else int(rows[-1][0])
        return changes, last


def _error(job: str, error: str | None) -> Any:
    """The new `last_error`: this job's failure, or, on success, clear it if it was ours."""
    c = t.ehr_connections
    if error is not None:
        return f"{job}: {error}"[:2000]
    return sa.case((c.c.last_error.like(f"{job}:%"), None), else_=c.c.last_error)
