"""Resources written straight into the FHIR store, as the projection or a FHIR write
would leave them, for the read side's tests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from fhir.store.repository import Stored
from service.db.uow import unit_of_work


async def put(
    engine: AsyncEngine, clinic_id: uuid.UUID, resource: dict[str, Any], *,
    patient_id: uuid.UUID | None = None, at: dt.datetime | None = None,
) -> Stored:
    """Store `resource` as its next version (its first if new), written at `at`."""
    async with unit_of_work(engine) as uow:
        previous = await uow.store.current(clinic_id, resource["resourceType"], resource["id"],
                                           for_update=True)
        return await uow.store.put(clinic_id, resource, now=at or dt.datetime.now(dt.UTC),
                                   patient_id=patient_id, previous=previous)


async def delete(
    engine: AsyncEngine, clinic_id: uuid.UUID, resource_type: str, resource_id: str,
    at: dt.datetime | None = None,
) -> Stored:
    async with unit_of_work(engine) as uow:
        previous = await uow.store.current(clinic_id, resource_type, resource_id,
                                           for_update=True)
        assert previous is not None
        return await uow.store.delete(clinic_id, previous, at or dt.datetime.now(dt.UTC))


def ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    """The ids of a searchset's entries of `mode`, in order."""
    return [e["resource"]["id"] for e in bundle.get("entry", [])
            if e.get("search", {}).get("mode", "match") == mode]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    for item in bundle.get("link", []):
        if item["relation"] == relation:
            return str(item["url"])
    return None


def path_of(url: str) -> str:
    """A link's path and query, to follow it with the test client."""
    return url[url.index("/fhir/"):]
