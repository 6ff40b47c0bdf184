"""What a subscription is told about: a resource type, search conditions that the
resource must meet (matched in memory against its search index entries, so a criteria
string means what the same search on /fhir means), and optionally the top-level
elements whose change is worth a notification.

Criteria are `Type` or `Type?param=value&param=value`: parameters AND together, a
comma in a value ORs. Only token parameters (`code`, `system|code`, `|code`, `system|`),
reference parameters (`Type/id`, or a bare id where the parameter has one target type)
and `_id` are supported; anything else (dates, strings, modifiers, chains, result
parameters) is refused when the subscription is written, never silently ignored."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import parse_qsl

import msgspec

from domain.errors import Invalid
from fhir.search.index import IndexEntry, entries, local_base, reference_of
from fhir.search.params import PARAMS

SUBSCRIBABLE = ("CarePlan", "Goal", "MedicationStatement")
Kind = Literal["token", "reference", "id"]
Method = Literal["create", "update", "delete"]

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
# Elements that differ in every version: choosing them would choose everything.
_NOT_CHOOSABLE = frozenset({"id", "meta"})


class Condition(msgspec.Struct, frozen=True, kw_only=True):
    """One search parameter, met when the resource has any of `values`."""

    param: str
    kind: Kind
    values: tuple[str, ...]


class Criteria(msgspec.Struct, frozen=True, kw_only=True):
    resource_type: str
    conditions: tuple[Condition, ...] = ()
    elements: tuple[str, ...] = ()
    """Top-level elements (e.g. `status`, `activity`, `effective` for effective[x]): an
    update is notified only if one of them changed. Empty: every update."""

    def matches(self, resource: dict[str, Any]) -> bool:
        """Does this version of a resource meet the conditions?"""
        if resource.get("resourceType") != self.resource_type:
            return False
        if not self.conditions:
            return True
        index = entries(resource)
        return all(_holds(condition, resource, index) for condition in self.conditions)

    def notifies(self, method: str, previous: dict[str, Any] | None,
                 current: dict[str, Any] | None) -> bool:
        """Is this change (`previous` -> `current`, either absent) a notification? As R4
        says, the conditions apply to the new version; a delete, which has none, is
        judged by the version it deleted. Creates and deletes pass the element filter."""
        subject = previous if method == "delete" else current
        if subject is None:
            return False
        if not self.matches(subject):
            return False
        if method != "update" or not self.elements or previous is None or current is None:
            return True
        return changed(self.resource_type, self.elements, previous, current)


def changed(resource_type: str, elements: Iterable[str], previous: dict[str, Any],
            current: dict[str, Any]) -> bool:
    """Does any of `elements` differ between the two versions? A primitive's extensions
    (`_status`) count as part of it, and a choice element (`effective`) covers all its
    typed forms (`effectiveDateTime`, `effectivePeriod`)."""
    choices = _choice_bases(resource_type)
    for name in elements:
        keys = {k for k in (*previous, *current) if _belongs(k, name, name in choices)}
        if any(previous.get(k) != current.get(k) for k in keys):
            return True
    return False


def _belongs(key: str, name: str, choice: bool) -> bool:
    bare = key.removeprefix("_")
    if bare == name:
        return True
    return choice and bare.startswith(name) and bare[len(name):][:1].isupper()


# -- parsing ------------------------------------------------------------------------------

def parse(text: Any, field: str, *, resource_type: str | None = None) -> Criteria:
    """`Type?params` as Criteria; Invalid naming `field` if it is not one this server can
    match. With `resource_type`, the type must be that one (a topic's filter)."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid(field, "a search like CarePlan?patient=Patient/123 is required")
    text = text.strip()
    type_part, _, query = text.partition("?")
    type_part = type_part.rsplit("/", 1)[-1] if "://" in type_part else type_part.strip("/")
    if resource_type is not None and type_part != resource_type:
        raise Invalid(field, f"this topic is about {resource_type}; the filter names "
                             f"{type_part or 'no type'}")
    if type_part not in SUBSCRIBABLE:
        raise Invalid(field, f"subscriptions are offered on {', '.join(SUBSCRIBABLE)}; "
                             f"not on {type_part or 'no type'}")
    conditions = tuple(_condition(type_part, name, value, field)
                       for name, value in _pairs(query, field))
    return Criteria(resource_type=type_part, conditions=conditions)


def _pairs(query: str, field: str) -> list[tuple[str, str]]:
    if not query:
        return []
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True,
                          max_num_fields=50)
    except ValueError:
        raise Invalid(field, "the search part is not a well-formed query string") from None
    return pairs


def _condition(resource_type: str, name: str, value: str, field: str) -> Condition:
    if ":" in name or "." in name:
        raise Invalid(field, f"{name}: modifiers and chained parameters are not supported in "
                             "subscription criteria")
    values = _split(value)
    if not values or any(not v for v in values):
        raise Invalid(field, f"{name} needs a value")
    if name == "_id":
        bad = [v for v in values if not _ID.fullmatch(v)]
        if bad:
            raise Invalid(field, f"_id: {bad[0]!r} is not a FHIR id")
        return Condition(param=name, kind="id", values=values)
    param = PARAMS.get(resource_type, {}).get(name)
    if param is None:
        raise Invalid(field, f"{resource_type} has no search parameter {name!r} here")
    if param.type == "token":
        for v in values:
            if v == "|":
                raise Invalid(field, f"{name}: give a code, a system| or both")
        return Condition(param=name, kind="token", values=values)
    if param.type == "reference":
        refs = tuple(_reference(name, v, param.targets, field) for v in values)
        return Condition(param=name, kind="reference", values=refs)
    raise Invalid(field, f"{name} is a {param.type} parameter: subscription criteria take "
                         "token and reference parameters only")


def _reference(name: str, value: str, targets: tuple[str, ...], field: str) -> str:
    if _ID.fullmatch(value) and "/" not in value:
        if len(targets) != 1:
            raise Invalid(field, f"{name}: give the reference as Type/id")
        return f"{targets[0]}/{value}"
    ref = reference_of(value, local_base())
    if ref is None:
        raise Invalid(field, f"{name}: {value!r} is not a reference (Type/id)")
    match = _RELATIVE.fullmatch(ref)
    if match and targets and match.group(1) not in targets:
        raise Invalid(field, f"{name} points to {' or '.join(targets)}, not {match.group(1)}")
    return ref


def _split(value: str) -> tuple[str, ...]:
    r"""Comma-separated alternatives; `\,` is a literal comma (FHIR search escaping)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return tuple(p.strip() for p in parts)


def parse_elements(resource_type: str, names: list[tuple[str, Any]]) -> tuple[str, ...]:
    """Validated element names, given as (FHIRPath of the value, value) pairs."""
    valid = _element_names(resource_type)
    chosen: list[str] = []
    for field, name in names:
        if not isinstance(name, str) or not name:
            raise Invalid(field, "an element name such as status is required")
        if name in _NOT_CHOOSABLE:
            raise Invalid(field, f"{name} changes in every version; choose the elements "
                                 "whose change matters")
        if name not in valid:
            raise Invalid(field, f"{resource_type} has no top-level element {name!r}")
        if name not in chosen:
            chosen.append(name)
    return tuple(chosen)


# -- matching -----------------------------------------------------------------------------

def _holds(condition: Condition, resource: dict[str, Any], index: list[IndexEntry]) -> bool:
    if condition.kind == "id":
        return resource.get("id") in condition.values
    found = [e for e in index if e.param == condition.param]
    if condition.kind == "reference":
        return any(e.ref in condition.values for e in found)
    return any(_token_matches(value, e) for value in condition.values for e in found)


def _token_matches(value: str, entry: IndexEntry) -> bool:
    if "|" not in value:
        return entry.code == value
    system, code = value.split("|", 1)
    if not system:
        return entry.system is None and entry.code == code
    if not code:
        return entry.system == system
    return entry.system == system and entry.code == code


@functools.cache
def _model_fields(resource_type: str) -> tuple[frozenset[str], frozenset[str]]:
    """(element names, choice element bases) of an R4 resource type."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource_type)
    names: set[str] = set()
    choices: set[str] = set()
    for field in model.model_fields.values():
        extra = field.json_schema_extra
        if not isinstance(extra, dict) or not extra.get("element_property"):
            continue
        base = extra.get("one_of_many")
        if isinstance(base, str):
            choices.add(base)
        if field.alias:
            names.add(field.alias)
    return frozenset(names | choices), frozenset(choices)


def _element_names(resource_type: str) -> frozenset[str]:
    return _model_fields(resource_type)[0]


def _choice_bases(resource_type: str) -> frozenset[str]:
    return _model_fields(resource_type)[1]
