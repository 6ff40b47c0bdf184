"""Checks on a resource a client sends, before anything is written: it must be a valid
R4 resource (fhir.resources' models) whose references point at something."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pydantic

from fhir.resources.R4B import get_fhir_model_class
from fhir.writes.errors import BadResource, UnknownReference
from service.db.uow import UnitOfWork

# Types whose references are checked: the ones this server stores. A reference to a
# type it does not hold (Condition, Encounter, Organization...) is the EHR's to keep.
CHECKED_REFERENCES = frozenset({
    "Patient", "Practitioner", "CareTeam", "CarePlan", "Goal", "MedicationStatement",
    "Questionnaire", "QuestionnaireResponse", "Communication", "Task", "ServiceRequest",
})


def _path(resource_type: str, location: tuple[int | str, ...]) -> str:
    path = resource_type
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("__root__",) or part.startswith("function-"):
            continue
        else:
            path += f".{part}"
    return path


def _nul_at(value: Any, path: str) -> str | None:
    """The path of a string holding a NUL character: PostgreSQL's JSON cannot keep one."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_at(key, path) or _nul_at(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{path}[{index}]")
            if found:
                return found
    return None


def validate(resource_type: str, body: Any) -> dict[str, Any]:
    """The body as a valid `resource_type`, else BadResource naming the first problem."""
    if not isinstance(body, dict):
        raise BadResource("the body must be a JSON object: a FHIR resource")
    found = body.get("resourceType")
    if found != resource_type:
        raise BadResource(f"expected a {resource_type}, got {found!r}", "resourceType")
    try:
        model = get_fhir_model_class(resource_type)
    except KeyError:
        raise BadResource(f"{resource_type} is not a FHIR resource type", "resourceType") \
            from None
    nul = _nul_at(body, resource_type)
    if nul is not None:
        raise BadResource("a string must not contain the NUL character", nul)
    try:
        model.model_validate(body)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        raise BadResource(
            f"{first['msg']}", _path(resource_type, tuple(first.get("loc", ())))
        ) from None
    except (ValueError, TypeError) as exc:
        raise BadResource(str(exc), resource_type) from None
    return body


def references(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every (FHIRPath, reference string) in `value`."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            yield path, ref
        for key, item in value.items():
            if key != "reference" or isinstance(item, dict):  # activity.reference is one
                yield from references(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from references(item, f"{path}[{index}]")


def local_reference(ref: str, base: str) -> tuple[str, str] | None:
    """(type, id) when `ref` names a resource on this server; None otherwise."""
    relative = ref.removeprefix(f"{base}/")
    if "://" in relative or relative.startswith(("#", "urn:")):
        return None
    parts = relative.split("/")
    if len(parts) not in (2, 4) or (len(parts) == 4 and parts[2] != "_history"):
        return None
    return parts[0], parts[1]


async def check_references(
    uow: UnitOfWork, clinic_id: uuid.UUID, resource: dict[str, Any], base: str,
    *, prefix: str | None = None,
) -> None:
    """Every reference to a type this server stores must name a resource that exists,
    in this clinic, and is not deleted."""
    root = prefix or resource["resourceType"]
    for path, ref in references({k: v for k, v in resource.items() if k != "contained"}, root):
        if ref.startswith("urn:uuid:"):
            raise UnknownReference(f"{ref} does not name an entry of this transaction", path)
        local = local_reference(ref, base)
        if local is None or local[0] not in CHECKED_REFERENCES:
            continue
        found = await uow.store.current(clinic_id, local[0], local[1])
        if found is None or found.deleted:
            raise UnknownReference(f"{ref} does not exist here", f"{path}.reference")
