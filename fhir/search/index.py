"""What a resource is found by: the rows of the search index for one resource.

Each search parameter of the resource's type (fhir.search.params) is evaluated on the
stored JSON and its values become rows: tokens as system + code, references as relative
`Type/id`, dates as a half-open [lo, hi) range that honours the value's precision (NULL
for an open end), strings and URIs as written."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from typing import Any

import msgspec

from fhir.search.params import PARAMS, SearchParam
from service.settings import Settings


class IndexEntry(msgspec.Struct, frozen=True, kw_only=True):
    param: str
    system: str | None = None
    code: str | None = None
    ref: str | None = None
    value: str | None = None
    lo: dt.datetime | None = None
    hi: dt.datetime | None = None


def local_base() -> str:
    """This server's FHIR base as references to it are written in absolute form; the same
    variable the app's settings read."""
    root = os.environ.get("CONCORD_PUBLIC_BASE_URL") or Settings().public_base_url
    return root.rstrip("/") + "/fhir"


def entries(resource: dict[str, Any], base: str | None = None) -> list[IndexEntry]:
    """The index rows for `resource`, by its type's search parameters."""
    params = PARAMS.get(resource.get("resourceType", ""), {})
    found: dict[IndexEntry, None] = {}
    for param in params.values():
        for path in param.paths:
            for value in values_at(resource, path):
                for entry in _convert(param, value, base or local_base()):
                    if _fits(entry):
                        found[entry] = None
    return list(found)


_KEY_LENGTH = 300  # fhir_search.system, .code and .ref


def _fits(entry: IndexEntry) -> bool:
    """Whether the key columns hold the entry; a longer code or URL is left unindexed
    rather than cut short into something it is not."""
    return all(len(part) <= _KEY_LENGTH for part in (entry.system, entry.code, entry.ref)
               if part is not None)


def values_at(resource: dict[str, Any], path: str) -> list[Any]:
    """The values `path` (`Type.element.element`, `resolve()` into contained resources)
    selects in `resource`, lists flattened."""
    first, *steps = path.split(".")
    if resource.get("resourceType") != first:
        return []
    current: list[Any] = [resource]
    for step in steps:
        following: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            child = _contained(resource, item) if step == "resolve()" else item.get(step)
            if isinstance(child, list):
                following.extend(child)
            elif child is not None:
                following.append(child)
        current = following
    return current


def _contained(resource: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any] | None:
    target = reference.get("reference")
    if not isinstance(target, str) or not target.startswith("#"):
        return None
    for inner in resource.get("contained", []):
        if isinstance(inner, dict) and inner.get("id") == target[1:]:
            return inner
    return None


def _convert(param: SearchParam, value: Any, base: str) -> Iterator[IndexEntry]:
    name = param.name
    if param.type == "token":
        for system, code in tokens(value, param.system):
            yield IndexEntry(param=name, system=system, code=code)
    elif param.type == "reference":
        ref = reference_of(value, base)
        if ref is not None and (not param.targets or reference_type(ref) in param.targets):
            yield IndexEntry(param=name, ref=ref)
    elif param.type == "date":
        span = date_span(value)
        if span is not None:
            yield IndexEntry(param=name, lo=span[0], hi=span[1])
    else:
        texts = strings(value) if param.type == "string" else [value]
        for text in texts:
            if isinstance(text, str) and text:
                yield IndexEntry(param=name, value=text)


# -- tokens ---------------------------------------------------------------------------


def tokens(value: Any, implicit_system: str | None) -> list[tuple[str | None, str | None]]:
    """(system, code) pairs of a code, boolean, Coding, CodeableConcept or Identifier."""
    if isinstance(value, bool):
        return [(None, "true" if value else "false")]
    if isinstance(value, str):
        return [(implicit_system, value)]
    if not isinstance(value, dict):
        return []
    if "coding" in value or ("text" in value and "code" not in value and "value" not in value):
        return [pair for coding in value.get("coding", []) for pair in tokens(coding, None)]
    code = value.get("code", value.get("value"))
    system = value.get("system")
    if not isinstance(code, str) and not isinstance(system, str):
        return []
    return [(system if isinstance(system, str) else None,
             code if isinstance(code, str) else None)]


# -- references -----------------------------------------------------------------------

_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def reference_of(value: Any, base: str) -> str | None:
    """The relative `Type/id` a Reference (or canonical) points to; an absolute URL on
    another server as written; None for contained (`#id`) and bundle-local references."""
    text = value.get("reference") if isinstance(value, dict) else value
    if not isinstance(text, str) or not text or text.startswith(("#", "urn:")):
        return None
    text = text.split("|", 1)[0]
    local = text.removeprefix(base.rstrip("/") + "/")
    match = _RELATIVE.match(local)
    if match:
        return f"{match.group(1)}/{match.group(2)}"
    return text if "://" in text else None


def reference_type(ref: str) -> str:
    """The resource type a stored reference names (an absolute URL's next-to-last part)."""
    parts = ref.split("/")
    if "://" in ref:
        parts = [p for p in parts if p != "_history"]
        return parts[-2] if len(parts) >= 2 else ""
    return parts[0]


# -- dates ----------------------------------------------------------------------------

_DATE = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def date_range(text: str) -> tuple[dt.datetime, dt.datetime]:
    """The instants a FHIR date, dateTime or instant covers, as [lo, hi): "2026" is the
    whole year, "2026-01-05T10:00" that minute. No zone means UTC. ValueError if the
    text is not such a value."""
    match = _DATE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a FHIR date, e.g. 2026-01-05 or 2026-01-05T10:00:00Z")
    try:
        return _range(match.groupdict())
    except OverflowError:
        raise ValueError(f"{text!r} is beyond the dates this server handles") from None


def _range(part: dict[str, str | None]) -> tuple[dt.datetime, dt.datetime]:
    zone = _zone(part["zone"])
    year, month, day = int(part["year"] or 0), int(part["month"] or 1), int(part["day"] or 1)
    if part["month"] is None:
        return _span(dt.datetime(year, 1, 1, tzinfo=zone), year=1)
    if part["day"] is None:
        return _span(dt.datetime(year, month, 1, tzinfo=zone), month=1)
    if part["hour"] is None:
        start = dt.datetime(year, month, day, tzinfo=zone)
        return start, start + dt.timedelta(days=1)
    start = dt.datetime(year, month, day, int(part["hour"]), int(part["minute"] or 0),
                        int(part["second"] or 0), tzinfo=zone)
    if part["second"] is None:
        return start, start + dt.timedelta(minutes=1)
    fraction = (part["fraction"] or "")[:6]
    if not fraction:
        return start, start + dt.timedelta(seconds=1)
    start = start.replace(microsecond=int(fraction.ljust(6, "0")))
    return start, start + dt.timedelta(microseconds=10 ** (6 - len(fraction)))


def _zone(text: str | None) -> dt.tzinfo:
    if text is None or text == "Z":
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 14 or minutes > 59:
        raise ValueError(f"{text!r} is not a time zone offset")
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def _span(start: dt.datetime, *, year: int = 0, month: int = 0) -> tuple[dt.datetime, dt.datetime]:
    months = start.month - 1 + month + 12 * year
    try:
        end = start.replace(year=start.year + months // 12, month=months % 12 + 1)
    except ValueError:
        end = dt.datetime.max.replace(tzinfo=start.tzinfo)
    return start, end


def date_span(value: Any) -> tuple[dt.datetime | None, dt.datetime | None] | None:
    """The [lo, hi) of a date-like element: a date/dateTime/instant string or a Period
    (an open end is None). None for anything else or a malformed value."""
    try:
        if isinstance(value, str):
            return date_range(value)
        if isinstance(value, dict) and ("start" in value or "end" in value):
            start, end = value.get("start"), value.get("end")
            lo = date_range(start)[0] if isinstance(start, str) else None
            hi = date_range(end)[1] if isinstance(end, str) else None
            return lo, hi
    except ValueError:
        return None
    return None


# -- strings --------------------------------------------------------------------------

_NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
_ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")


def strings(value: Any) -> list[str]:
    """The searchable text of a string, HumanName or Address."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, dict):
        return []
    parts = _NAME_PARTS if "family" in value or "given" in value else _ADDRESS_PARTS
    found: list[str] = []
    for key in parts:
        item = value.get(key)
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, list):
            found.extend(i for i in item if isinstance(i, str))
    return found
