"""Failures of a FHIR write that are not the domain's: the resource itself is wrong."""

from __future__ import annotations


class FhirError(Exception):
    """A failure with its HTTP status, OperationOutcome issue code and FHIRPath."""

    status = 400
    code = "invalid"

    def __init__(self, detail: str, expression: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.expression = expression


class BadResource(FhirError):
    """Not a valid R4 resource, the wrong type, or an id that does not match the URL."""


class UnknownReference(FhirError):
    """A reference to a resource this server should have and does not."""

    status = 422
    code = "processing"


class NotSupported(FhirError):
    """An interaction this server does not offer for this resource."""

    status = 405
    code = "not-supported"


class Gone(FhirError):
    status = 410
    code = "deleted"


class PreconditionFailed(FhirError):
    status = 412
    code = "conflict"


class UnsupportedMediaType(FhirError):
    status = 415
    code = "not-supported"


class Conflict(FhirError):
    status = 409
    code = "conflict"
