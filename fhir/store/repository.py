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

from fhir.search.conditions import conditions, visible_to
from fhir.search.index import entries
from fhir.search.query import Include, Search
from service.db import tables as t
from service.db.repos.base import from_row

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


class Page(msgspec.Struct, kw_only=True):
    """One page of a search: the exact number of matches, this page's, and whether
    another page follows."""

    total: int
    items: list[Stored]
    more: bool = False


class HistoryPage(msgspec.Struct, kw_only=True):
    total: int
    items: list[Version]
    more: bool = False


class Ranked(msgspec.Struct, kw_only=True):
    """A resource of a patient's record: 0 the patient, 1 theirs, 2 a practitioner
    theirs refer to (the order $everything pages in)."""

    rank: int
    stored: Stored


class EverythingPage(msgspec.Struct, kw_only=True):
    total: int
    items: list[Ranked]
    more: bool = False


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
        return None if row is None else from_row(row, Stored)

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
        return None if row is None else from_row(row, Version)

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

    # -- the read side: search, history, a patient's record ---------------------------

    async def search(
        self, clinic_id: uuid.UUID, search: Search, *, viewer: uuid.UUID | None = None
    ) -> Page:
        """The current, undeleted resources of the clinic matching `search` that
        `viewer` may see (fhir.search.query.visible_to): the total and one page after
        `search.after`, in one statement."""
        r = t.fhir_resources
        scope = [r.c.clinic_id == clinic_id, r.c.resource_type == search.resource_type,
                 r.c.deleted.is_(False), visible_to(r.c.patient_id, clinic_id, viewer),
                 *conditions(search, r)]
        if search.summary_count or search.count == 0:
            total = await self.conn.scalar(sa.select(sa.func.count()).select_from(r).where(*scope))
            return Page(total=total or 0, items=[])
        matched = sa.select(r.c.id, r.c.last_updated).where(*scope).cte("matched")
        key = sa.tuple_(matched.c.last_updated, matched.c.id)
        page = sa.select(*_STORED).select_from(matched.join(r, sa.and_(
            r.c.clinic_id == clinic_id, r.c.resource_type == search.resource_type,
            r.c.id == matched.c.id)))
        if search.after is not None:
            after = sa.tuple_(sa.literal(search.after[0]), sa.literal(search.after[1]))
            page = page.where(key < after if search.descending else key > after)
        order = [matched.c.last_updated, matched.c.id]
        page = page.order_by(*(c.desc() for c in order) if search.descending else order)
        rows = await self._paged(matched, page.limit(search.count + 1))
        items = [from_row(row, Stored) for row in rows.rows]
        return Page(total=rows.total, items=items[:search.count],
                    more=len(items) > search.count)

    async def included(
        self, clinic_id: uuid.UUID, search: Search, matches: list[Stored], *,
        viewer: uuid.UUID | None = None,
    ) -> list[Stored]:
        """What `search.includes` adds to `matches`: the resources they refer to
        (`_include`) and those referring to them (`_revinclude`), in one statement;
        matches themselves and deleted resources left out."""
        if not search.includes or not matches:
            return []
        r, s = t.fhir_resources, t.fhir_search
        ids = [m.id for m in matches]
        visible = visible_to(r.c.patient_id, clinic_id, viewer)
        parts: list[sa.Select[Any]] = []
        forward = [i for i in search.includes if not i.reverse]
        if forward:
            targets = sa.select(
                sa.func.split_part(s.c.ref, "/", 1).label("type"),
                sa.func.split_part(s.c.ref, "/", 2).label("id"),
            ).where(s.c.clinic_id == clinic_id, s.c.resource_type == search.resource_type,
                    s.c.id.in_(ids), sa.or_(*(_follows(i, s) for i in forward))
                    ).distinct().subquery("targets")
            parts.append(sa.select(*_STORED).select_from(r.join(targets, sa.and_(
                r.c.resource_type == targets.c.type, r.c.id == targets.c.id))
            ).where(r.c.clinic_id == clinic_id, r.c.deleted.is_(False), visible))
        refs = [f"{m.resource_type}/{m.id}" for m in matches]
        for include in (i for i in search.includes if i.reverse):
            parts.append(sa.select(*_STORED).where(
                r.c.clinic_id == clinic_id, r.c.resource_type == include.source,
                r.c.deleted.is_(False), visible,
                sa.exists().where(s.c.clinic_id == r.c.clinic_id,
                                  s.c.resource_type == r.c.resource_type, s.c.id == r.c.id,
                                  s.c.param == include.param, s.c.ref.in_(refs))))
        statement = parts[0] if len(parts) == 1 else sa.union_all(*parts)
        seen = {(m.resource_type, m.id) for m in matches}
        found: list[Stored] = []
        for row in (await self.conn.execute(statement)).mappings():
            item = from_row(row, Stored)
            if (item.resource_type, item.id) not in seen:
                seen.add((item.resource_type, item.id))
                found.append(item)
        return found

    async def history(
        self, clinic_id: uuid.UUID, resource_type: str, resource_id: str | None, *,
        count: int, since: dt.datetime | None = None, before_seq: int | None = None,
        viewer: uuid.UUID | None = None,
    ) -> HistoryPage:
        """Versions of one resource (or of every resource of the type), newest first:
        the total and one page of `count` older than `before_seq`, in one statement."""
        v = t.fhir_versions
        scope = [v.c.clinic_id == clinic_id, v.c.resource_type == resource_type,
                 visible_to(v.c.patient_id, clinic_id, viewer)]
        if resource_id is not None:
            scope.append(v.c.id == resource_id)
        if since is not None:
            scope.append(v.c.last_updated >= since)
        matched = sa.select(v.c.seq).where(*scope).cte("matched")
        page = sa.select(v.c.seq, v.c.resource_type, v.c.id, v.c.version_id, v.c.last_updated,
                         v.c.method, v.c.patient_id, v.c.resource
                         ).select_from(matched.join(v, v.c.seq == matched.c.seq))
        if before_seq is not None:
            page = page.where(matched.c.seq < before_seq)
        rows = await self._paged(matched, page.order_by(matched.c.seq.desc()).limit(count + 1))
        items = [from_row(row, Version) for row in rows.rows]
        return HistoryPage(total=rows.total, items=items[:count], more=len(items) > count)

    async def everything(
        self, clinic_id: uuid.UUID, patient_id: str, *, count: int, base: str,
        since: dt.datetime | None = None,
        after: tuple[int, dt.datetime, str, str] | None = None,
    ) -> EverythingPage:
        """The patient, every current resource of theirs (the `patient_id` column) and
        the Practitioners those refer to, ordered by (rank, last_updated, type, id): the
        total and one page after `after`, in one statement."""
        record = _patient_record(clinic_id, patient_id, base).cte("record")
        matched = sa.select(record).where(
            record.c.last_updated >= since if since is not None else sa.true()
        ).cte("matched")
        key = sa.tuple_(matched.c.rank, matched.c.last_updated, matched.c.resource_type,
                        matched.c.id)
        page = sa.select(matched)
        if after is not None:
            page = page.where(key > sa.tuple_(*(sa.literal(part) for part in after)))
        page = page.order_by(matched.c.rank, matched.c.last_updated, matched.c.resource_type,
                             matched.c.id).limit(count + 1)
        rows = await self._paged(matched, page)
        items = [Ranked(rank=row["rank"], stored=from_row(
            {k: v for k, v in row.items() if k != "rank"}, Stored)) for row in rows.rows]
        return EverythingPage(total=rows.total, items=items[:count], more=len(items) > count)

    async def _paged(self, matched: sa.CTE, page: sa.Select[Any]) -> _Rows:
        """Run `page` beside the count of `matched`: one row even when the page is empty."""
        totals = sa.select(sa.func.count().label("total")).select_from(matched).subquery()
        lateral = page.lateral("page")
        rows = (await self.conn.execute(
            sa.select(totals.c.total, lateral).select_from(totals.outerjoin(lateral, sa.true()))
        )).mappings().all()
        total = int(rows[0]["total"]) if rows else 0
        present = [{k: v for k, v in row.items() if k != "total"} for row in rows]
        return _Rows(total=total, rows=[row for row in present if row.get("id") is not None])


class _Rows(msgspec.Struct, kw_only=True):
    total: int
    rows: list[dict[str, Any]]


_STORED = (
    t.fhir_resources.c.resource_type, t.fhir_resources.c.id, t.fhir_resources.c.version_id,
    t.fhir_resources.c.last_updated, t.fhir_resources.c.deleted, t.fhir_resources.c.patient_id,
    t.fhir_resources.c.resource,
)


def _follows(include: Include, s: sa.Table) -> sa.ColumnElement[bool]:
    if include.target is None:
        return s.c.param == include.param
    return sa.and_(s.c.param == include.param, s.c.ref.like(f"{include.target}/%"))


def _patient_record(clinic_id: uuid.UUID, patient_id: str, base: str) -> sa.CompoundSelect[Any]:
    """Rank 0 the Patient, 1 what the store files under them, 2 the Practitioners any
    of those refer to (anywhere in the resource, not only indexed elements)."""
    r = t.fhir_resources
    live = [r.c.clinic_id == clinic_id, r.c.deleted.is_(False)]
    is_patient = sa.and_(r.c.resource_type == "Patient", r.c.id == patient_id)
    try:
        owner: sa.ColumnElement[bool] = r.c.patient_id == uuid.UUID(patient_id)
    except ValueError:
        owner = sa.false()
    own = sa.union_all(
        sa.select(sa.literal(0).label("rank"), *_STORED).where(*live, is_patient),
        sa.select(sa.literal(1).label("rank"), *_STORED).where(*live, owner, ~is_patient),
    ).cte("own")
    found = sa.func.jsonb_path_query(
        own.c.resource, sa.literal_column("'lax $.**.reference'::jsonpath")
    ).table_valued("ref").render_derived(name="found")
    local = sa.func.replace(found.c.ref.op("#>>")(sa.literal_column("'{}'")), base + "/", "")
    practitioners = sa.select(sa.func.split_part(local, "/", 2)).select_from(
        own.join(found, sa.true())).where(sa.func.split_part(local, "/", 1) == "Practitioner")
    return sa.union_all(
        sa.select(own),
        sa.select(sa.literal(2).label("rank"), *_STORED).where(
            *live, r.c.resource_type == "Practitioner", r.c.id.in_(practitioners)),
    )
