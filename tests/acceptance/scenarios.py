"""One scenario per (resource type, interaction) the CapabilityStatement can list: what an
integrator does with fhirpy to use that interaction, and what it must see. The table
SCENARIOS is checked against the statement the server serves: anything listed without a
scenario fails (tests/acceptance/test_fhirpy_capability.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fhirpy.base.exceptions import MultipleResourcesFound, OperationOutcome, ResourceNotFound

from fhir.mapping import extensions as ext
from tests.acceptance import samples
from tests.acceptance.bench import CHANGES, Bench
from tests.acceptance.integrator import FHIR_JSON, outcome_of, plain

Scenario = Callable[[Bench, str], Awaitable[None]]


# -- what the answers share ------------------------------------------------------------


async def pages(bench: Bench, path: str, params: dict[str, Any] | None = None
                ) -> list[dict[str, Any]]:
    """Every entry of a paged Bundle, following its `next` links as served."""
    bundle = await bench.it.fhir.execute(path, method="get", params=params)
    entries: list[dict[str, Any]] = []
    while True:
        assert bundle["resourceType"] == "Bundle"
        entries += plain(bundle.get("entry", []))
        following = [link["url"] for link in bundle.get("link", [])
                     if link["relation"] == "next"]
        if not following:
            return entries
        bundle = await bench.it.fhir.execute(following[0], method="get")


def etag(resource: dict[str, Any]) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


def issue_of(outcome: dict[str, Any]) -> dict[str, Any]:
    assert outcome["resourceType"] == "OperationOutcome", outcome
    issue: dict[str, Any] = outcome["issue"][0]
    return issue


# -- the read side, any type -------------------------------------------------------------


async def read(bench: Bench, resource_type: str) -> None:
    """GET [type]/[id]: the resource as it was served when made, its ETag the version."""
    made = await bench.made(resource_type)
    assert await bench.read(resource_type, made["id"]) == made
    raw = await bench.it.http.get(f"{resource_type}/{made['id']}")
    assert raw.status_code == 200, raw.text
    assert raw.headers["content-type"].startswith(FHIR_JSON)
    assert raw.headers["etag"] == etag(made)
    assert "last-modified" in raw.headers


async def _versions(bench: Bench, resource_type: str) -> list[dict[str, Any]]:
    """The resource's versions, oldest first: two where the type may be updated."""
    first = await bench.made(resource_type)
    if not bench.listed(resource_type, "update"):
        return [first]
    return [first, await bench.update(first)]


async def vread(bench: Bench, resource_type: str) -> None:
    """GET [type]/[id]/_history/[vid]: each version as it was, after later ones."""
    versions = await _versions(bench, resource_type)
    resource_id = versions[0]["id"]
    for version in versions:
        got = await bench.it.fhir.execute(
            f"{resource_type}/{resource_id}/_history/{version['meta']['versionId']}",
            method="get")
        assert plain(got) == version
    missing = await bench.it.http.get(f"{resource_type}/{resource_id}/_history/99")
    assert missing.status_code == 404
    assert issue_of(missing.json())["code"] == "not-found"


async def history_instance(bench: Bench, resource_type: str) -> None:
    """GET [type]/[id]/_history: every version, newest first, with how it was made."""
    versions = await _versions(bench, resource_type)
    resource_id = versions[0]["id"]
    bundle = await bench.it.fhir.execute(f"{resource_type}/{resource_id}/_history",
                                         method="get")
    assert bundle["type"] == "history"
    assert bundle["total"] == len(versions)
    entries = plain(bundle["entry"])
    assert [e["resource"] for e in entries] == versions[::-1]
    assert entries[-1]["request"] == {"method": "POST", "url": resource_type}
    for entry in entries[:-1]:
        assert entry["request"] == {"method": "PUT", "url": f"{resource_type}/{resource_id}"}
    assert [e["response"]["etag"] for e in entries] == [etag(v) for v in versions[::-1]]


async def history_type(bench: Bench, resource_type: str) -> None:
    """GET [type]/_history: the type's changes in this clinic, paged, this one's among
    them."""
    versions = await _versions(bench, resource_type)
    entries = await pages(bench, f"{resource_type}/_history", {"_count": 2})
    url = f"{bench.it.base}/{resource_type}/{versions[0]['id']}"
    mine = [e for e in entries if e["fullUrl"] == url]
    assert [e["response"]["etag"] for e in mine] == [etag(v) for v in versions[::-1]]
    assert all(e["fullUrl"].startswith(f"{bench.it.base}/{resource_type}/") for e in entries)


async def search_type(bench: Bench, resource_type: str) -> None:
    """GET [type]?_id=: a searchset of exactly that resource."""
    made = await bench.made(resource_type)
    search = bench.it.fhir.resources(resource_type).search(_id=made["id"])
    assert [plain(r) for r in await search.fetch_all()] == [made]
    bundle = plain(await search.fetch_raw())
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    [entry] = bundle["entry"]
    assert entry["fullUrl"] == f"{bench.it.base}/{resource_type}/{made['id']}"
    assert entry["search"] == {"mode": "match"}
    assert await search.count() == 1


# -- the write side --------------------------------------------------------------------


_SERVER_SET = {"Subscription": {"status"}}
"""Elements the server decides (a Subscription asked as `requested` is `active`)."""


async def create(bench: Bench, resource_type: str) -> None:
    """POST [type]: an id and version 1 assigned, everything sent kept."""
    body = await bench.body(resource_type)
    created = plain(await bench.it.fhir.resource(resource_type, **body).save())
    assert created["id"] and created["meta"]["versionId"] == "1"
    for key, value in body.items():
        if key not in _SERVER_SET.get(resource_type, set()):
            assert created[key] == value, key
    assert await bench.read(resource_type, created["id"]) == created


async def update(bench: Bench, resource_type: str) -> None:
    """PUT [type]/[id] with If-Match: the next version; a stale If-Match is 412 and
    changes nothing. fhirpy's save() sends no If-Match: the client sends it for it
    (extra_headers)."""
    made = await bench.made(resource_type)
    key, value = CHANGES[resource_type]
    updated = await bench.update(made)
    assert updated["meta"]["versionId"] == str(int(made["meta"]["versionId"]) + 1)
    assert updated[key] == value
    assert await bench.read(resource_type, made["id"]) == updated

    stale = bench.it.fhirpy(**{"If-Match": etag(made)})
    with pytest.raises(MultipleResourcesFound) as refused:  # fhirpy's name for any 412
        await stale.resource(resource_type, **made).save()
    issue = issue_of(outcome_of(refused.value))
    assert issue["code"] == "conflict" and issue["expression"] == ["meta.versionId"]
    assert await bench.read(resource_type, made["id"]) == updated


async def delete(bench: Bench, resource_type: str) -> None:
    """DELETE [type]/[id]: then read is 410 Gone, search misses it, history ends with
    the delete, and deleting again changes nothing."""
    made = await bench.create(resource_type)
    await bench.it.fhir.delete(resource_type, made["id"])
    with pytest.raises(ResourceNotFound):
        await bench.it.fhir.reference(resource_type, made["id"]).to_resource()
    gone = await bench.it.http.get(f"{resource_type}/{made['id']}")
    assert gone.status_code == 410, gone.text
    assert issue_of(gone.json())["code"] == "deleted"
    assert await bench.it.fhir.resources(resource_type).search(_id=made["id"]).fetch() == []
    history = await bench.it.fhir.execute(f"{resource_type}/{made['id']}/_history",
                                          method="get")
    newest = plain(history["entry"][0])
    assert newest["request"] == {"method": "DELETE", "url": f"{resource_type}/{made['id']}"}
    assert "resource" not in newest
    again = await bench.it.http.delete(f"{resource_type}/{made['id']}")
    assert again.status_code in (200, 204), again.text
    after = await bench.it.fhir.execute(f"{resource_type}/{made['id']}/_history",
                                        method="get")
    assert after["total"] == history["total"] == 2


async def delete_refused(bench: Bench, resource_type: str) -> None:
    """A type the statement lists without delete: DELETE is refused (405) and the
    resource stays."""
    made = await bench.made(resource_type)
    with pytest.raises(OperationOutcome) as refused:
        await bench.it.fhir.delete(resource_type, made["id"])
    assert issue_of(outcome_of(refused.value))["code"] == "not-supported"
    raw = await bench.it.http.delete(f"{resource_type}/{made['id']}")
    assert raw.status_code == 405, raw.text
    assert await bench.read(resource_type, made["id"]) == made


# -- types computed from the plan -------------------------------------------------------


async def read_mme_observation(bench: Bench, resource_type: str) -> None:
    """Observation/mme-{plan}: the plan's total MME/day, computed on read (no version)."""
    ids = await bench.taper()
    observation = await bench.read("Observation", f"mme-{ids.plan}")
    assert observation["status"] == "final"
    assert observation["subject"] == {"reference": f"Patient/{ids.patient}"}
    assert observation["basedOn"] == [{"reference": f"CarePlan/{ids.plan}"}]
    assert observation["valueQuantity"]["code"] == "{MME}/d"
    assert observation["valueQuantity"]["value"] == pytest.approx(120)


async def search_detected_issues(bench: Bench, resource_type: str) -> None:
    """DetectedIssue?implicated=CarePlan/{id}: the taper's unacknowledged guardrails."""
    ids = await bench.taper()
    found = [plain(r) for r in await bench.it.fhir.resources("DetectedIssue").search(
        implicated=f"CarePlan/{ids.plan}").fetch_all()]
    assert found, "a too-fast, abrupt taper with no shared decision is a detected issue"
    assert all(r["implicated"] == [{"reference": f"CarePlan/{ids.plan}"}] for r in found)
    assert {r["severity"] for r in found} >= {"high"}


async def read_detected_issue(bench: Bench, resource_type: str) -> None:
    ids = await bench.taper()
    found = await bench.it.fhir.resources("DetectedIssue").search(
        implicated=f"CarePlan/{ids.plan}").fetch_all()
    for issue in found:
        assert await bench.read("DetectedIssue", str(issue.id)) == plain(issue)


# -- the audit trail -------------------------------------------------------------------


async def _audited_read(bench: Bench) -> tuple[str, list[dict[str, Any]]]:
    """The system reads a patient; the trail shows who read what."""
    patient = await bench.patient()
    await bench.read("Patient", patient)
    events = [plain(e) for e in await bench.it.fhir.resources("AuditEvent").search(
        patient=f"Patient/{patient}", subtype="read").fetch_all()]
    return patient, events


async def search_audit_events(bench: Bench, resource_type: str) -> None:
    """AuditEvent?patient=&subtype=read: the system's own read is there, naming the
    system as the agent. (The system acts as a coordinator-role staff row, which may
    read the trail; its system/*.cruds scope covers AuditEvent.)"""
    patient, events = await _audited_read(bench)
    assert events, "reading a patient leaves an AuditEvent"
    event = events[0]
    assert event["action"] == "R"
    assert {"reference": f"Patient/{patient}"} in [e.get("what") for e in event["entity"]]
    assert event["agent"][0]["who"]["reference"] == f"Practitioner/{bench.it.staff_id}"
    admin = bench.it.staff_fhir("admin")
    seen_by_admin = [plain(e) for e in await admin.resources("AuditEvent").search(
        patient=f"Patient/{patient}", subtype="read").fetch_all()]
    assert event in seen_by_admin


async def read_audit_event(bench: Bench, resource_type: str) -> None:
    _, events = await _audited_read(bench)
    assert await bench.read("AuditEvent", events[0]["id"]) == events[0]
    admin = bench.it.staff_fhir("admin")
    assert plain(await admin.reference("AuditEvent", events[0]["id"]).to_resource()) \
        == events[0]


# -- operations and the system level ----------------------------------------------------


async def everything(bench: Bench, resource_type: str) -> None:
    """Patient/{id}/$everything, two at a time: the patient, their plan, team and goal,
    and the practitioners on the team."""
    ids = await bench.plan()
    entries = await pages(bench, f"Patient/{ids.patient}/$everything", {"_count": 2})
    found = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in entries}
    world = bench.it.world
    assert found >= {
        ("Patient", ids.patient), ("CarePlan", ids.plan), ("CareTeam", ids.team),
        ("Goal", ids.goal), ("Practitioner", str(world.staff["physician"].id)),
        ("Practitioner", str(world.staff["physical_therapist"].id)),
    }
    assert len(entries) == len(found), "no resource twice across pages"
    assert entries[0]["resource"]["id"] == ids.patient


async def transaction(bench: Bench, resource_type: str) -> None:
    """POST [base] a transaction with a patient's whole plan: every entry created,
    urn:uuid references rewritten to the ids assigned, and each reference resolves
    (fhirpy's to_resource), down to the clinic's practitioners."""
    world = bench.it.world
    response = plain(await bench.it.fhir.execute(
        "", method="post", data=samples.plan_transaction(world, samples.mrn())))
    assert response["type"] == "transaction-response"
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created"] * 4
    by_type = {e["resource"]["resourceType"]: e for e in response["entry"]}
    for resource_type_, entry in by_type.items():
        resource = entry["resource"]
        assert entry["fullUrl"] == f"{bench.it.base}/{resource_type_}/{resource['id']}"
        assert entry["response"]["location"] == (
            f"{bench.it.base}/{resource_type_}/{resource['id']}/_history/"
            f"{resource['meta']['versionId']}")
    plan = await bench.it.fhir.reference(
        "CarePlan", by_type["CarePlan"]["resource"]["id"]).to_resource()
    assert plan["status"] == "active"
    patient = await plan["subject"].to_resource()
    assert patient["id"] == by_type["Patient"]["resource"]["id"]
    [team_ref] = plan["careTeam"]
    team = await team_ref.to_resource()
    members = [await p["member"].to_resource() for p in team["participant"]]
    # the patient on the team, as the MCC eCare Plan IG has it, and the clinicians
    assert {(m["resourceType"], m["id"]) for m in members} == {
        ("Patient", patient["id"]),
        ("Practitioner", str(world.staff["physician"].id)),
        ("Practitioner", str(world.staff["physical_therapist"].id))}
    [goal_ref] = plan["goal"]
    goal = await goal_ref.to_resource()
    assert goal["extension"] == [{"url": ext.OWNING_DISCIPLINE,
                                  "valueCode": "physical_therapist"}]
    assert goal.serialize()["subject"] == {"reference": f"Patient/{patient['id']}"}


async def batch(bench: Bench, resource_type: str) -> None:
    """POST [base] a batch: each entry on its own; the bad one answers with its
    OperationOutcome and the good ones are written."""
    ids = await bench.plan()
    nameless = samples.patient(samples.mrn())
    nameless["name"] = [{"family": "Nobody"}]
    good = samples.patient(samples.mrn(), family="Okafor", given="Ngozi")
    response = await bench.it.fhir.execute("", method="post", data={
        "resourceType": "Bundle", "type": "batch", "entry": [
            {"resource": good, "request": {"method": "POST", "url": "Patient"}},
            {"resource": nameless, "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "GET", "url": f"CarePlan/{ids.plan}"}},
        ]})
    assert response["type"] == "batch-response"
    first, second, third = plain(response["entry"])
    assert first["response"]["status"].startswith("201")
    assert second["response"]["status"].startswith("4")
    assert issue_of(second["response"]["outcome"])["expression"] == [
        "Bundle.entry[1].resource.name[0].given"]
    assert third["response"]["status"].startswith("200")
    assert third["resource"]["id"] == ids.plan
    written = await bench.it.fhir.resources("Patient").search(
        identifier=f"{samples.MRN}|{good['identifier'][0]['value']}").fetch_all()
    assert len(written) == 1
    assert await bench.it.fhir.resources("Patient").search(
        identifier=f"{samples.MRN}|{nameless['identifier'][0]['value']}").fetch_all() == []


# -- the table -----------------------------------------------------------------------------

READS = ("read", "vread", "history-instance", "history-type", "search-type")
_GENERIC: dict[str, Scenario] = {
    "read": read, "vread": vread, "history-instance": history_instance,
    "history-type": history_type, "search-type": search_type, "create": create,
    "update": update, "delete": delete,
}


def _generic(resource_type: str, *interactions: str) -> dict[tuple[str, str], Scenario]:
    return {(resource_type, i): _GENERIC[i] for i in interactions}


SYSTEM = "(system)"
SCENARIOS: dict[tuple[str, str], Scenario] = {
    **_generic("Patient", *READS, "create", "update"),
    **_generic("Practitioner", *READS),
    **_generic("CarePlan", *READS, "create", "update"),
    **_generic("CareTeam", *READS, "create", "update", "delete"),
    **_generic("Goal", *READS, "create", "update", "delete"),
    **_generic("MedicationStatement", *READS, "create", "update"),
    **_generic("Communication", *READS),
    **_generic("Questionnaire", *READS, "create", "update", "delete"),
    **_generic("QuestionnaireResponse", *READS, "create", "update"),
    **_generic("ServiceRequest", *READS, "create", "update", "delete"),
    **_generic("Subscription", *READS, "create", "update", "delete"),
    **_generic("Task", *READS, "create", "update", "delete"),
    ("Observation", "read"): read_mme_observation,
    ("DetectedIssue", "read"): read_detected_issue,
    ("DetectedIssue", "search-type"): search_detected_issues,
    ("AuditEvent", "read"): read_audit_event,
    ("AuditEvent", "search-type"): search_audit_events,
    ("Patient", "$everything"): everything,
    (SYSTEM, "transaction"): transaction,
    (SYSTEM, "batch"): batch,
}

NOT_LISTED: dict[tuple[str, str], Scenario] = {
    (resource_type, "delete"): delete_refused
    for resource_type in ("Patient", "CarePlan", "MedicationStatement",
                          "QuestionnaireResponse")
}
"""Interactions the statement leaves out for a writable type: the server refuses them."""


def listed_interactions(statement: dict[str, Any]) -> set[tuple[str, str]]:
    """(type, interaction code or $operation) for each resource; (SYSTEM, code) for the
    whole-system interactions."""
    rest = statement["rest"][0]
    found = {(SYSTEM, i["code"]) for i in rest.get("interaction", [])}
    for resource in rest["resource"]:
        found |= {(resource["type"], i["code"]) for i in resource["interaction"]}
        found |= {(resource["type"], f"${o['name']}") for o in resource.get("operation", [])}
    return found
