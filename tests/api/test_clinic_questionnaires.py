"""A clinic's questionnaires: its own FHIR Questionnaires, the licensed WAI-SR texts it
loads, and the written permissions it records; each clinic sees only its own."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from service.settings import Settings
from tests.api.matrix_cases import own_questionnaire, wai_sr_texts
from tests.api.test_patient_pages import scene as patient_scene
from tests.api.test_patient_pages import visible_text
from tests.factories import ClinicWorld

pytestmark = pytest.mark.asyncio
URL = "/api/v1/questionnaires"
WAI_SR = "https://concord.invalid/fhir/Questionnaire/wai-sr"


def _by_key(body: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {q["key"]: q for q in body}


async def _list(client: Any, world: ClinicWorld, who: str = "admin") -> dict[str, Any]:
    response = await client.get(URL, headers=world.auth(who))
    assert response.status_code == 200, response.text
    return _by_key(response.json())


async def test_builtins_are_listed_with_their_availability(
        client: Any, world: ClinicWorld) -> None:
    listed = await _list(client, world, "physician")
    assert listed["peg"]["available"] is True and listed["peg"]["texts_loaded"] is True
    assert listed["wai-sr"]["available"] is False
    assert listed["wai-sr"]["texts_loaded"] is False
    assert listed["wai-sr"]["terms"]["text"]


async def test_a_clinics_own_questionnaire_round_trips(client: Any, world: ClinicWorld) -> None:
    resource = own_questionnaire()
    created = await client.post(URL, headers=world.auth("admin"), json=resource)
    assert created.status_code == 201, created.text
    assert created.json()["key"] == "SleepCheck"
    own = (await _list(client, world, "coordinator"))["SleepCheck"]
    assert own["resource"] == resource
    assert own["builtin"] is False and own["available"] is True
    assert own["url"] == resource["url"]
    again = await client.post(URL, headers=world.auth("admin"), json=resource)
    assert again.status_code == 409


@pytest.mark.parametrize(("change", "field"), [
    ({"copyright": None}, "copyright"),
    ({"item": [{"linkId": "x", "type": "string"}]}, "item[0].type"),
    ({"url": "https://concord.invalid/fhir/Questionnaire/wai-sr"}, "url"),
])
async def test_a_bad_questionnaire_is_refused_naming_the_field(
        client: Any, world: ClinicWorld, change: dict[str, Any], field: str) -> None:
    resource = {k: v for k, v in {**own_questionnaire(), **change}.items() if v is not None}
    response = await client.post(URL, headers=world.auth("admin"), json=resource)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert "SleepCheck" not in await _list(client, world)


async def test_loaded_wai_sr_texts_make_it_available(client: Any, world: ClinicWorld) -> None:
    response = await client.put(f"{URL}/wai-sr/item-texts", headers=world.auth("admin"),
                                json={"texts": wai_sr_texts(),
                                      "terms_note": "Clinic licence from SPR, 2026"})
    assert response.status_code == 200, response.text
    wai_sr = (await _list(client, world, "physician"))["wai-sr"]
    assert wai_sr["available"] is True and wai_sr["texts_loaded"] is True
    assert wai_sr["texts_terms_note"] == "Clinic licence from SPR, 2026"
    assert wai_sr["texts_language"] == "en"


async def test_incomplete_texts_are_refused_naming_the_item(
        client: Any, world: ClinicWorld) -> None:
    texts = wai_sr_texts()
    del texts["7"]
    response = await client.put(f"{URL}/wai-sr/item-texts", headers=world.auth("admin"),
                                json={"texts": texts, "terms_note": "Licensed"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "texts.7"


async def test_a_stigmatizing_text_is_refused_naming_the_term(
        client: Any, world: ClinicWorld) -> None:
    texts = {**wai_sr_texts(), "3": "My clinician treats me like any other addict."}
    response = await client.put(f"{URL}/wai-sr/item-texts", headers=world.auth("admin"),
                                json={"texts": texts, "terms_note": "Licensed"})
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "texts.3"
    assert '"addict"' in error["reason"]
    assert (await _list(client, world))["wai-sr"]["available"] is False


async def test_permission_makes_an_instrument_that_needs_it_available(
        client: Any, world: ClinicWorld) -> None:
    admin = world.auth("admin")
    resource = own_questionnaire("https://clinic.example/fhir/Questionnaire/promis-pi",
                                 "PromisPainInterference", requires_permission=True)
    created = await client.post(URL, headers=admin, json=resource)
    assert created.status_code == 201, created.text
    assert created.json()["available"] is False
    recorded = await client.put(f"{URL}/PromisPainInterference/permission", headers=admin,
                                json={"note": "Letter from HealthMeasures, 2026-01-05"})
    assert recorded.status_code == 200, recorded.text
    promis = (await _list(client, world))["PromisPainInterference"]
    assert promis["available"] is True
    assert promis["permission_note"] == "Letter from HealthMeasures, 2026-01-05"
    assert promis["permission_recorded_at"]
    unknown = await client.put(f"{URL}/nothing-here/permission", headers=admin,
                               json={"note": "x"})
    assert unknown.status_code == 404


async def test_clinicians_and_coordinators_may_not_write(
        client: Any, world: ClinicWorld) -> None:
    for who in ("physician", "coordinator"):
        headers = world.auth(who)
        assert (await client.post(URL, headers=headers,
                                  json=own_questionnaire())).status_code == 403
        assert (await client.put(f"{URL}/wai-sr/item-texts", headers=headers, json={
            "texts": wai_sr_texts(), "terms_note": "Licensed"})).status_code == 403
        assert (await client.put(f"{URL}/wai-sr/permission", headers=headers,
                                 json={"note": "x"})).status_code == 403
    listed = await _list(client, world)
    assert "SleepCheck" not in listed and listed["wai-sr"]["available"] is False


async def test_another_clinic_sees_none_of_it(client: Any, world: ClinicWorld,
                                              other_world: ClinicWorld) -> None:
    admin = world.auth("admin")
    assert (await client.post(URL, headers=admin, json=own_questionnaire())).status_code == 201
    assert (await client.put(f"{URL}/wai-sr/item-texts", headers=admin, json={
        "texts": wai_sr_texts(), "terms_note": "Licensed"})).status_code == 200
    assert (await client.put(f"{URL}/peg/permission", headers=admin,
                             json={"note": "On file"})).status_code == 200
    theirs = await _list(client, other_world)
    assert set(theirs) == {"peg", "wai-sr"}
    assert theirs["wai-sr"]["available"] is False
    assert theirs["peg"]["permission_recorded_at"] is None
    # ...and cannot reach this clinic's own questionnaire by its name
    response = await client.put(f"{URL}/SleepCheck/permission",
                                headers=other_world.auth("admin"), json={"note": "x"})
    assert response.status_code == 404


async def test_a_clinic_with_the_wai_sr_texts_asks_it_instead_of_the_pulse(
        client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld) -> None:
    loaded = await client.put(f"{URL}/wai-sr/item-texts", headers=world.auth("admin"),
                              json={"texts": wai_sr_texts(), "terms_note": "Licensed"})
    assert loaded.status_code == 200, loaded.text
    english = await patient_scene(client, engine, world, language="en")
    text = visible_text((await client.get(await english.link(engine, settings, "check-in"))).text)
    assert "Statement 12 from the clinic's licensed copy" in text
    assert "We agree on what I most want to achieve with my care." not in text
    # The texts are English: a Spanish speaker still gets the pulse, in Spanish.
    spanish = await patient_scene(client, engine, world, language="es")
    text = visible_text((await client.get(await spanish.link(engine, settings, "check-in"))).text)
    assert "Statement 12" not in text
    assert "Estamos de acuerdo en lo que más quiero lograr con mi tratamiento." in text
