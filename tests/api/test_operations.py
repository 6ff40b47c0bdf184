"""Health, metrics, request ids and what the logs may not contain."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.factories import ClinicWorld, create_plan

pytestmark = pytest.mark.asyncio


async def test_health_checks_postgres_and_redis(client: Any) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}


async def test_metrics_are_prometheus_text(client: Any, world: ClinicWorld) -> None:
    await client.get("/api/v1/staff", headers=world.auth("admin"))
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'litestar_requests_total{app_name="concord"' in metrics.text


async def test_request_id_is_echoed_and_problems_carry_it(client: Any) -> None:
    response = await client.get("/api/v1/patients", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["request_id"] == "abc-123"


async def test_logs_carry_request_ids_and_no_patient_data(
    client: Any, world: ClinicWorld, caplog: pytest.LogCaptureFixture
) -> None:
    plan = await create_plan(client, world)
    await client.get(
        f"/api/v1/care-plans/{plan['id']}?family_name=Delgado",
        headers={**world.auth("physician"), "X-Request-ID": "log-check-1"},
    )
    await client.post(
        "/api/v1/patients",
        headers=world.auth("coordinator"),
        json={
            "given_name": "Rosa",
            "family_name": "Delgado",
            "birth_date": "1968-04-12",
            "time_zone": "Nowhere/Rosa Delgado",
        },
    )
    formatter = logging.getLogger().handlers[0].formatter
    assert formatter is not None
    err = "\n".join(formatter.format(record) for record in caplog.records)
    assert '"request_id": "log-check-1"' in err
    for phi in ("Rosa", "Delgado", "1968-04-12", "rosa@example.org", "granddaughter"):
        assert phi not in err
