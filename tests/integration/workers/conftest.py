"""Fixtures the worker tests share."""

from __future__ import annotations

import uuid
from typing import Any

import pytest_asyncio

from tests.factories import PATIENT, ClinicWorld


@pytest_asyncio.fixture
async def patient_id(client: Any, world: ClinicWorld) -> uuid.UUID:
    """A patient of `world`, created over the API, to address messages to."""
    response = await client.post("/api/v1/patients", json=PATIENT,
                                 headers=world.auth("coordinator"))
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])
