"""`uv run python -m service dev`, as the README tells a new user to run it: what it
prints, the demo clinic it seeds, the CLI next to it, both `fhir` packages, its logs, and
its data across restarts. Over HTTP and the CLI only."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.devserver import DevServer, last_line_token, start_dev

CLINICAL = {"physician", "physical_therapist", "psychologist", "acupuncturist"}
DEMO_MRN = "urn:concord:demo:mrn"


def all_items(
    client: httpx.Client, path: str, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Every item of a paged list, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, headers=headers, params=query)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        page = response.json()
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def demo_patients(client: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The seeded patients (they carry a demo MRN), not those other tests create."""
    return [
        p
        for p in all_items(client, "/api/v1/patients", headers, limit=100)
        if any(i["system"] == DEMO_MRN for i in p["identifiers"])
    ]


def staff_by_id(client: httpx.Client, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in all_items(client, "/api/v1/staff", headers)}


def access_line(server: DevServer, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The access-log line the dev process wrote for the request with this X-Request-ID."""
    deadline = time.monotonic() + timeout
    while True:
        for line in server.stderr().splitlines():
            if request_id in line:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("event") == "request" and record.get("request_id") == request_id:
                    return dict(record)
        if time.monotonic() > deadline:
            raise AssertionError(f"no access-log line with request_id {request_id!r} on stderr")
        time.sleep(0.1)


@pytest.fixture
def api(dev: DevServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dev.base_url, timeout=30.0) as client:
        yield client


# -- what it prints ---------------------------------------------------------------------


def test_prints_its_urls_and_a_working_admin_token(dev: DevServer, api: httpx.Client) -> None:
    out = dev.stdout()
    assert dev.base_url in out
    openapi_url = f"{dev.base_url}/schema/openapi.json"
    assert openapi_url in out
    assert re.search(r"^Demo admin token: \S+$", out, re.MULTILINE)

    schema = api.get("/schema/openapi.json")
    assert schema.status_code == 200, schema.text
    assert "json" in schema.headers["content-type"]  # application/vnd.oai.openapi+json
    paths = schema.json()["paths"]
    assert "/api/v1/care-plans" in paths, sorted(paths)

    assert api.get("/api/v1/staff").status_code == 401
    staff = api.get("/api/v1/staff", headers=dev.auth())
    assert staff.status_code == 200, staff.text
    assert staff.json()["items"]


# -- the demo clinic ----------------------------------------------------------------------


def test_demo_clinic_has_the_four_disciplines_and_active_shared_plans(
    dev: DevServer, api: httpx.Client
) -> None:
    headers = dev.auth()
    staff = list(staff_by_id(api, headers).values())
    clinicians = [s for s in staff if s["role"] == "clinician"]
    assert Counter(s["discipline"] for s in clinicians) == Counter(CLINICAL), clinicians
    assert [s["role"] for s in staff].count("coordinator") == 1, staff
    assert [s["role"] for s in staff].count("admin") == 1, staff
    assert all(s["active"] for s in staff)

    # The slug is `demo`: a token the CLI issues for `--clinic demo` sees the same clinic.
    other = last_line_token(dev.cli("token", "--clinic", "demo", "--role", "coordinator"))
    assert {s["id"] for s in all_items(api, "/api/v1/staff", dev.auth(other))} == {
        s["id"] for s in staff
    }

    patients = demo_patients(api, headers)
    assert len(patients) >= 5, patients
    for patient in patients:
        plans = all_items(api, "/api/v1/care-plans", headers, patient_id=patient["id"])
        active = [p for p in plans if p["status"] == "active"]
        assert active, f"patient {patient['id']} has no active care plan: {plans}"
        response = api.get(f"/api/v1/care-plans/{active[0]['id']}", headers=headers)
        assert response.status_code == 200, response.text
        plan = response.json()
        assert plan["patient_id"] == patient["id"]
        assert {m["discipline"] for m in plan["team"]} >= CLINICAL, plan["team"]
        assert sum(m["lead"] for m in plan["team"]) == 1
        assert plan["goals"], f"plan {plan['id']} has no goals"
        assert plan["activities"], f"plan {plan['id']} has no activities"
        assert all(g["description"].strip() for g in plan["goals"])


# -- the CLI next to a running dev --------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "clinician", "staff"])
def test_token_command_prints_a_token_that_works(
    dev: DevServer, api: httpx.Client, who: str
) -> None:
    staff = staff_by_id(api, dev.auth())
    if who == "staff":
        wanted = next(s for s in staff.values() if s["discipline"] == "psychologist")
        args = ["--staff", wanted["id"]]
    else:
        args = ["--role", who]
    token = last_line_token(dev.cli("token", "--clinic", "demo", *args))

    request_id = f"e2e-token-{who}-{uuid.uuid4().hex[:12]}"
    response = api.get("/api/v1/staff", headers={**dev.auth(token), "X-Request-ID": request_id})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id
    # Whose token it is, as the server saw it.
    acting = staff[access_line(dev, request_id)["staff_id"]]
    if who == "staff":
        assert acting["id"] == wanted["id"]
    else:
        assert acting["role"] == who
    audit = api.get("/api/v1/audit-events", headers=dev.auth(token), params={"limit": 1})
    assert audit.status_code == (200 if acting["role"] == "admin" else 403), audit.text


# -- both `fhir` packages -----------------------------------------------------------------


def test_fhir_metadata_needs_both_fhir_packages(api: httpx.Client) -> None:
    """The repository's `fhir` package serves /fhir and builds the CapabilityStatement
    with `fhir.resources`: both import in the process the dev command started."""
    response = api.get("/fhir/metadata")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "CapabilityStatement", body
    assert str(body["fhirVersion"]).startswith("4.0"), body["fhirVersion"]


# -- logs ---------------------------------------------------------------------------------


def _traffic(dev: DevServer, api: httpx.Client) -> tuple[list[str], list[str]]:
    """Requests that carry PHI in paths, query strings and bodies, some of them refused.
    Returns the request ids sent and the PHI strings that must not reach the logs."""
    headers = dev.auth()
    phi: list[str] = []
    sent: list[str] = []

    def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        request_id = f"e2e-log-{len(sent)}-{uuid.uuid4().hex[:10]}"
        sent.append(request_id)
        return api.request(method, path, headers={**headers, "X-Request-ID": request_id}, **kwargs)

    for patient in demo_patients(api, headers):
        phi += [patient["given_name"], patient["family_name"]]
        phi += [c["value"] for c in patient["contact_points"]]
        phi += [i["value"] for i in patient["identifiers"]]
        assert call("GET", f"/api/v1/patients/{patient['id']}").status_code == 200
        assert (
            call(
                "GET", "/api/v1/patients", params={"family_name": patient["family_name"]}
            ).status_code
            == 200
        )
    # Refused writes whose bodies hold a name: a validation error and an unknown field.
    phi += ["Zephyrine", "Vandermolen-Oyelaran"]
    refused = call(
        "POST",
        "/api/v1/patients",
        json={
            "given_name": "Zephyrine",
            "family_name": "Vandermolen-Oyelaran",
            "birth_date": "not a date",
        },
    )
    assert refused.status_code in (400, 422), refused.text
    refused = call(
        "POST",
        "/api/v1/patients",
        json={
            "given_name": "Zephyrine",
            "family_name": "Vandermolen-Oyelaran",
            "birth_date": "1970-01-01",
            "nickname": "Zephyrine",
        },
    )
    assert refused.status_code in (400, 422), refused.text
    return sent, phi


def test_stderr_is_json_lines_with_request_ids(dev: DevServer, api: httpx.Client) -> None:
    sent, _ = _traffic(dev, api)
    for request_id in sent:
        access_line(dev, request_id)
    not_json, requests = [], []
    for number, line in enumerate(dev.stderr().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            not_json.append(f"{number}: {line}")
        elif record.get("event") == "request":
            requests.append(record)
    assert not not_json, "stderr lines that are not JSON objects:\n" + "\n".join(not_json[:20])
    assert requests
    missing = [r for r in requests if not r.get("request_id")]
    assert not missing, f"access lines without a request_id: {missing[:5]}"
    assert {r["request_id"] for r in requests} >= set(sent)


def test_no_phi_in_logs(dev: DevServer, api: httpx.Client) -> None:
    sent, phi = _traffic(dev, api)
    for request_id in sent:
        access_line(dev, request_id)
    logs = dev.stderr() + dev.stdout()
    leaked = sorted(
        {value for value in phi if re.search(rf"(?<![A-Za-z]){re.escape(value)}(?![A-Za-z])", logs)}
    )
    assert not leaked, f"patient data in the dev process's output: {leaked}"


# -- data across restarts -----------------------------------------------------------------


def _demo_state(server: DevServer) -> tuple[set[str], str]:
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        ids = {p["id"] for p in demo_patients(client, server.auth())}
    match = re.search(r'"demo_data"\s*:\s*"(\w+)"', server.stdout())
    return ids, match.group(1) if match else ""


def _stopped(server: DevServer) -> None:
    problems = server.stop()
    assert not problems, "\n".join(problems) + "\n" + server.output_tail()


def test_restart_reuses_the_data_and_reset_starts_over(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = start_dev(home, logs=tmp_path)
    try:
        first_ids, seeded = _demo_state(first)
    finally:
        _stopped(first)
    assert seeded == "seeded"
    assert len(first_ids) >= 5

    again = start_dev(home, logs=tmp_path)
    try:
        again_ids, reused = _demo_state(again)
        # Tokens are data too: the first run's token still works.
        with httpx.Client(base_url=again.base_url, timeout=30.0) as client:
            assert client.get("/api/v1/staff", headers=first.auth()).status_code == 200
    finally:
        _stopped(again)
    assert reused == "reused"
    assert again_ids == first_ids

    reset = start_dev(home, "--reset", logs=tmp_path)
    try:
        reset_ids, reseeded = _demo_state(reset)
        with httpx.Client(base_url=reset.base_url, timeout=30.0) as client:
            assert client.get("/api/v1/staff", headers=first.auth()).status_code == 401
    finally:
        _stopped(reset)
    assert reseeded == "seeded"
    assert len(reset_ids) == len(first_ids)
    assert not reset_ids & first_ids, "--reset kept patients of the previous run"
