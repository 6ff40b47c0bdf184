"""The /fhir router: every FHIR handler, with OperationOutcome for every error."""

from __future__ import annotations

from litestar import Router
from litestar.exceptions import HTTPException

from domain.errors import DomainError
from fhir.api import reads, routes, writes
from fhir.api.http import fhir_error
from fhir.api.routes import _domain_error, _http_error
from fhir.writes.errors import FhirError

fhir_router = Router(
    path="/fhir",
    route_handlers=[*routes.HANDLERS, *writes.HANDLERS, *reads.HANDLERS],
    exception_handlers={
        DomainError: _domain_error, HTTPException: _http_error, FhirError: fhir_error,
    },
    tags=["fhir"],
)
