"""Checks on the shape of FHIR JSON that the mapping tests share."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class


def valid(resource: dict[str, Any]) -> Any:
    """The resource as fhir.resources' R4B model: raises if it is not valid R4."""
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def empty_elements(value: Any, path: str = "") -> list[str]:
    """Paths of empty strings, arrays and objects, which FHIR JSON never carries."""
    if value in ("", [], {}):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in empty_elements(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in empty_elements(v, f"{path}[{i}]")]
    return []
