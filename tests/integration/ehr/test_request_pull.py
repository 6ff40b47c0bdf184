"""MedicationRequests, which the second-Concord EHR does not serve, pulled from a stand-in
EHR over real HTTP: orders shaped like the R4 examples (a Medication on the server, a
search answered in two pages), recorded as statements; the next run asks only for what
changed since each type's watermark."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fhir.inbound.medication import RXNORM
from tests.factories import ClinicWorld, create_plan
from tests.integration.ehr.conftest import MRN, concord_key
from tests.integration.ehr.standin import Answer, Seen, bundle, outcome, serve
from workers.ehr_sync import pull_medications

pytestmark = pytest.mark.asyncio
EXAMPLES = Path(__file__).resolve().parents[2] / "unit" / "fhir" / "ehr_examples"


def example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return body


class OrderingEhr:
    """Serves one patient's orders: medrx0301 (its Medication contained, recoded in
    RxNorm) on the first page, medrx002 (its Medication on the server) on the second."""

    def __init__(self) -> None:
        first = example("MedicationRequest-medrx0301")
        first["contained"][0]["code"] = {"coding": [{
            "system": RXNORM, "code": "1049621",
            "display": "oxycodone hydrochloride 5 MG Oral Tablet"}]}
        first["status"] = "active"
        first["meta"] = {"versionId": "3", "lastUpdated": "2026-11-19T10:00:00Z"}
        second = example("MedicationRequest-medrx002")
        second["dosageInstruction"] = [{
            "text": "one tablet twice a day",
            "timing": {"code": {"coding": [{"code": "BID"}]}},
            "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "TAB"}}]}]
        second["meta"] = {"versionId": "1", "lastUpdated": "2026-11-20T09:30:00Z"}
        self.orders = [first, second]
        self.statement = {**example("MedicationStatement-example001"),
                          "meta": {"versionId": "1", "lastUpdated": "2026-11-18T08:00:00Z"}}
        self.base = ""

    def handle(self, seen: Seen) -> Answer:
        route = (seen.method, seen.path)
        if route == ("POST", "/auth/token"):
            return 200, {"access_token": "t", "token_type": "bearer", "expires_in": 300}, {}
        if route == ("GET", "/fhir/metadata"):
            return 200, {"resourceType": "CapabilityStatement", "rest": [{
                "mode": "server", "resource": [
                    {"type": t, "interaction": [{"code": "read"}, {"code": "search-type"}]}
                    for t in ("Patient", "MedicationStatement", "MedicationRequest",
                              "Medication")]}]}, {}
        if route == ("GET", "/fhir/Patient"):
            assert seen.query["identifier"] == [f"{MRN}|MRN-5001"]
            return 200, bundle([{"resourceType": "Patient", "id": "pat1"}]), {}
        if route == ("GET", "/fhir/MedicationStatement"):
            return 200, bundle([self.statement]), {}
        if route == ("GET", "/fhir/MedicationRequest"):
            assert seen.query["patient"] == ["pat1"]
            return 200, bundle(self.orders[:1], next_url=f"{self.base}/fhir/_page/2"), {}
        if route == ("GET", "/fhir/_page/2"):
            return 200, bundle(self.orders[1:]), {}
        if route == ("GET", "/fhir/Medication/med0316"):
            return 200, {"resourceType": "Medication", "id": "med0316", "code": {"coding": [
                {"system": RXNORM, "code": "1049621",
                 "display": "oxycodone hydrochloride 5 MG Oral Tablet"}]}}, {}
        return 404, outcome("not here", "not-found"), {}


async def test_orders_are_recorded_and_the_next_run_asks_for_changes_only(
        client: Any, world: ClinicWorld, engine: AsyncEngine) -> None:
    ehr = OrderingEhr()
    with serve(ehr.handle) as server:
        ehr.base = server.base
        created = await client.post("/api/v1/ehr-connections", headers=world.auth("admin"),
                                    json={"name": "Ordering EHR",
                                          "base_url": f"{server.base}/fhir",
                                          "token_url": f"{server.base}/auth/token",
                                          "client_id": "concord", "private_key": concord_key(),
                                          "identifier_system": MRN})
        connection_id = uuid.UUID(created.json()["id"])
        plan = await create_plan(client, world)
        patient = f"/api/v1/patients/{plan['patient_id']}"
        current = await client.get(patient, headers=world.auth("coordinator"))
        identified = await client.patch(
            patient, json={"identifiers": [{"system": MRN, "value": "MRN-5001"}]},
            headers={**world.auth("coordinator"), "If-Match": current.headers["etag"]})
        assert identified.status_code == 200, identified.text

        report = await pull_medications(engine, connection_id)
        assert report.error is None, report.error
        assert (report.counts.recorded, report.counts.skipped) == (2, 1)
        listed = await client.get(f"/api/v1/care-plans/{plan['id']}/medications",
                                  headers=world.auth("physician"))
        by_source = {m["source"]: m for m in listed.json()}
        prn = by_source[f"{server.base}/fhir/MedicationRequest/medrx0301"]
        assert (prn["dose_quantity"], prn["schedule"]["as_needed"],
                prn["schedule"]["max_per_day"]) == (2.0, True, 12.0)
        assert prn["status"] == "active" and prn["reported_by"] == "ehr"
        twice = by_source[f"{server.base}/fhir/MedicationRequest/medrx002"]
        assert (twice["dose_unit"], twice["schedule"]["count"]) == ("tablet", 2)
        state = (await client.get(f"/api/v1/ehr-connections/{connection_id}",
                                  headers=world.auth("admin"))).json()
        assert state["medications_watermark"].startswith("2026-11-20T09:30:00")
        assert [s["reason"] for s in state["skipped"]] == [
            "derived from MedicationRequest/medrx002, which is imported itself"]

        before = len(server.seen)
        again = await pull_medications(engine, connection_id)
        assert again.error is None and again.counts.recorded == 0
        searches = {s.path: s.query for s in server.seen[before:]
                    if s.path in ("/fhir/MedicationRequest", "/fhir/MedicationStatement")}
        assert searches["/fhir/MedicationRequest"]["_lastUpdated"] == [
            "ge2026-11-20T09:30:00+00:00"]
        assert searches["/fhir/MedicationStatement"]["_lastUpdated"] == [
            "ge2026-11-18T08:00:00+00:00"]
        # the patient was found once, and is remembered
        assert not [s for s in server.seen[before:] if s.path == "/fhir/Patient"]
