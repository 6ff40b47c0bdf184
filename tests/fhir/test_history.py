"""read, vread and _history over the store: versions, ETags, and what a delete leaves."""

from __future__ import annotations

import datetime as dt
import email.utils
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import ClinicWorld
from tests.fhir.store_fixtures import delete, link, path_of, put

pytestmark = pytest.mark.asyncio

BASE = "http://127.0.0.1:8000/fhir"
PATIENT = uuid.uuid4()
T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)


def questionnaire(status: str) -> dict[str, Any]:
    return {"resourceType": "Questionnaire", "id": "example", "status": status,
            "url": "https://concord.invalid/q/example", "title": "Example"}


async def three_versions_then_deleted(engine: AsyncEngine, world: ClinicWorld) -> None:
    await put(engine, world.id, questionnaire("draft"), at=T0)
    await put(engine, world.id, questionnaire("active"), at=T0 + dt.timedelta(hours=1))
    await put(engine, world.id, questionnaire("retired"), at=T0 + dt.timedelta(hours=2))
    await delete(engine, world.id, "Questionnaire", "example", at=T0 + dt.timedelta(hours=3))


async def get(client: Any, world: ClinicWorld, path: str, who: str = "coordinator") -> Any:
    return await client.get(path, headers=world.auth(who))


class TestRead:
    async def test_read_serves_the_stored_resource_with_etag_and_last_modified(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        plan = {"resourceType": "CarePlan", "id": "example", "status": "active",
                "intent": "plan", "subject": {"reference": f"Patient/{PATIENT}"},
                "extension": [{"url": "https://ehr.example/x", "valueString": "kept"}]}
        await put(engine, world.id, plan, patient_id=PATIENT, at=T0)
        response = await get(client, world, "/fhir/CarePlan/example")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/fhir+json")
        assert response.headers["etag"] == 'W/"1"'
        assert email.utils.parsedate_to_datetime(response.headers["last-modified"]) == T0
        body = response.json()
        assert body["extension"] == plan["extension"]
        assert body["meta"] == {"versionId": "1", "lastUpdated": T0.isoformat()}

    async def test_unknown_another_clinic_and_unsupported(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld, other_world: ClinicWorld
    ) -> None:
        await put(engine, world.id, questionnaire("active"))
        assert (await get(client, other_world, "/fhir/Questionnaire/example")).status_code == 404
        missing = await get(client, world, "/fhir/Questionnaire/nope")
        assert missing.status_code == 404
        assert missing.json()["issue"][0]["code"] == "not-found"
        unsupported = await get(client, world, "/fhir/Basic/example")
        assert unsupported.status_code == 404
        assert unsupported.json()["issue"][0]["code"] == "not-supported"

    async def test_a_clinician_off_the_team_gets_404(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        await put(engine, world.id, {"resourceType": "Goal", "id": "g", "lifecycleStatus": "active",
                                     "description": {"text": "walk"},
                                     "subject": {"reference": f"Patient/{PATIENT}"}},
                  patient_id=PATIENT)
        assert (await get(client, world, "/fhir/Goal/g", "physician")).status_code == 404
        assert (await get(client, world, "/fhir/Goal/g/_history/1", "physician")
                ).status_code == 404
        assert (await get(client, world, "/fhir/Goal/g")).status_code == 200


class TestDeleted:
    async def test_read_is_gone_but_earlier_versions_stay_readable(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        await three_versions_then_deleted(engine, world)
        read = await get(client, world, "/fhir/Questionnaire/example")
        assert read.status_code == 410
        assert read.json()["resourceType"] == "OperationOutcome"
        first = await get(client, world, "/fhir/Questionnaire/example/_history/1")
        assert first.status_code == 200 and first.json()["status"] == "draft"
        assert first.headers["etag"] == 'W/"1"'
        assert (await get(client, world, "/fhir/Questionnaire/example/_history/4")
                ).status_code == 410
        assert (await get(client, world, "/fhir/Questionnaire/example/_history/5")
                ).status_code == 404
        assert (await get(client, world, "/fhir/Questionnaire/example/_history/x")
                ).status_code == 404


class TestInstanceHistory:
    async def test_newest_first_with_request_and_response(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        await three_versions_then_deleted(engine, world)
        response = await get(client, world, "/fhir/Questionnaire/example/_history")
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert bundle["type"] == "history" and bundle["total"] == 4
        entries = bundle["entry"]
        assert [e["request"] for e in entries] == [
            {"method": "DELETE", "url": "Questionnaire/example"},
            {"method": "PUT", "url": "Questionnaire/example"},
            {"method": "PUT", "url": "Questionnaire/example"},
            {"method": "POST", "url": "Questionnaire"},
        ]
        assert [e["response"]["etag"] for e in entries] == ['W/"4"', 'W/"3"', 'W/"2"', 'W/"1"']
        assert entries[3]["response"]["status"] == "201 Created"
        assert "resource" not in entries[0]
        assert [e["resource"]["status"] for e in entries[1:]] == ["retired", "active", "draft"]
        assert all(e["fullUrl"] == f"{BASE}/Questionnaire/example" for e in entries)
        assert entries[1]["response"]["lastModified"] == (T0 + dt.timedelta(hours=2)).isoformat()

    async def test_count_since_and_next_links(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        await three_versions_then_deleted(engine, world)
        page = (await get(client, world, "/fhir/Questionnaire/example/_history?_count=3")).json()
        seen = [e["response"]["etag"] for e in page["entry"]]
        following = link(page, "next")
        assert following is not None
        page = (await get(client, world, path_of(following))).json()
        seen += [e["response"]["etag"] for e in page["entry"]]
        assert seen == ['W/"4"', 'W/"3"', 'W/"2"', 'W/"1"'] and link(page, "next") is None
        since = (T0 + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        recent = (await get(client, world, f"/fhir/Questionnaire/example/_history?_since={since}"
                            )).json()
        assert [e["response"]["etag"] for e in recent["entry"]] == ['W/"4"', 'W/"3"', 'W/"2"']

    async def test_unknown_resource_and_bad_since(
        self, client: Any, world: ClinicWorld
    ) -> None:
        assert (await get(client, world, "/fhir/Goal/nope/_history")).status_code == 404
        bad = await get(client, world, "/fhir/Goal/_history?_since=last-week")
        assert bad.status_code == 400
        assert bad.json()["issue"][0]["expression"] == ["_since"]


class TestTypeHistory:
    async def test_every_version_of_the_type_in_the_clinic(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld, other_world: ClinicWorld
    ) -> None:
        # the clinic's shipped instruments are Questionnaires too
        shipped = (await get(client, world, "/fhir/Questionnaire/_history")).json()["total"]
        await three_versions_then_deleted(engine, world)
        await put(engine, world.id, {**questionnaire("active"), "id": "other"},
                  at=T0 + dt.timedelta(hours=4))
        await put(engine, other_world.id, {**questionnaire("active"), "id": "theirs"})
        bundle = (await get(client, world, f"/fhir/Questionnaire/_history?_since={T0.date()}"
                            "&_count=2")).json()
        assert bundle["total"] == shipped + 5
        seen = [(e["fullUrl"].rsplit("/", 1)[1], e["response"]["etag"]) for e in bundle["entry"]]
        while (following := link(bundle, "next")) is not None:
            bundle = (await get(client, world, path_of(following))).json()
            seen += [(e["fullUrl"].rsplit("/", 1)[1], e["response"]["etag"])
                     for e in bundle["entry"]]
        assert len(seen) == shipped + 5
        mine = [item for item in seen if item[0] in ("example", "other", "theirs")]
        assert mine == [("other", 'W/"1"'), ("example", 'W/"4"'), ("example", 'W/"3"'),
                        ("example", 'W/"2"'), ("example", 'W/"1"')]


class TestTypesWithTheirOwnRoutes:
    async def test_communication_history_and_vread_are_served_beside_its_own_search(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld
    ) -> None:
        message = {"resourceType": "Communication", "id": "c-1", "status": "completed",
                   "subject": {"reference": f"Patient/{PATIENT}"}}
        await put(engine, world.id, message, patient_id=PATIENT, at=T0)
        await put(engine, world.id, {**message, "status": "entered-in-error"}, patient_id=PATIENT)
        history = await get(client, world, "/fhir/Communication/c-1/_history")
        assert history.status_code == 200, history.text
        assert [e["resource"]["status"] for e in history.json()["entry"]] == [
            "entered-in-error", "completed"]
        first = await get(client, world, "/fhir/Communication/c-1/_history/1")
        assert first.status_code == 200 and first.json()["status"] == "completed"
        assert (await get(client, world, "/fhir/Communication/_history")).status_code == 200
