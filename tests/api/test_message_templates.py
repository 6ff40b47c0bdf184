"""A clinic's own wording of patient messages, checked before it is saved."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import ClinicWorld

pytestmark = pytest.mark.asyncio
URL = "/api/v1/message-templates/check-in/en"


async def test_a_stigmatizing_term_is_refused_naming_it_and_its_alternative(
        client: Any, world: ClinicWorld) -> None:
    response = await client.put(URL, headers=world.auth("coordinator"), json={
        "subject": "Checking in",
        "body_text": "Hi {first_name}, we know addicts find this hard. Tell us: {url}"})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "body_text"
    assert '"addicts"' in error["reason"]
    assert "person with a substance use disorder" in error["reason"]
    listed = await client.get("/api/v1/message-templates", headers=world.auth("coordinator"))
    assert listed.json() == []


async def test_placeholders_and_the_link_are_checked(client: Any, world: ClinicWorld) -> None:
    missing_link = await client.put(URL, headers=world.auth("coordinator"), json={
        "subject": "Hello", "body_text": "Hi {first_name}, how are you?"})
    assert missing_link.status_code == 422
    assert "{url}" in missing_link.json()["errors"][0]["reason"]
    unknown = await client.put(URL, headers=world.auth("coordinator"), json={
        "subject": "Hello {last_name}", "body_text": "Hi: {url}"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "subject"


async def test_saved_then_replaced_with_if_match(client: Any, world: ClinicWorld) -> None:
    coordinator = world.auth("coordinator")
    body = {"subject": "How are we doing, {first_name}?",
            "body_text": "Two minutes about your work with {clinician}: {url}"}
    created = await client.put(URL, headers=coordinator, json=body)
    assert created.status_code == 201, created.text
    no_match = await client.put(URL, headers=coordinator, json=body)
    assert no_match.status_code == 428
    replaced = await client.put(URL, json={**body, "subject": "A quick check-in"},
                                headers={**coordinator, "If-Match": created.headers["etag"]})
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    clinician = await client.put(URL, headers=world.auth("physician"), json=body)
    assert clinician.status_code == 403
