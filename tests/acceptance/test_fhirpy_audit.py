"""The audit trail over FHIR (AuditEvent read and search). The clinic's admin reads it with
a staff token; a system reads it only if its scopes cover AuditEvent (system/*.cruds
does; system/CarePlan.rs does not) and it acts as a coordinator, which registered
systems do. A clinician may not read it."""

from __future__ import annotations

import datetime as dt

import pytest
from fhirpy.base.exceptions import ForbiddenError

from tests.acceptance.bench import Bench
from tests.acceptance.integrator import connect, plain
from tests.smart.support import KeyPair

pytestmark = pytest.mark.asyncio


async def test_the_admin_sees_what_the_ehr_did_to_a_patient(bench: Bench) -> None:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    patient = await bench.patient()
    read = await bench.read("Patient", patient)
    await bench.update(read, key="birthDate", value="1961-04-03")
    admin = bench.it.staff_fhir("admin")
    trail = admin.resources("AuditEvent").search(patient=f"Patient/{patient}")
    events = [plain(e) for e in await trail.fetch_all()]
    assert {e["action"] for e in events} >= {"C", "R", "U"}
    for event in events:
        assert event["type"]["code"] == "rest"
        assert event["agent"][0]["who"] == {"reference": f"Practitioner/{bench.it.staff_id}"}
        assert {"reference": f"Patient/{patient}"} in [e.get("what") for e in event["entity"]]
    updates = [plain(e) for e in await trail.search(subtype="update").fetch_all()]
    assert [e["action"] for e in updates] == ["U"]
    recent = await trail.search(date__ge=started).fetch_all()
    assert len(recent) == len(events)
    assert await trail.search(date__lt=started).fetch_all() == []
    one = await admin.reference("AuditEvent", events[0]["id"]).to_resource()
    assert plain(one) == events[0]
    system = await admin.resources("AuditEvent").search(
        agent=f"Practitioner/{bench.it.staff_id}").fetch_all()
    assert {str(e.id) for e in system} >= {e["id"] for e in events}


async def test_a_clinician_may_not_read_the_trail(bench: Bench) -> None:
    physician = bench.it.staff_fhir("physician")
    with pytest.raises(ForbiddenError):
        await physician.resources("AuditEvent").fetch()


async def test_a_system_reads_the_trail_only_with_a_scope_for_it(bench: Bench,
                                                                 ehr_keys: KeyPair) -> None:
    patient = await bench.patient()
    assert await bench.it.fhir.resources("AuditEvent").search(
        patient=f"Patient/{patient}").fetch_all()
    async with connect(bench.it.server, bench.it.world, ehr_keys,
                       scopes="system/CarePlan.rs system/Patient.rs") as narrow:
        assert await narrow.fhir.resources("Patient").search(_id=patient).fetch()
        with pytest.raises(ForbiddenError):
            await narrow.fhir.resources("AuditEvent").fetch()
