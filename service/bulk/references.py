"""References in imported resources, and how they are rewritten before the write path
sees them.

A reference may name another resource of the import (by its `fullUrl`, `urn:uuid:` or
not, or by `Type/id` as the source server knew it), one an earlier run imported, a
resource of a type Concord does not keep (Encounter, Condition, Organization...), or a
conditional reference (`Practitioner?identifier=...`, as Synthea writes them). Each is
decided once: point it at the Concord resource, keep it as the source wrote it, or keep
only its `display` (the other elements of the Reference stay; a Reference left with
nothing in it is removed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from fhir.inbound.common import text_of


class Replace(msgspec.Struct, frozen=True):
    reference: str


class Keep(msgspec.Struct, frozen=True):
    pass


class DisplayOnly(msgspec.Struct, frozen=True):
    display: str | None
    """Used when the Reference has no display of its own."""


class Blocked(msgspec.Struct, frozen=True):
    reason: str


Decision = Replace | Keep | DisplayOnly | Blocked
KEEP = Keep()
_DROP = object()


def logical(ref: str) -> str | None:
    """`Type/id` for a relative or absolute RESTful reference (a version dropped); None
    for `urn:`, `#contained` and conditional references."""
    if ref.startswith(("urn:", "#")) or "?" in ref:
        return None
    parts = ref.rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2:
        return None
    kind, ident = parts[-2], parts[-1]
    if not (kind[:1].isupper() and kind.isalnum()) or not ident:
        return None
    return f"{kind}/{ident}"


def display_of(resource: dict[str, Any]) -> str | None:
    """A short human label for a resource Concord does not keep, so a reference to it
    still says what it was: a name, else what its code or type says."""
    name = resource.get("name")
    if isinstance(name, str) and name:
        return name
    if isinstance(name, list) and name and isinstance(name[0], dict):
        first = name[0]
        if first.get("text"):
            return str(first["text"])
        words = [*(first.get("prefix") or []), *(first.get("given") or []),
                 first.get("family") or ""]
        label = " ".join(str(w) for w in words if w).strip()
        if label:
            return label
    for key in ("code", "medicationCodeableConcept", "vaccineCode", "type"):
        value = resource.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        coded = text_of(value)
        if coded:
            return coded
    return None


def references(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every (FHIRPath of the Reference, reference string) in `value`, contained
    resources and Reference elements named `reference` (CarePlan.activity) included."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            yield path, ref
        for key, item in value.items():
            if not (key == "reference" and isinstance(item, str)):
                yield from references(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from references(item, f"{path}[{index}]")


def rewrite(value: Any, decisions: dict[str, Decision]) -> Any:
    """`value` with every Reference decided as `decisions` says (no Blocked in them)."""
    result = _rewrite(value, decisions)
    return {} if result is _DROP else result


def _rewrite(value: Any, decisions: dict[str, Decision]) -> Any:
    if isinstance(value, list):
        kept = [r for r in (_rewrite(v, decisions) for v in value) if r is not _DROP]
        return _DROP if value and not kept else kept
    if not isinstance(value, dict):
        return value
    ref = value.get("reference")
    decision = decisions.get(ref, KEEP) if isinstance(ref, str) else KEEP
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "reference" and isinstance(item, str):
            continue
        rewritten = _rewrite(item, decisions)
        if rewritten is not _DROP:
            out[key] = rewritten
    if isinstance(decision, Replace):
        out["reference"] = decision.reference
    elif isinstance(decision, DisplayOnly):
        if "display" not in out and decision.display:
            out["display"] = decision.display
        if not any(k in out for k in ("display", "identifier")):
            return _DROP
    elif isinstance(ref, str):
        out["reference"] = ref
    return {k: out[k] for k in (*value.keys(), *out.keys()) if k in out} if out else _DROP
