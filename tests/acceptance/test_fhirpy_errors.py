"""FHIR's error cases as an integrator meets them: each a 4xx OperationOutcome whose
issue names what is wrong (`expression`), nothing written. fhirpy always sends valid JSON
as application/json, so the wrong Content-Type and the broken body go by raw httpx."""

from __future__ import annotations

import uuid

import pytest
from fhirpy.base.exceptions import AuthorizationError, ForbiddenError, OperationOutcome

from tests.acceptance import samples
from tests.acceptance.bench import Bench
from tests.acceptance.integrator import FHIR_JSON, Integrator, connect, outcome_of
from tests.factories import ClinicWorld
from tests.smart.support import KeyPair

pytestmark = pytest.mark.asyncio
STRICT = {"Prefer": "handling=strict"}


async def test_an_unknown_search_parameter_with_strict_handling_is_400(
        integrator: Integrator) -> None:
    strict = integrator.fhirpy(**STRICT)
    with pytest.raises(OperationOutcome) as refused:
        await strict.resources("CarePlan").search(colour="blue").fetch()
    issue = outcome_of(refused.value)["issue"][0]
    assert issue["severity"] == "error" and issue["expression"] == ["colour"]
    raw = await integrator.http.get("CarePlan", params={"colour": "blue"}, headers=STRICT)
    assert raw.status_code == 400, raw.text
    assert raw.headers["content-type"].startswith(FHIR_JSON)


async def test_an_unknown_search_parameter_is_otherwise_ignored_and_left_out_of_self(
        integrator: Integrator) -> None:
    bundle = await integrator.fhir.resources("CarePlan").search(colour="blue").fetch_raw()
    assert bundle["type"] == "searchset"
    [self_link] = [link["url"] for link in bundle["link"] if link["relation"] == "self"]
    assert "colour" not in self_link


async def test_a_malformed_search_value_is_400_naming_the_parameter(
        integrator: Integrator) -> None:
    with pytest.raises(OperationOutcome) as refused:
        await integrator.fhir.resources("CarePlan").search(date="next tuesday").fetch()
    assert outcome_of(refused.value)["issue"][0]["expression"] == ["date"]


async def test_the_wrong_content_type_is_415(integrator: Integrator) -> None:
    body = samples.patient(samples.mrn())
    response = await integrator.http.post("Patient", content=str(body),
                                          headers={"Content-Type": "text/plain"})
    assert response.status_code == 415, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    xml = await integrator.http.post("Patient", content="<Patient/>",
                                     headers={"Content-Type": "application/fhir+xml"})
    assert xml.status_code == 415, xml.text


async def test_a_body_that_is_not_json_is_400(integrator: Integrator) -> None:
    response = await integrator.http.post("Patient", content=b'{"resourceType": "Patient",',
                                          headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["code"] == "invalid"
    assert await integrator.fhir.resources("Patient").fetch() == []


async def test_a_reference_to_nothing_is_refused_naming_the_element(bench: Bench) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(OperationOutcome) as refused:
        await bench.it.fhir.resource("Goal", **samples.goal(missing)).save()
    issue = outcome_of(refused.value)["issue"][0]
    assert issue["expression"] == ["Goal.subject.reference"]
    raw = await bench.it.http.post("Goal", json=samples.goal(missing),
                                   headers={"Content-Type": FHIR_JSON})
    assert 400 <= raw.status_code < 500, raw.text
    patient = await bench.patient()
    team = samples.care_team(patient, str(uuid.uuid4()))
    with pytest.raises(OperationOutcome) as unknown_practitioner:
        await bench.it.fhir.resource("CareTeam", **team).save()
    assert outcome_of(unknown_practitioner.value)["issue"][0]["expression"] == [
        "CareTeam.participant[0].member.reference"]
    assert await bench.it.fhir.resources("Goal").search(
        patient=f"Patient/{missing}").fetch() == []


async def test_an_invalid_resource_is_refused_naming_the_element(bench: Bench) -> None:
    goal = {**samples.goal(await bench.patient()), "lifecycleStatus": "dreaming"}
    with pytest.raises(OperationOutcome) as refused:
        await bench.it.fhir.resource("Goal", **goal).save()
    issue = outcome_of(refused.value)["issue"][0]
    assert issue["expression"] == ["Goal.lifecycleStatus"]
    wrong_type = await bench.it.http.post("Goal", json=samples.patient(samples.mrn()),
                                          headers={"Content-Type": FHIR_JSON})
    assert wrong_type.status_code == 400, wrong_type.text
    assert wrong_type.json()["issue"][0]["expression"] == ["resourceType"]


async def test_an_unknown_id_is_404_and_another_clinics_resource_too(
        bench: Bench, other_world: ClinicWorld, ehr_keys: KeyPair) -> None:
    missing = await bench.it.http.get(f"CarePlan/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["issue"][0]["code"] == "not-found"
    ids = await bench.plan()
    async with connect(bench.it.server, other_world, ehr_keys) as other:
        response = await other.http.get(f"CarePlan/{ids.plan}")
        assert response.status_code == 404, response.text
        assert await other.fhir.resources("CarePlan").search(_id=ids.plan).fetch() == []


async def test_no_token_is_401_and_a_narrower_scope_is_403(
        integrator: Integrator, ehr_keys: KeyPair) -> None:
    anonymous = integrator.fhirpy()
    anonymous.authorization = None
    with pytest.raises(AuthorizationError):
        await anonymous.resources("CarePlan").fetch()
    raw = await integrator.http.get("CarePlan", headers={"Authorization": ""})
    assert raw.status_code == 401 and raw.headers["www-authenticate"].startswith("Bearer")

    async with connect(integrator.server, integrator.world, ehr_keys,
                       scopes="system/*.rs") as reader:
        assert reader.scope == "system/*.rs"
        with pytest.raises(ForbiddenError):
            await reader.fhir.resource("Patient", **samples.patient(samples.mrn())).save()
        assert await reader.fhir.resources("Patient").fetch() == []
