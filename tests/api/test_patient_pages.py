"""The patient pages under /p/{token}: a check-in to answer, the plan in plain words and a
one-click opt-out, reached by signed links issued with `service.links.issue`. What each page
shows (and hides), what a submit leaves behind, and what a used, expired or tampered link
gets: a friendly page and no change at all."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.check_in import ALLIANCE_PULSE, PEG
from service import links
from service.db import tables as t
from service.db.uow import unit_of_work
from service.pages.instruments import WAI_SR, asked_for, read_answers
from service.settings import Settings
from tests.factories import ClinicWorld, add_goal, create_plan

ASYNC = pytest.mark.asyncio
PULSE_KEY = "concord-alliance-pulse"
ANSWERS = {
    "peg.pain": "7", "peg.enjoyment": "8", "peg.activity": "6",
    f"{PULSE_KEY}.goal": "4", f"{PULSE_KEY}.task": "5",
    f"{PULSE_KEY}.bond": "3", f"{PULSE_KEY}.heard": "4",
}


@dataclass
class Scene:
    world: ClinicWorld
    plan: dict[str, Any]
    patient_id: uuid.UUID
    plan_id: uuid.UUID
    check_in_id: uuid.UUID
    clinician: str

    async def link(self, engine: AsyncEngine, settings: Settings, purpose: str,
                   ttl: dt.timedelta = links.DEFAULT_TTL) -> str:
        async with unit_of_work(engine) as uow:
            token = await links.issue(
                uow, secret=settings.secret_key, clinic_id=self.world.id,
                patient_id=self.patient_id, purpose=purpose, care_plan_id=self.plan_id,
                check_in_id=self.check_in_id if purpose == "check-in" else None,
                now=dt.datetime.now(dt.UTC), ttl=ttl,
            )
        return f"/p/{token}"


async def scene(client: Any, engine: AsyncEngine, world: ClinicWorld, *,
                language: str = "es", questionnaires: list[str] | None = None) -> Scene:
    """A patient (Rosa Delgado) with an active plan, a goal, and a check-in queued about
    the psychologist; in Spanish unless told otherwise."""
    plan = await create_plan(client, world)
    patient_id = uuid.UUID(plan["patient_id"])
    await add_goal(client, world, plan["id"], "physical_therapist",
                   "Walk to the corner shop and back")
    if language != "es":
        auth = world.auth("coordinator")
        current = await client.get(f"/api/v1/patients/{patient_id}", headers=auth)
        changed = await client.patch(
            f"/api/v1/patients/{patient_id}", json={"language": language},
            headers={**auth, "If-Match": current.headers["etag"]})
        assert changed.status_code == 200, changed.text
    psychologist = world.staff["psychologist"]
    check_in_id = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as conn:
        await conn.execute(t.check_ins.insert().values(
            id=check_in_id, clinic_id=world.id, care_plan_id=uuid.UUID(plan["id"]),
            patient_id=patient_id, clinician_id=psychologist.id, due_at=now, deliver_at=now,
            status="queued", occurrence_key=f"test:{check_in_id}",
            questionnaires=questionnaires or [PEG, ALLIANCE_PULSE]))
    return Scene(world=world, plan=plan, patient_id=patient_id, plan_id=uuid.UUID(plan["id"]),
                 check_in_id=check_in_id, clinician=psychologist.name)


async def stored(engine: AsyncEngine, check_in_id: uuid.UUID) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(t.questionnaire_responses)
            .where(t.questionnaire_responses.c.check_in_id == check_in_id)
            .order_by(t.questionnaire_responses.c.questionnaire))
        return [dict(r) for r in rows.mappings()]


async def check_in_row(engine: AsyncEngine, check_in_id: uuid.UUID) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(t.check_ins).where(t.check_ins.c.id == check_in_id))
               ).mappings().one()
        return dict(row)


async def link_row(engine: AsyncEngine, path: str) -> dict[str, Any]:
    verified = links.verify(path.removeprefix("/p/"), "test-secret-key",
                            dt.datetime.now(dt.UTC) - dt.timedelta(days=365))
    assert isinstance(verified, links.LinkClaims)
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(t.patient_links).where(
            t.patient_links.c.id == verified.link_id))).mappings().one()
        return dict(row)


async def audit_trail(engine: AsyncEngine, patient_id: uuid.UUID) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(t.audit_events.c.actor_type, t.audit_events.c.action,
                      t.audit_events.c.resource_type)
            .where(t.audit_events.c.patient_id == patient_id,
                   t.audit_events.c.actor_type != "staff")
            .order_by(t.audit_events.c.id))
        return [(r.actor_type, r.action, r.resource_type) for r in rows]


def visible_text(page: str) -> str:
    body = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


@ASYNC
class TestCheckIn:
    async def test_the_form_in_spanish_with_the_first_name_only(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world)
        page = await client.get(await s.link(engine, settings, "check-in"))
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        assert '<html lang="es">' in html
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        text = visible_text(html)
        assert "Hola, Rosa" in text
        assert "Delgado" not in html, "only the first name"
        assert "1968" not in html and "rosa@example.org" not in html
        assert "¿Qué número describe mejor su dolor" in text
        assert ("0 significa «Sin dolor». "
                "10 significa «El peor dolor que se pueda imaginar».") in text
        assert "Estamos de acuerdo en lo que más quiero lograr con mi tratamiento." in text
        assert f"Estas preguntas son sobre su atención con {s.clinician}." in text
        # Every question is a fieldset with a legend; every radio has its label.
        assert html.count("<fieldset") == html.count("<legend>") == 7
        radios = re.findall(r'<input type="radio" id="([^"]+)" name="([^"]+)" value="([^"]+)"',
                            html)
        assert len(radios) == 3 * 11 + 4 * 5
        for radio_id, _, _ in radios:
            assert f'<label class="opt" for="{radio_id}">' in html
        assert {name for _, name, _ in radios} == set(ANSWERS)
        assert "<script" not in html
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert await audit_trail(engine, s.patient_id) == [
            ("system", "read", "Patient"), ("system", "read", "CheckIn")]

    async def test_in_english_for_an_english_speaker(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world, language="en")
        html = (await client.get(await s.link(engine, settings, "check-in"))).text
        assert '<html lang="en">' in html
        text = visible_text(html)
        assert "Hello Rosa" in text and "Delgado" not in html
        assert "What number best describes your pain on average in the past week?" in text
        assert "We agree on what I most want to achieve with my care." in text
        assert "Send my answers" in text

    async def test_a_submit_stores_one_response_per_questionnaire_and_answers_the_check_in(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world)
        path = await s.link(engine, settings, "check-in")
        done = await client.post(path, data=ANSWERS)
        assert done.status_code == 200, done.text
        assert "Gracias, Rosa" in visible_text(done.text)
        assert "Delgado" not in done.text

        responses = await stored(engine, s.check_in_id)
        assert [r["questionnaire"] for r in responses] == [ALLIANCE_PULSE, PEG]
        pulse_row, peg_row = responses
        assert peg_row["scores"] == {"pain": 7, "enjoyment": 8, "activity": 6, "total": 7.0}
        assert pulse_row["scores"] == {"goal": 4, "task": 5, "bond": 3, "heard": 4, "mean": 4.0}
        for row in responses:
            assert row["clinician_id"] == world.staff["psychologist"].id
            assert row["patient_id"] == s.patient_id and row["care_plan_id"] == s.plan_id
            resource = QuestionnaireResponse.model_validate(row["resource"])
            assert resource.status == "completed"
            assert resource.subject.reference == f"Patient/{s.patient_id}"
            assert resource.basedOn[0].reference == f"CarePlan/{s.plan_id}"
            assert resource.questionnaire.startswith(row["questionnaire"] + "|")
            assert resource.language == "es"
        peg_items = {i["linkId"]: i for i in peg_row["resource"]["item"]}
        assert peg_items["pain"]["answer"][0]["valueCoding"] == {
            "system": "https://concord.invalid/fhir/CodeSystem/numeric-rating-0-10",
            "code": "7", "display": "7"}
        assert peg_items["pain"]["text"].startswith("¿Qué número"), "the text the patient saw"
        goal = pulse_row["resource"]["item"][0]
        assert goal["answer"][0]["valueCoding"]["display"] == "Mostly", "the defined display"

        check_in = await check_in_row(engine, s.check_in_id)
        assert check_in["status"] == "answered" and check_in["version"] == 2
        assert check_in["answered_at"] is not None
        assert (await link_row(engine, path))["used_at"] is not None
        assert await audit_trail(engine, s.patient_id) == [
            ("system", "read", "Patient"), ("system", "read", "CheckIn"),
            ("system", "update", "CheckIn"),
            ("system", "create", "QuestionnaireResponse"),
            ("system", "create", "QuestionnaireResponse")]

    async def test_a_used_link_is_refused_and_changes_nothing(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world, language="en")
        path = await s.link(engine, settings, "check-in")
        assert (await client.post(path, data=ANSWERS)).status_code == 200
        before = (await stored(engine, s.check_in_id), await check_in_row(engine, s.check_in_id),
                  await audit_trail(engine, s.patient_id))
        again = await client.post(path, data={**ANSWERS, "peg.pain": "2"})
        assert again.status_code == 410
        assert "This link has already been used" in visible_text(again.text)
        reopened = await client.get(path)
        assert reopened.status_code == 410
        assert "already been used" in reopened.text
        after = (await stored(engine, s.check_in_id), await check_in_row(engine, s.check_in_id),
                 await audit_trail(engine, s.patient_id))
        assert after == before

    async def test_two_concurrent_submits_store_once(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world)
        path = await s.link(engine, settings, "check-in")
        first, second = await asyncio.gather(client.post(path, data=ANSWERS),
                                             client.post(path, data=ANSWERS))
        assert sorted([first.status_code, second.status_code]) == [200, 410]
        assert len(await stored(engine, s.check_in_id)) == 2

    async def test_a_second_link_to_an_answered_check_in_is_refused(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world)
        first = await s.link(engine, settings, "check-in")
        reminder = await s.link(engine, settings, "check-in")
        assert (await client.post(first, data=ANSWERS)).status_code == 200
        refused = await client.post(reminder, data=ANSWERS)
        assert refused.status_code == 410
        assert len(await stored(engine, s.check_in_id)) == 2
        assert (await link_row(engine, reminder))["used_at"] is None

    @pytest.mark.parametrize(
        ("form", "bad"),
        [
            ({k: v for k, v in ANSWERS.items() if k != "peg.activity"}, ["peg.activity"]),
            ({**ANSWERS, "peg.pain": "11"}, ["peg.pain"]),
            ({**ANSWERS, f"{PULSE_KEY}.bond": "0"}, [f"{PULSE_KEY}.bond"]),
            ({}, list(ANSWERS)),
        ],
        ids=["missing", "out-of-range", "not-an-option", "empty"],
    )
    async def test_an_incomplete_form_comes_back_with_the_answers_kept(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        form: dict[str, str], bad: list[str],
    ) -> None:
        s = await scene(client, engine, world)
        path = await s.link(engine, settings, "check-in")
        again = await client.post(path, data=form)
        assert again.status_code == 422
        html = again.text
        assert 'role="alert"' in html and "Faltan algunas respuestas" in html
        for name in bad:
            dom_id = name.replace(".", "-")
            assert f'<fieldset class="q has-error" id="q-{dom_id}"' in html
            assert f'id="err-{dom_id}"' in html
        for name, value in form.items():
            if name not in bad:
                assert re.search(
                    rf'name="{re.escape(name)}" value="{value}" checked', html), name
        assert await stored(engine, s.check_in_id) == []
        assert (await check_in_row(engine, s.check_in_id))["status"] == "queued"
        assert (await link_row(engine, path))["used_at"] is None
        assert (await client.post(path, data=ANSWERS)).status_code == 200, "still usable"

    async def test_a_body_that_is_not_a_form_is_an_incomplete_form(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world)
        path = await s.link(engine, settings, "check-in")
        for content, kind in ((b'{"peg.pain": 7}', "application/json"),
                              (b"\xff\xfe%%%", "application/x-www-form-urlencoded"),
                              (b"--x\r\nbroken", "multipart/form-data; boundary=x")):
            response = await client.post(path, content=content, headers={"content-type": kind})
            assert response.status_code == 422, (kind, response.text)
        assert await stored(engine, s.check_in_id) == []


@ASYNC
class TestRefusals:
    async def test_a_tampered_link_is_not_found_in_both_languages(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world)
        path = await s.link(engine, settings, "check-in")
        token = path.removeprefix("/p/")
        index = 3
        forged = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1:]
        for candidate in (forged, token + "x", "nonsense", "a" * 5000, token.split(".")[0]):
            for response in (await client.get(f"/p/{candidate}"),
                             await client.post(f"/p/{candidate}", data=ANSWERS)):
                assert response.status_code == 404, (candidate[:20], response.request.method)
                assert response.headers["content-type"].startswith("text/html")
                text = visible_text(response.text)
                assert "This link isn't valid" in text and "Este enlace no es válido" in text
        assert (await client.get("/p/")).status_code == 404
        assert await stored(engine, s.check_in_id) == []
        assert (await link_row(engine, path))["used_at"] is None
        assert await audit_trail(engine, s.patient_id) == []

    async def test_an_unknown_link_signed_with_our_key_is_not_found(
        self, client: Any, settings: Settings
    ) -> None:
        token = links.sign(links.LinkClaims(
            link_id=uuid.uuid4(),
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)), settings.secret_key)
        response = await client.get(f"/p/{token}")
        assert response.status_code == 404
        assert "This link isn't valid" in visible_text(response.text)

    async def test_an_expired_link_is_gone_in_the_patients_language(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world)
        path = await s.link(engine, settings, "check-in", ttl=-dt.timedelta(minutes=1))
        for response in (await client.get(path), await client.post(path, data=ANSWERS)):
            assert response.status_code == 410
            assert '<html lang="es">' in response.text
            assert "Este enlace ya venció" in visible_text(response.text)
            assert "Rosa" not in response.text
        assert await stored(engine, s.check_in_id) == []
        assert (await check_in_row(engine, s.check_in_id))["status"] == "queued"
        assert await audit_trail(engine, s.patient_id) == []

    async def test_a_cancelled_check_in_is_closed(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world, language="en")
        path = await s.link(engine, settings, "check-in")
        async with engine.begin() as conn:
            await conn.execute(t.check_ins.update().where(t.check_ins.c.id == s.check_in_id)
                               .values(status="cancelled"))
        response = await client.post(path, data=ANSWERS)
        assert response.status_code == 410
        assert "This check-in is closed" in response.text
        assert await stored(engine, s.check_in_id) == []

    async def test_links_cannot_point_across_patients(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld,
        other_world: ClinicWorld,
    ) -> None:
        s = await scene(client, engine, world)
        other = await scene(client, engine, other_world)
        async with unit_of_work(engine) as uow:
            for clinic_id, plan_id, check_in_id in (
                (world.id, other.plan_id, s.check_in_id),  # another patient's plan
                (other_world.id, s.plan_id, s.check_in_id),  # another clinic
                (world.id, s.plan_id, other.check_in_id),  # another patient's check-in
            ):
                with pytest.raises(ValueError, match="not this patient's"):
                    await links.issue(uow, secret=settings.secret_key, clinic_id=clinic_id,
                                      patient_id=s.patient_id, purpose="check-in",
                                      care_plan_id=plan_id, check_in_id=check_in_id,
                                      now=dt.datetime.now(dt.UTC))
            with pytest.raises(ValueError, match="check_in_id"):
                await links.issue(uow, secret=settings.secret_key, clinic_id=world.id,
                                  patient_id=s.patient_id, purpose="check-in",
                                  care_plan_id=s.plan_id, now=dt.datetime.now(dt.UTC))

    async def test_the_token_never_reaches_the_logs(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world)
        path = await s.link(engine, settings, "check-in")
        token = path.removeprefix("/p/")
        records: list[logging.LogRecord] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                records.append(record)

        keep = Keep(level=logging.DEBUG)
        logging.getLogger().addHandler(keep)
        try:
            await client.get(path)
            await client.post(path, data=ANSWERS)
            await client.post(path, data=ANSWERS)
            await client.get(f"/p/{token[:-2]}xx")
        finally:
            logging.getLogger().removeHandler(keep)
        lines = [str(r.msg) + r.getMessage() for r in records]
        access = [line for line in lines if "'route': '/p/{token}'" in line]
        assert len(access) == 4, lines
        assert not [line for line in lines if token[:20] in line]
        metrics = (await client.get("/metrics")).text
        assert 'path="/p/{token}"' in metrics and token[:20] not in metrics


@ASYNC
class TestPlan:
    async def test_the_plan_in_plain_spanish(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world)
        path = await s.link(engine, settings, "plan")
        page = await client.get(path)
        assert page.status_code == 200, page.text
        text = visible_text(page.text)
        assert '<html lang="es">' in page.text
        assert "Hola, Rosa" in text and "Delgado" not in page.text
        assert "Su plan de atención" in text
        assert "Picking up my granddaughter again" in text, "what matters, in their words"
        assert "Walk to the corner shop and back" in text, "the goal, in their words"
        for who in ("physician", "physical_therapist", "psychologist", "acupuncturist"):
            assert world.staff[who].name in text
        assert "Fisioterapeuta (ejercicio y movimiento)" in text
        assert "Médico o médica" in text and "coordina su equipo de atención" in text
        review = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=28)  # the goal's cadence
        months = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
                  "septiembre", "octubre", "noviembre", "diciembre")
        assert f"{review.day} de {months[review.month - 1]} de {review.year}" in text
        assert "Próxima revisión" in text
        assert await audit_trail(engine, s.patient_id) == [
            ("system", "read", "Patient"), ("system", "read", "CarePlan")]

    async def test_the_teams_suggestions_are_told_apart_and_an_overdue_review_is_soon(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world, language="en")
        suggested = await client.post(
            f"/api/v1/care-plans/{s.plan_id}/goals", headers=world.auth("physician"),
            json={"description": "Try a walking group twice a week", "owners": ["physician"],
                  "expressed_by": "physician",
                  "next_review_date": (dt.date.today() - dt.timedelta(days=3)).isoformat()})
        assert suggested.status_code == 201, suggested.text
        text = visible_text((await client.get(await s.link(engine, settings, "plan"))).text)
        own = text.index("In your own words:")
        theirs = text.index("Suggested by your care team")
        assert own < text.index("Walk to the corner shop and back") < theirs
        assert theirs < text.index("Try a walking group twice a week")
        assert "Next check on this goal: soon" in text
        assert "Your team will look at your goals with you soon." in text

    async def test_reading_is_not_consuming_and_a_plan_link_cannot_post(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world, language="en")
        path = await s.link(engine, settings, "plan")
        for _ in range(3):
            page = await client.get(path)
            assert page.status_code == 200
            assert "Your care plan" in page.text and "Physical therapist" in page.text
        assert (await link_row(engine, path))["used_at"] is None
        posted = await client.post(path, data={"anything": "1"})
        assert posted.status_code == 405
        assert posted.headers["content-type"].startswith("text/html")
        expired = await s.link(engine, settings, "plan", ttl=-dt.timedelta(seconds=1))
        assert (await client.get(expired)).status_code == 410


@ASYNC
class TestOptOut:
    async def test_one_click_withdraws_consent_now(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        s = await scene(client, engine, world)
        path = await s.link(engine, settings, "opt-out")
        auth = world.auth("coordinator")
        before = (await client.get(f"/api/v1/patients/{s.patient_id}", headers=auth)).json()
        assert before["consent"]["messages"] is True

        form = await client.get(path)
        assert form.status_code == 200
        assert "Dejar de recibir mensajes" in form.text
        assert '<form method="post">' in form.text and "Delgado" not in form.text
        unchanged = (await client.get(f"/api/v1/patients/{s.patient_id}", headers=auth)).json()
        assert unchanged["consent"]["messages"] is True, "showing the button changes nothing"

        started = dt.datetime.now(dt.UTC)
        done = await client.post(path)
        assert done.status_code == 200, done.text
        assert "Ya no recibirá mensajes" in visible_text(done.text)
        after = (await client.get(f"/api/v1/patients/{s.patient_id}", headers=auth)).json()
        assert after["consent"]["messages"] is False
        withdrawn = dt.datetime.fromisoformat(after["consent"]["withdrawn_at"])
        assert started <= withdrawn <= dt.datetime.now(dt.UTC)
        assert after["consent"]["given_at"] == before["consent"]["given_at"]
        assert after["version"] == before["version"] + 1
        assert ("system", "update", "Patient") in await audit_trail(engine, s.patient_id)

        again = await client.post(path)
        assert again.status_code == 410
        assert (await client.get(f"/api/v1/patients/{s.patient_id}", headers=auth)).json()[
            "version"] == after["version"]


def test_the_alliance_questionnaire_is_the_pulse_until_the_clinic_loads_the_wai_sr() -> None:
    pulse_only = asked_for([PEG, ALLIANCE_PULSE], "es", None)
    assert [a.key for a in pulse_only] == ["peg", PULSE_KEY]
    placeholders = {str(n): f"placeholder item {n}" for n in range(1, 13)}
    for named in ([PEG, ALLIANCE_PULSE], [PEG, WAI_SR]):
        loaded = asked_for(named, "en", placeholders)
        assert [a.key for a in loaded] == ["peg", "wai-sr"]
    assert [a.key for a in asked_for([WAI_SR], "en", None)] == [PULSE_KEY]
    assert [a.key for a in asked_for(["https://example.org/unknown"], "en", None)] == [
        "peg", PULSE_KEY], "nothing askable left: the defaults"
    wai_sr = asked_for([WAI_SR], "en", placeholders)[0]
    answers, problems = read_answers([wai_sr], {f"wai-sr.{n}": ["4"] for n in range(1, 13)})
    assert problems == {}
    assert wai_sr.score(answers["wai-sr"])["total"] == 4.0


@ASYNC
async def test_a_check_in_page_also_stops_messages_without_using_up_its_link(
    client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
) -> None:
    """The check-in message says the patient can stop messages on its page."""
    s = await scene(client, engine, world, language="en")
    path = await s.link(engine, settings, "check-in")
    form = await client.get(path)
    assert '<a href="?action=opt-out">' in form.text
    confirm = await client.get(f"{path}?action=opt-out")
    assert confirm.status_code == 200 and "Stop messages" in confirm.text
    assert '<input type="hidden" name="action" value="opt-out">' in confirm.text
    done = await client.post(f"{path}?action=opt-out", data={"action": "opt-out"})
    assert done.status_code == 200 and "Messages stopped" in done.text
    patient = (await client.get(f"/api/v1/patients/{s.patient_id}",
                                headers=world.auth("coordinator"))).json()
    assert patient["consent"]["messages"] is False
    assert (await link_row(engine, path))["used_at"] is None
    assert (await client.post(path, data=ANSWERS)).status_code == 200, "still answerable"
