"""A FHIR search request, parsed and checked against the type's search parameters
(fhir.search.conditions turns it into SQL).

Parsing never guesses: a malformed value is a SearchError naming the parameter; an
unknown parameter is dropped (and left out of the `self` link) unless the client asked
for strict handling."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from fhir.search.index import date_range
from fhir.search.params import PARAMS, ParamType, SearchParam, for_type

DEFAULT_COUNT = 20
MAX_COUNT = 100
CURSOR = "_cursor"
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
# Parameters about the response's format, not the search: accepted, never applied.
_FORMAT_PARAMS = frozenset({"_format", "_pretty", "_total"})
_MODIFIERS: dict[ParamType, frozenset[str]] = {
    "token": frozenset({"missing", "not"}),
    "reference": frozenset({"missing"}),
    "date": frozenset({"missing"}),
    "string": frozenset({"missing", "exact", "contains"}),
    "uri": frozenset({"missing"}),
}
_TYPE_MODIFIER = re.compile(r"^[A-Z][A-Za-z]+$")
_RESOURCE_REF = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


class SearchError(Exception):
    """A request this server will not answer as asked: 400 with `expression`."""

    def __init__(self, expression: str, diagnostics: str, code: str = "invalid") -> None:
        super().__init__(diagnostics)
        self.expression = expression
        self.diagnostics = diagnostics
        self.code = code


class Token(msgspec.Struct, frozen=True, kw_only=True):
    system: str | None = None
    code: str | None = None
    any_system: bool = True
    """False when the value named a system (`system|code`) or none (`|code`)."""


class DateValue(msgspec.Struct, frozen=True, kw_only=True):
    prefix: str
    lo: dt.datetime
    hi: dt.datetime


class Criterion(msgspec.Struct, frozen=True, kw_only=True):
    """One parameter as the client sent it: its values are ORed, criteria are ANDed."""

    name: str
    type: ParamType
    modifier: str | None
    values: tuple[Any, ...]


class Include(msgspec.Struct, frozen=True, kw_only=True):
    """`_include` (forward: follow `param` of the matches) or `_revinclude` (reverse:
    resources of `source` whose `param` points at a match)."""

    source: str
    param: str
    target: str | None = None
    reverse: bool = False


class Search(msgspec.Struct, kw_only=True):
    resource_type: str
    criteria: list[Criterion] = msgspec.field(default_factory=list)
    count: int = DEFAULT_COUNT
    summary_count: bool = False
    includes: list[Include] = msgspec.field(default_factory=list)
    descending: bool = False
    after: tuple[dt.datetime, str] | None = None
    cursor: str | None = None
    applied: list[tuple[str, str]] = msgspec.field(default_factory=list)
    """The parameters used, as sent, for the Bundle's links."""


# -- cursors --------------------------------------------------------------------------


def encode_cursor(position: list[Any]) -> str:
    """An opaque page position: the keyset of the last entry served."""
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode().rstrip("=")


def decode_cursor(text: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        position = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        position = None
    if not isinstance(position, list) or not position:
        raise SearchError(CURSOR, "the paging cursor is not one this server issued; "
                                  "follow the Bundle's `next` link as given")
    return position


def printable(name: str, value: str) -> None:
    """Refuse control characters, which no search value holds (and PostgreSQL text
    cannot: a NUL)."""
    if any(ord(char) < 32 for char in name + value):
        raise SearchError(name if name.isprintable() else "?",
                          "search parameters hold no control characters")


def position_int(value: Any) -> int:
    """A whole number from a cursor, within a bigint."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise SearchError(CURSOR, "the paging cursor is not one this server issued")
    return value


def instant(text: str, expression: str) -> dt.datetime:
    """An instant such as `_since` takes; a date alone means its first moment."""
    try:
        return date_range(text)[0]
    except ValueError as error:
        raise SearchError(expression, str(error)) from None


def count_of(text: str, expression: str = "_count") -> int:
    if not text.isdigit():
        raise SearchError(expression, f"_count must be a whole number from 0 to {MAX_COUNT}")
    return min(int(text), MAX_COUNT)


# -- parsing --------------------------------------------------------------------------


def parse(
    resource_type: str, pairs: Iterable[tuple[str, str]], *, strict: bool, base: str,
    now: dt.datetime,
) -> Search:
    """The search `pairs` (query or form parameters, in order) ask for on `resource_type`."""
    search = Search(resource_type=resource_type)
    params = for_type(resource_type)
    for raw_name, raw_value in pairs:
        if raw_value == "" or raw_name in _FORMAT_PARAMS:
            continue
        printable(raw_name, raw_value)
        applied = _control(search, raw_name, raw_value, strict=strict)
        if applied is None:
            name, _, modifier = raw_name.partition(":")
            param = params.get(name)
            if param is None:
                if strict:
                    raise SearchError(raw_name, f"{resource_type} has no search parameter "
                                                f"{raw_name!r} here", "not-supported")
                continue
            search.criteria.append(_criterion(param, modifier or None, raw_value, base, now))
            applied = True
        if applied:
            search.applied.append((raw_name, raw_value))
    return search


def _control(search: Search, name: str, value: str, *, strict: bool) -> bool | None:
    """Apply a result parameter (`_count`, `_sort`...): True if used, False if dropped,
    None if `name` is not one."""
    if name == "_count":
        search.count = count_of(value)
    elif name == "_summary":
        if value == "count":
            search.summary_count = True
        elif value != "false":
            return _unsupported(name, "_summary supports count and false", strict)
    elif name == "_sort":
        keys = value.split(",")
        if keys[0] not in ("_lastUpdated", "-_lastUpdated") or any(
                k not in ("_id", "id") for k in keys[1:]):
            return _unsupported(name, "_sort supports _lastUpdated and -_lastUpdated", strict)
        search.descending = keys[0].startswith("-")
    elif name in ("_include", "_revinclude"):
        try:
            search.includes.append(_include(search.resource_type, value,
                                            name == "_revinclude"))
        except SearchError:
            if strict:
                raise
            return False
    elif name == CURSOR:
        position = decode_cursor(value)
        try:
            search.after = (dt.datetime.fromisoformat(position[0]), str(position[1]))
        except (TypeError, ValueError, IndexError):
            search.after = None
        if search.after is None or search.after[0].tzinfo is None:
            raise SearchError(CURSOR, "the paging cursor is not one this server issued")
        printable(CURSOR, search.after[1])
        search.cursor = value
        return False
    else:
        return None
    return True


def _unsupported(name: str, diagnostics: str, strict: bool) -> bool:
    if strict:
        raise SearchError(name, diagnostics, "not-supported")
    return False


def _include(resource_type: str, value: str, reverse: bool) -> Include:
    """`Source:param[:Target]`: forward, Source is the searched type; reverse, Target (if
    given) is, and `param` must be able to point at it."""
    name = "_revinclude" if reverse else "_include"
    source, _, rest = value.partition(":")
    param_name, _, target = rest.partition(":")
    param = PARAMS.get(source, {}).get(param_name)
    if param is None or param.type != "reference":
        raise SearchError(name, f"{value!r}: {source or '?'} has no reference parameter "
                                f"{param_name!r} to follow", "not-supported")
    if reverse and target and target != resource_type:
        raise SearchError(name, f"{value!r}: the target of a _revinclude here is "
                                f"{resource_type}")
    if not reverse and source != resource_type:
        raise SearchError(name, f"{value!r}: _include follows {resource_type} parameters")
    wanted = resource_type if reverse else (target or None)
    if wanted and param.targets and wanted not in param.targets:
        raise SearchError(name, f"{value!r}: {source}.{param_name} does not refer to {wanted}")
    return Include(source=source, param=param_name, target=wanted, reverse=reverse)


def _criterion(
    param: SearchParam, modifier: str | None, raw: str, base: str, now: dt.datetime
) -> Criterion:
    expression = param.name if modifier is None else f"{param.name}:{modifier}"
    if modifier is not None and param.name.startswith("_"):
        raise SearchError(expression, f"{param.name} takes no modifiers", "not-supported")
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise SearchError(expression, ":missing takes true or false")
        return Criterion(name=param.name, type=param.type, modifier=modifier,
                         values=(raw == "true",))
    if modifier is not None and not _modifier_allowed(param, modifier):
        raise SearchError(expression, f"{param.name} does not support :{modifier}",
                          "not-supported")
    values = tuple(_value(param, modifier, part, expression, base, now)
                   for part in split_values(raw))
    return Criterion(name=param.name, type=param.type, modifier=modifier, values=values)


def _modifier_allowed(param: SearchParam, modifier: str) -> bool:
    if param.type == "reference" and _TYPE_MODIFIER.match(modifier):
        return not param.targets or modifier in param.targets
    return modifier in _MODIFIERS[param.type]


def split_values(raw: str) -> list[str]:
    """Comma-separated values, `\\,` being a comma inside one value."""
    parts, current, escaped = [], [], False
    for char in raw:
        if escaped:
            current.append(char if char in ",$|\\" else "\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current) + ("\\" if escaped else ""))
    return parts


def _value(param: SearchParam, modifier: str | None, text: str, expression: str, base: str,
           now: dt.datetime) -> Any:
    if param.name == "_id" or param.type in ("string", "uri"):
        return text
    if param.type == "token":
        return token_value(text, expression)
    if param.type == "date":
        return date_value(text, expression, now)
    return _reference(param, modifier, text, base)


def token_value(text: str, expression: str) -> Token:
    if "|" not in text:
        return Token(code=text)
    system, _, code = text.partition("|")
    if not system and not code:
        raise SearchError(expression, "a token is code, system|code, |code or system|")
    return Token(system=system or None, code=code or None, any_system=False)


def date_value(text: str, expression: str, now: dt.datetime) -> DateValue:
    prefix = text[:2] if text[:2].isalpha() else "eq"
    body = text[2:] if text[:2].isalpha() else text
    if prefix not in DATE_PREFIXES:
        raise SearchError(expression, f"{prefix!r} is not a date prefix; use one of "
                                      + ", ".join(DATE_PREFIXES))
    try:
        lo, hi = date_range(body)
    except ValueError as error:
        raise SearchError(expression, str(error)) from None
    if prefix == "ap":
        # "Approximately": within 10% of the distance between the value and now.
        slack = abs(now - lo) / 10
        lo, hi = _shifted(lo, -slack), _shifted(hi, slack)
    return DateValue(prefix=prefix, lo=lo, hi=hi)


def _shifted(moment: dt.datetime, by: dt.timedelta) -> dt.datetime:
    try:
        return moment + by
    except OverflowError:
        return (dt.datetime.min if by < dt.timedelta(0) else dt.datetime.max).replace(
            tzinfo=dt.UTC)


def _reference(param: SearchParam, modifier: str | None, text: str, base: str) -> str:
    """The stored form of a reference search value; `*/{id}` when only the id is known
    and the parameter may point at several types."""
    local = text.removeprefix(base.rstrip("/") + "/")
    match = _RESOURCE_REF.match(local)
    if match:
        return f"{match.group(1)}/{match.group(2)}"
    if "/" in local:
        return local  # another server's URL, matched as written
    kind = modifier or (param.targets[0] if len(param.targets) == 1 else None)
    return f"{kind}/{local}" if kind else f"*/{local}"
