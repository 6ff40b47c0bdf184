"""The SQL that answers a parsed search (fhir.search.query) from the search index: one
condition per criterion, each an EXISTS over the resource's index rows, so that a whole
search stays one statement."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fhir.search.query import Criterion, DateValue, Search, Token
from service.db import tables as t

_MINUS_INFINITY = sa.literal_column("'-infinity'::timestamptz", sa.DateTime(timezone=True))
_INFINITY = sa.literal_column("'infinity'::timestamptz", sa.DateTime(timezone=True))


def conditions(search: Search, resources: sa.Table = t.fhir_resources) -> list[ColumnElement[bool]]:
    """What a current resource of `resources` must satisfy to match `search` (clinic,
    type and deletion are the caller's)."""
    return [_condition(criterion, resources) for criterion in search.criteria]


def visible_to(
    patient_id: ColumnElement[uuid.UUID | None], clinic_id: uuid.UUID, viewer: uuid.UUID | None
) -> ColumnElement[bool]:
    """What a clinician (`viewer`, a staff id) may see: what is about no patient, and what
    is about a patient of a plan whose team they are on. None: the whole clinic."""
    if viewer is None:
        return sa.true()
    plans, members = t.care_plans, t.care_team_members
    theirs = sa.select(plans.c.patient_id).join(
        members, members.c.care_plan_id == plans.c.id
    ).where(plans.c.clinic_id == clinic_id, members.c.staff_id == viewer)
    return sa.or_(patient_id.is_(None), patient_id.in_(theirs))


def _condition(criterion: Criterion, r: sa.Table) -> ColumnElement[bool]:
    if criterion.name == "_id":
        return r.c.id.in_(list(criterion.values))
    if criterion.name == "_lastUpdated":
        upper: ColumnElement[dt.datetime] = r.c.last_updated + sa.text(
            "interval '1 microsecond'")
        return sa.or_(*(date_match(v, r.c.last_updated, upper) for v in criterion.values))
    s = t.fhir_search
    rows = sa.exists().where(s.c.clinic_id == r.c.clinic_id,
                             s.c.resource_type == r.c.resource_type, s.c.id == r.c.id,
                             s.c.param == criterion.name)
    if criterion.modifier == "missing":
        return ~rows if criterion.values[0] else rows
    matched = rows.where(sa.or_(*(_value_match(criterion, v, s) for v in criterion.values)))
    return ~matched if criterion.modifier == "not" else matched


def _value_match(criterion: Criterion, value: Any, s: sa.Table) -> ColumnElement[bool]:
    if criterion.type == "token":
        return token_match(value, s.c.system, s.c.code)
    if criterion.type == "reference":
        ref = str(value)
        if ref.startswith("*/"):
            return s.c.ref.like("%/" + _like_escape(ref[2:]), escape="\\")
        return s.c.ref == ref
    if criterion.type == "date":
        lo: ColumnElement[dt.datetime] = sa.func.coalesce(s.c.lo, _MINUS_INFINITY)
        hi: ColumnElement[dt.datetime] = sa.func.coalesce(s.c.hi, _INFINITY)
        return date_match(value, lo, hi)
    text = str(value)
    if criterion.type == "uri" or criterion.modifier == "exact":
        return s.c.value == text
    pattern = _like_escape(text) + "%"
    if criterion.modifier == "contains":
        pattern = "%" + pattern
    return fold(s.c.value).like(fold(sa.literal(pattern)), escape="\\")


def token_match(
    value: Token, system: ColumnElement[Any], code: ColumnElement[Any]
) -> ColumnElement[bool]:
    checks: list[ColumnElement[bool]] = []
    if not value.any_system:
        checks.append(system.is_(None) if value.system is None else system == value.system)
    if value.code is not None:
        checks.append(code == value.code)
    return sa.and_(*checks)


def date_match(
    value: DateValue, lo: ColumnElement[dt.datetime], hi: ColumnElement[dt.datetime]
) -> ColumnElement[bool]:
    """FHIR R4 date prefixes on ranges: the resource's [lo, hi) against the search
    value's [value.lo, value.hi)."""
    inside = sa.and_(lo >= value.lo, hi <= value.hi)
    above, below = hi > value.hi, lo < value.lo
    match value.prefix:
        case "eq":
            return inside
        case "ne":
            return ~inside
        case "gt":
            return above
        case "lt":
            return below
        case "ge":
            return sa.or_(above, inside)
        case "le":
            return sa.or_(below, inside)
        case "sa":
            return lo >= value.hi
        case "eb":
            return hi <= value.lo
        case _:  # ap: overlaps the widened range
            return sa.and_(lo < value.hi, hi > value.lo)


def fold(text: ColumnElement[Any]) -> ColumnElement[str]:
    """Case and accents set aside, as FHIR string search wants: decomposed, combining
    marks dropped, lower-cased."""
    decomposed = sa.func.normalize(text, sa.text("NFD"))
    stripped = sa.func.regexp_replace(decomposed, "[\u0300-\u036f]", "", "g")
    folded: ColumnElement[str] = sa.func.lower(stripped)
    return folded


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
