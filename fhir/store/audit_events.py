"""AuditEvent search over the append-only audit trail (`audit_events`): the FHIR
parameters become conditions on its columns; ids are the trail's own bigint ids."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from fhir.mapping.audit import (
    ENTITY_TYPES,
    EVENT_TYPES,
    FHIR_TYPES,
    INTERACTIONS,
    RESOURCE_TYPES,
    AuditRow,
    actions_of,
)
from fhir.search.conditions import date_match
from fhir.search.params import AUDIT_EVENT_PARAMS
from fhir.search.query import (
    CURSOR,
    DEFAULT_COUNT,
    SearchError,
    Token,
    count_of,
    date_value,
    decode_cursor,
    position_int,
    printable,
    split_values,
    token_value,
)
from service.db import tables as t
from service.db.repos.base import from_row

_a = t.audit_events
_FORMAT_PARAMS = frozenset({"_format", "_pretty", "_total"})


class AuditSearch(msgspec.Struct, kw_only=True):
    conditions: list[Any] = msgspec.field(default_factory=list)
    count: int = DEFAULT_COUNT
    descending: bool = False
    after: int | None = None
    cursor: str | None = None
    applied: list[tuple[str, str]] = msgspec.field(default_factory=list)


class AuditPage(msgspec.Struct, kw_only=True):
    total: int
    items: list[AuditRow]
    more: bool = False


def parse(pairs: Iterable[tuple[str, str]], *, strict: bool, now: dt.datetime) -> AuditSearch:
    search = AuditSearch()
    for name, raw in pairs:
        if raw == "" or name in _FORMAT_PARAMS:
            continue
        printable(name, raw)
        if name == "_count":
            search.count = count_of(raw)
        elif name == CURSOR:
            search.after, search.cursor = position_int(decode_cursor(raw)[0]), raw
            continue
        elif name == "_sort" and raw in ("date", "-date", "_lastUpdated", "-_lastUpdated"):
            search.descending = raw.startswith("-")
        elif name == "_id" or name in AUDIT_EVENT_PARAMS:
            values = split_values(raw)
            search.conditions.append(sa.or_(*(_condition(name, v, now) for v in values)))
        elif strict:
            raise SearchError(name, f"AuditEvent has no search parameter {name!r} here",
                              "not-supported")
        else:
            continue
        search.applied.append((name, raw))
    return search


def _condition(name: str, value: str, now: dt.datetime) -> ColumnElement[bool]:
    if name == "_id":
        return _a.c.id == int(value) if value.isdigit() and len(value) < 19 else sa.false()
    if name == "date":
        moment = date_value(value, name, now)
        upper = _a.c.occurred_at + sa.text("interval '1 microsecond'")
        return date_match(moment, _a.c.occurred_at, upper)
    if name in ("patient", "agent"):
        column = _a.c.patient_id if name == "patient" else _a.c.actor_id
        kind = "Patient" if name == "patient" else "Practitioner"
        found = _uuid(value.rsplit("/", 1)[-1]) if _names(value, kind) else None
        return column == found if found is not None else sa.false()
    if name == "entity":
        parts = value.split("/")
        found = _uuid(parts[-1]) if len(parts) >= 2 else None
        if found is None:
            return sa.false()
        return sa.and_(_a.c.resource_type == parts[-2], _a.c.resource_id == found)
    if name == "address":
        return _a.c.client_address == value
    return _token_condition(name, token_value(value, name))


def _names(value: str, kind: str) -> bool:
    """Whether a reference search value can name a resource of `kind`."""
    return "/" not in value or value.rsplit("/", 2)[-2] == kind


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _token_condition(name: str, token: Token) -> ColumnElement[bool]:
    code = token.code

    def system_is(wanted: str) -> bool:
        return token.any_system or token.system == wanted

    if name == "action":
        return _a.c.action.in_(actions_of(action=code)) if code else sa.true()
    if name == "subtype":
        if not system_is(INTERACTIONS):
            return sa.false()
        return _a.c.action.in_(actions_of(subtype=code)) if code else sa.true()
    if name == "type":
        return sa.true() if system_is(EVENT_TYPES) and code in ("rest", None) else sa.false()
    # entity-type: a FHIR resource type, or "2" (system object) for Concord's own records
    if not token.any_system and token.system == ENTITY_TYPES:
        return _a.c.resource_type.not_in(FHIR_TYPES) if code == "2" else sa.false()
    if not system_is(RESOURCE_TYPES):
        return sa.false()
    return _a.c.resource_type == code if code else sa.true()


class AuditEventReader:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, clinic_id: uuid.UUID, event_id: int) -> AuditRow | None:
        row = (await self.conn.execute(
            sa.select(*_COLUMNS).where(_a.c.clinic_id == clinic_id, _a.c.id == event_id)
        )).mappings().first()
        return None if row is None else from_row(row, AuditRow)

    async def search(self, clinic_id: uuid.UUID, search: AuditSearch) -> AuditPage:
        """The total and one page, in one statement."""
        scope = [_a.c.clinic_id == clinic_id, *search.conditions]
        total = sa.select(sa.func.count()).where(*scope).scalar_subquery()
        page = sa.select(*_COLUMNS, total.label("total")).where(*scope)
        if search.after is not None:
            page = page.where(_a.c.id < search.after if search.descending
                              else _a.c.id > search.after)
        page = page.order_by(_a.c.id.desc() if search.descending else _a.c.id)
        rows = (await self.conn.execute(page.limit(search.count + 1))).mappings().all()
        if not rows:
            empty = await self.conn.scalar(sa.select(sa.func.count()).where(*scope))
            return AuditPage(total=empty or 0, items=[])
        items = [from_row({k: v for k, v in row.items() if k != "total"}, AuditRow)
                 for row in rows]
        return AuditPage(total=int(rows[0]["total"]), items=items[:search.count],
                         more=len(items) > search.count)


_COLUMNS = (_a.c.id, _a.c.occurred_at, _a.c.actor_type, _a.c.actor_id, _a.c.action,
            _a.c.resource_type, _a.c.resource_id, _a.c.patient_id, _a.c.client_address,
            _a.c.request_id)
