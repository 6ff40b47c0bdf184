"""The FHIR resource store: each resource's current version, every version before it,
and its search index, written together so they never disagree (ADR 0006)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from fhir.search.index import entries
from service.db import tables as t

Method = Literal["create", "update", "delete"]


class Stored(msgspec.Struct, kw_only=True):
    resource_type: str
    id: str
    version_id: int
    last_updated: dt.datetime
    deleted: bool
    patient_id: uuid.UUID | None
    resource: dict[str, Any]
    original: dict[str, Any] | None = None
    projection: dict[str, Any] | None = None


class Version(msgspec.Struct, kw_only=True):
    seq: int
    resource_type: str
    id: str
    version_id: int
    last_updated: dt.datetime
    method: str
    patient_id: uuid.UUID | None
    resource: dict[str, Any] | None


def with_meta(resource: dict[str, Any], version_id: int, updated: dt.datetime) -> dict[str, Any]:
    """`resource` with meta.versionId and meta.lastUpdated set, other meta kept."""
    meta = {**resource.get("meta", {}), "versionId": str(version_id),
            "lastUpdated": updated.isoformat()}
    return {**resource, "meta": meta}


class ResourceStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def current(
        self, clinic_id: uuid.UUID, resource_type: str, resource_id: str, *,
        for_update: bool = False,
    ) -> Stored | None:
        """The resource's current version, deleted or not; None if it never existed."""
        r = t.fhir_resources
        query = sa.select(
            r.c.resource_type, r.c.id, r.c.version_id, r.c.last_updated, r.c.deleted,
            r.c.patient_id, r.c.resource, r.c.original, r.c.projection,
        ).where(r.c.clinic_id == clinic_id, r.c.resource_type == resource_type,
                r.c.id == resource_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else msgspec.convert(dict(row), Stored)

    async def version(
        self, clinic_id: uuid.UUID, resource_type: str, resource_id: str, version_id: int
    ) -> Version | None:
        v = t.fhir_versions
        row = (await self.conn.execute(
            sa.select(v.c.seq, v.c.resource_type, v.c.id, v.c.version_id, v.c.last_updated,
                      v.c.method, v.c.patient_id, v.c.resource)
            .where(v.c.clinic_id == clinic_id, v.c.resource_type == resource_type,
                   v.c.id == resource_id, v.c.version_id == version_id)
        )).mappings().first()
        return None if row is None else msgspec.convert(dict(row), Version)

    async def put(
        self,
        clinic_id: uuid.UUID,
        resource: dict[str, Any],
        *,
        now: dt.datetime,
        patient_id: uuid.UUID | None,
        original: dict[str, Any] | None = None,
        projection: dict[str, Any] | None = None,
        previous: Stored | None = None,
    ) -> Stored:
        """Write `resource` as the next version (the first if `previous` is None): the
        caller has read `previous` under its row lock. Returns what is now stored."""
        resource_type, resource_id = resource["resourceType"], resource["id"]
        version_id = 1 if previous is None else previous.version_id + 1
        body = with_meta(resource, version_id, now)
        values = {
            "version_id": version_id, "last_updated": now, "deleted": False,
            "patient_id": patient_id, "resource": body, "original": original,
            "projection": projection,
        }
        r = t.fhir_resources
        if previous is None:
            await self.conn.execute(sa.insert(r).values(
                clinic_id=clinic_id, resource_type=resource_type, id=resource_id, **values))
        else:
            await self._update_current(clinic_id, resource_type, resource_id, previous, values)
        await self._record(clinic_id, resource_type, resource_id, version_id, now,
                           "create" if previous is None or previous.deleted else "update",
                           patient_id, body)
        await self._reindex(clinic_id, resource_type, resource_id, body)
        return Stored(resource_type=resource_type, id=resource_id, version_id=version_id,
                      last_updated=now, deleted=False, patient_id=patient_id, resource=body,
                      original=original, projection=projection)

    async def delete(self, clinic_id: uuid.UUID, previous: Stored, now: dt.datetime) -> Stored:
        """Mark the resource deleted as a new version; its history stays readable."""
        version_id = previous.version_id + 1
        await self._update_current(
            clinic_id, previous.resource_type, previous.id, previous,
            {"version_id": version_id, "last_updated": now, "deleted": True},
        )
        await self._record(clinic_id, previous.resource_type, previous.id, version_id, now,
                           "delete", previous.patient_id, None)
        await self.conn.execute(sa.delete(t.fhir_search).where(
            t.fhir_search.c.clinic_id == clinic_id,
            t.fhir_search.c.resource_type == previous.resource_type,
            t.fhir_search.c.id == previous.id))
        return msgspec.structs.replace(previous, version_id=version_id, last_updated=now,
                                       deleted=True)

    async def _update_current(
        self, clinic_id: uuid.UUID, resource_type: str, resource_id: str, previous: Stored,
        values: dict[str, Any],
    ) -> None:
        r = t.fhir_resources
        result = await self.conn.execute(
            sa.update(r).where(r.c.clinic_id == clinic_id, r.c.resource_type == resource_type,
                               r.c.id == resource_id, r.c.version_id == previous.version_id)
            .values(**values))
        if result.rowcount != 1:
            # The caller holds the row lock, so only a bug gets here: never write blindly.
            raise RuntimeError(f"{resource_type}/{resource_id} changed under its row lock")

    async def _record(
        self, clinic_id: uuid.UUID, resource_type: str, resource_id: str, version_id: int,
        now: dt.datetime, method: Method, patient_id: uuid.UUID | None,
        body: dict[str, Any] | None,
    ) -> None:
        await self.conn.execute(sa.insert(t.fhir_versions).values(
            clinic_id=clinic_id, resource_type=resource_type, id=resource_id,
            version_id=version_id, last_updated=now, method=method, patient_id=patient_id,
            resource=body))

    async def _reindex(
        self, clinic_id: uuid.UUID, resource_type: str, resource_id: str,
        body: dict[str, Any],
    ) -> None:
        s = t.fhir_search
        await self.conn.execute(sa.delete(s).where(
            s.c.clinic_id == clinic_id, s.c.resource_type == resource_type,
            s.c.id == resource_id))
        rows = [
            {"clinic_id": clinic_id, "resource_type": resource_type, "id": resource_id,
             **msgspec.structs.asdict(entry)}
            for entry in entries(body)
        ]
        if rows:
            await self.conn.execute(insert(s), rows)
