"""Reading a client's FHIR JSON into Concord's terms: references, dates, extensions, and
errors that name the FHIR path."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from domain.errors import Invalid


def reference_id(value: Any, kind: str, path: str) -> uuid.UUID:
    """The Concord id in a reference `{kind}/{uuid}` (after urn:uuid resolution)."""
    ref = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(ref, str) or not ref.startswith(f"{kind}/"):
        raise Invalid(path, f"must reference a {kind}")
    try:
        return uuid.UUID(ref.removeprefix(f"{kind}/").split("/_history/")[0])
    except ValueError:
        raise Invalid(path, f"no {kind} {ref.removeprefix(f'{kind}/')!r} here") from None


def date_of(value: Any, path: str) -> dt.date | None:
    """A FHIR date or dateTime as a date (a dateTime's own calendar day)."""
    if value is None:
        return None
    text = str(value)
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        if len(text) in (4, 7):
            raise ValueError
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise Invalid(path, "Concord keeps this as a full date (YYYY-MM-DD)") from None


def extension_values(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension", []) if e.get("url") == url]


def text_of(concept: Any) -> str | None:
    """A CodeableConcept's text, else its first coding's display or code."""
    if not isinstance(concept, dict):
        return None
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding", []):
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return None


def fhir_path(resource_type: str, field: str | None, paths: dict[str, str]) -> str | None:
    """A domain error's field as the FHIR path the client wrote."""
    if field is None:
        return resource_type
    if field == resource_type or field.startswith((f"{resource_type}.", "Bundle.")):
        return field  # already a FHIR path
    head = field.split("[")[0].split(".")[0]
    if head in paths:
        return paths[head]
    return f"{resource_type}.{field}"
