"""SMART on FHIR scopes: what a system's token may do, in either syntax.

SMART App Launch 1.0 writes `system/CarePlan.read`, `.write` or `.*`; 2.0 writes the
interactions as letters in a fixed order, `system/CarePlan.cruds` (create, read, update,
delete, search). v1 `read` is v2 `rs`, `write` is `cud`, `*` is `cruds`
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).

v2 also allows a query on a scope (`system/Observation.rs?category=laboratory`) to narrow
it to some instances. Nothing here can enforce such a filter, so such a scope is never
registered and never granted: granting it would hand out more than was asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import msgspec

from domain.errors import Invalid

Operation = Literal["c", "r", "u", "d", "s"]
LETTERS = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": LETTERS}
_V1_BY_LETTERS = {letters: word for word, letters in _V1.items()}
_SCOPE = re.compile(
    r"^(?P<context>system|user|patient)/(?P<type>\*|[A-Z][A-Za-z]{1,63})"
    r"\.(?P<permissions>read|write|\*|c?r?u?d?s?)$"
)
OPERATION_NAMES: dict[str, str] = {
    "c": "create", "r": "read", "u": "update", "d": "delete", "s": "search",
}


class Scope(msgspec.Struct, frozen=True, kw_only=True):
    """One resource scope: who it speaks for, which resource types, which interactions."""

    context: Literal["system", "user", "patient"]
    resource_type: str
    """A FHIR resource type, or `*` for every type."""
    permissions: str
    """A non-empty subsequence of `cruds`."""
    v1: bool = False
    """Written in SMART 1.0 syntax (read/write/*): answered in the syntax it was asked in."""

    def allows(self, resource_type: str, operation: Operation) -> bool:
        # patient/ and user/ scopes are limited to a patient's compartment or a user's own
        # rights, neither of which a system's token carries: they permit nothing here.
        return (
            self.context == "system"
            and self.resource_type in ("*", resource_type)
            and operation in self.permissions
        )

    def narrowed_to(self, other: Scope) -> Scope | None:
        """What this scope and `other` both permit, or None when they share nothing."""
        if self.context != other.context:
            return None
        if self.resource_type == "*":
            resource_type = other.resource_type
        elif other.resource_type in ("*", self.resource_type):
            resource_type = self.resource_type
        else:
            return None
        permissions = "".join(
            p for p in LETTERS if p in self.permissions and p in other.permissions
        )
        if not permissions:
            return None
        return Scope(
            context=self.context,
            resource_type=resource_type,
            permissions=permissions,
            v1=self.v1 and permissions in _V1_BY_LETTERS,
        )

    def __str__(self) -> str:
        permissions = _V1_BY_LETTERS[self.permissions] if self.v1 else self.permissions
        return f"{self.context}/{self.resource_type}.{permissions}"


def parse(text: str) -> Scope:
    """One scope, or Invalid naming what is wrong with it."""
    if "?" in text:
        raise Invalid("scope", f"{text!r}: scopes with query parameters are not supported")
    match = _SCOPE.match(text)
    if match is None or not match.group("permissions"):
        raise Invalid(
            "scope",
            f"{text!r} is not a SMART resource scope such as system/CarePlan.rs, "
            "system/*.cruds or system/CarePlan.read",
        )
    raw = match.group("permissions")
    return Scope(
        context=match.group("context"),  # type: ignore[arg-type]  # the pattern allows only these
        resource_type=match.group("type"),
        permissions=_V1.get(raw, raw),
        v1=raw in _V1,
    )


def parse_system_scopes(text: str) -> tuple[Scope, ...]:
    """A space-separated list of `system/` scopes, every one valid (a client's registration):
    Invalid names the first that is not."""
    words = text.split()
    if not words:
        raise Invalid("scopes", "at least one scope, e.g. system/*.rs")
    found: list[Scope] = []
    for word in words:
        try:
            scope = parse(word)
        except Invalid as exc:
            raise Invalid("scopes", exc.detail) from exc
        if scope.context != "system":
            raise Invalid("scopes", f"{word!r}: a backend service is granted system/ scopes only")
        if scope not in found:
            found.append(scope)
    return tuple(found)


def parse_granted(text: str) -> frozenset[Scope]:
    """The scopes stored with an issued token (written by `grant`, so all valid)."""
    found: set[Scope] = set()
    for word in text.split():
        try:
            found.add(parse(word))
        except Invalid:
            continue
    return frozenset(found)


def grant(requested: str, allowed: Iterable[Scope]) -> tuple[Scope, ...]:
    """Requested ∩ allowed, scope by scope: `system/*.rs` asked of a client allowed
    `system/CarePlan.cruds` gives `system/CarePlan.rs`. What cannot be granted (an unknown
    scope, `openid`, a `patient/` scope, a scope with a query) is left out, as OAuth
    lets a server grant less than was asked; an empty answer is the caller's to refuse."""
    allowed = tuple(allowed)
    granted: list[Scope] = []
    for word in requested.split():
        try:
            asked = parse(word)
        except Invalid:
            continue
        for scope in allowed:
            both = asked.narrowed_to(scope)
            if both is not None and both not in granted:
                granted.append(both)
    return tuple(granted)


def permits(scopes: Iterable[Scope], resource_type: str, operation: Operation) -> bool:
    return any(scope.allows(resource_type, operation) for scope in scopes)


def render(scopes: Iterable[Scope]) -> str:
    return " ".join(str(scope) for scope in scopes)
