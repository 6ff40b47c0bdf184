"""The alliance per relationship, end to end: a check-in answered on the patient page is
judged against that relationship's own baseline in the same transaction (a drop opens a
task for the clinician and tells the plan's lead; low goal agreement opens a revisit
task), and the trend is served as JSON and as an accessible SVG chart."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.check_in import ALLIANCE_PULSE, PEG
from service import links
from service.db import tables as t
from service.db.repos.responses import StoredResponse
from service.db.uow import unit_of_work
from service.settings import Settings
from service.usecases import alliance
from tests.factories import ClinicWorld, add_goal, create_plan

ASYNC = pytest.mark.asyncio
PULSE = "concord-alliance-pulse"
SVG = "{http://www.w3.org/2000/svg}"


def answers(goal: int, task: int, bond: int, heard: int, pain: int = 6) -> dict[str, str]:
    return {"peg.pain": str(pain), "peg.enjoyment": "6", "peg.activity": "6",
            f"{PULSE}.goal": str(goal), f"{PULSE}.task": str(task),
            f"{PULSE}.bond": str(bond), f"{PULSE}.heard": str(heard)}


async def check_in(engine: AsyncEngine, world: ClinicWorld, plan: dict[str, Any],
                   clinician: str, status: str = "queued") -> uuid.UUID:
    """A check-in about `clinician`, inserted as tests/api/test_patient_pages.py does."""
    check_in_id, now = uuid.uuid4(), dt.datetime.now(dt.UTC)
    async with engine.begin() as conn:
        await conn.execute(t.check_ins.insert().values(
            id=check_in_id, clinic_id=world.id, care_plan_id=uuid.UUID(plan["id"]),
            patient_id=uuid.UUID(plan["patient_id"]), clinician_id=world.staff[clinician].id,
            due_at=now, deliver_at=now, status=status, occurrence_key=f"test:{check_in_id}",
            questionnaires=[PEG, ALLIANCE_PULSE]))
    return check_in_id


async def earlier(engine: AsyncEngine, world: ClinicWorld, plan: dict[str, Any],
                  clinician: str, days_ago: int, items: tuple[int, int, int, int],
                  peg: float = 7.0) -> None:
    """An already-answered check-in from `days_ago`, its responses stored through the
    repository (the history a baseline is made of)."""
    check_in_id = await check_in(engine, world, plan, clinician, status="answered")
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    goal, task, bond, heard = items
    async with unit_of_work(engine) as uow:
        for url, scores in (
            (PEG, {"pain": 7, "enjoyment": 7, "activity": 7, "total": peg}),
            (ALLIANCE_PULSE, {"goal": goal, "task": task, "bond": bond, "heard": heard,
                              "mean": (goal + task + bond + heard) / 4}),
        ):
            await uow.responses.add(StoredResponse(
                id=uuid.uuid4(), clinic_id=world.id, patient_id=uuid.UUID(plan["patient_id"]),
                care_plan_id=uuid.UUID(plan["id"]), check_in_id=check_in_id,
                clinician_id=world.staff[clinician].id, questionnaire=url, resource={},
                scores=scores, authored_at=when))


async def answer(client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld,
                 plan: dict[str, Any], check_in_id: uuid.UUID, form: dict[str, str]) -> str:
    """Answer the check-in through the real patient page; returns the link's path."""
    async with unit_of_work(engine) as uow:
        token = await links.issue(
            uow, secret=settings.secret_key, clinic_id=world.id,
            patient_id=uuid.UUID(plan["patient_id"]), purpose="check-in",
            care_plan_id=uuid.UUID(plan["id"]), check_in_id=check_in_id,
            now=dt.datetime.now(dt.UTC), ttl=links.DEFAULT_TTL)
    done = await client.post(f"/p/{token}", data=form)
    assert done.status_code == 200, done.text
    return f"/p/{token}"


async def tasks_of(engine: AsyncEngine, plan: dict[str, Any]) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(t.tasks).where(
            t.tasks.c.care_plan_id == uuid.UUID(plan["id"])).order_by(t.tasks.c.kind))
        return [dict(r) for r in rows.mappings()]


async def system_audit(engine: AsyncEngine, resource_type: str) -> list[uuid.UUID]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(t.audit_events.c.resource_id).where(
            t.audit_events.c.actor_type == "system", t.audit_events.c.action == "create",
            t.audit_events.c.resource_type == resource_type))
        return [r.resource_id for r in rows]


@ASYNC
class TestAfterAnAnswer:
    async def test_a_drop_opens_one_task_for_that_clinician_and_tells_the_lead(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        plan = await create_plan(client, world)
        for days_ago, items in ((90, (5, 4, 5, 4)), (60, (4, 5, 4, 5)), (30, (5, 5, 4, 4))):
            await earlier(engine, world, plan, "psychologist", days_ago, items)
        # another relationship, high and steady, must not count towards this one
        await earlier(engine, world, plan, "physical_therapist", 45, (2, 2, 2, 2))
        latest = await check_in(engine, world, plan, "psychologist")
        path = await answer(client, engine, settings, world, plan, latest,
                            answers(4, 4, 4, 3))  # 3.75 against a baseline of 4.5

        tasks = await tasks_of(engine, plan)
        psychologist, lead = world.staff["psychologist"].id, world.staff["physician"].id
        assert [(x["kind"], x["owner_id"]) for x in tasks] == [
            ("alliance-drop", psychologist), ("general", lead)]
        drop, notice = tasks
        assert drop["priority"] == "urgent" and drop["status"] == "requested"
        assert drop["dedupe_key"] == f"alliance-drop:{latest}"
        assert "3.75" in drop["description"] and "4.5" in drop["description"]
        assert notice["title"].startswith("For information: alliance drop with psychologist")
        assert drop["patient_id"] == notice["patient_id"] == uuid.UUID(plan["patient_id"])
        assert set(await system_audit(engine, "Task")) >= {drop["id"], notice["id"]}

        # the same check-in cannot open them twice: not by a second submit (the link is
        # used), not by running the hook again
        assert (await client.post(path, data=answers(1, 1, 1, 1))).status_code == 410
        async with unit_of_work(engine) as uow:
            stored = await uow.check_ins.get(world.id, latest)
            assert await alliance.after_answer(uow, stored, dt.datetime.now(dt.UTC)) == []
        assert len(await tasks_of(engine, plan)) == 2

    async def test_low_goal_agreement_opens_a_revisit_task_for_the_clinician(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        plan = await create_plan(client, world)
        first = await check_in(engine, world, plan, "physical_therapist")
        await answer(client, engine, settings, world, plan, first, answers(2, 4, 5, 5))
        tasks = await tasks_of(engine, plan)
        assert [(x["kind"], x["owner_id"]) for x in tasks] == [
            ("revisit-goals", world.staff["physical_therapist"].id)]
        assert tasks[0]["dedupe_key"] == f"revisit-goals:{first}"

    async def test_steady_answers_open_nothing(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        plan = await create_plan(client, world)
        await earlier(engine, world, plan, "psychologist", 30, (4, 4, 4, 4))
        latest = await check_in(engine, world, plan, "psychologist")
        await answer(client, engine, settings, world, plan, latest, answers(4, 4, 4, 3))
        assert await tasks_of(engine, plan) == []  # 3.75 vs 4.0: under the 0.5 threshold

    async def test_the_lead_is_not_told_twice_about_their_own_relationship(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        plan = await create_plan(client, world)
        await earlier(engine, world, plan, "physician", 30, (5, 5, 5, 5))
        latest = await check_in(engine, world, plan, "physician")
        await answer(client, engine, settings, world, plan, latest, answers(4, 4, 4, 4))
        assert [(x["kind"], x["owner_id"]) for x in await tasks_of(engine, plan)] == [
            ("alliance-drop", world.staff["physician"].id)]


@ASYNC
class TestTrend:
    async def _scene(self, client: Any, engine: AsyncEngine, settings: Settings,
                     world: ClinicWorld) -> dict[str, Any]:
        plan = await create_plan(client, world)
        goal = await add_goal(client, world, plan["id"], "physical_therapist")
        for days_ago, items in ((90, (5, 4, 5, 4)), (60, (4, 5, 4, 5)), (30, (5, 5, 4, 4))):
            await earlier(engine, world, plan, "psychologist", days_ago, items)
        await earlier(engine, world, plan, "physical_therapist", 45, (4, 4, 4, 4), peg=6.0)
        review = await client.post(
            f"/api/v1/care-plans/{plan['id']}/reviews", headers=world.auth("coordinator"),
            json={"entries": [{"goal_id": goal["id"], "level": 0}],
                  "participants": [{"kind": "patient"}]})
        assert review.status_code == 201, review.text
        latest = await check_in(engine, world, plan, "psychologist")
        await answer(client, engine, settings, world, plan, latest, answers(4, 4, 3, 3, pain=4))
        return plan

    async def test_json_per_relationship(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        plan = await self._scene(client, engine, settings, world)
        got = await client.get(f"/api/v1/care-plans/{plan['id']}/alliance",
                               headers=world.auth("acupuncturist"))
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["rules"] == {"baseline_check_ins": 3, "drop_threshold": 0.5,
                                 "low_goal_agreement": 2.0}
        psy, pt = body["relationships"]  # in the order they began (90 and 45 days ago)
        assert psy["clinician_id"] == str(world.staff["psychologist"].id)
        assert psy["discipline"] == "psychologist"
        assert psy["name"] == f"psychologist of {world.slug}"
        assert len(psy["points"]) == 4 and psy["baseline"] == 4.5
        assert psy["latest"]["total"] == 3.5 and psy["latest"]["peg_total"] == pytest.approx(16 / 3)
        assert psy["dropped"] is True and psy["drop_by"] == 1.0
        assert psy["low_goal_agreement"] is False
        assert pt["discipline"] == "physical_therapist" and pt["baseline"] is None
        assert pt["dropped"] is False and len(pt["points"]) == 1
        assert len(body["peg"]) == 5 and body["peg"][-1]["total"] == pytest.approx(16 / 3)
        assert [m["date"] for m in body["goal_reviews"]] == [dt.date.today().isoformat()]
        async with engine.connect() as conn:
            reads = (await conn.execute(sa.select(sa.func.count()).where(
                t.audit_events.c.resource_type == "AllianceTrend",
                t.audit_events.c.actor_id == world.staff["acupuncturist"].id,
                t.audit_events.c.action == "read"))).scalar_one()
        assert reads == 1

    async def test_svg_chart(
        self, client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld
    ) -> None:
        plan = await self._scene(client, engine, settings, world)
        got = await client.get(f"/api/v1/care-plans/{plan['id']}/alliance.svg",
                               headers=world.auth("psychologist"))
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].startswith("image/svg+xml")
        root = ET.fromstring(got.text)  # noqa: S314 - our own output, parsed to check it
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        assert root.get("aria-labelledby") == "alliance-chart-title alliance-chart-desc"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and "Chronic low back pain plan" in (title.text or "")
        assert desc is not None and desc.text is not None
        assert "2 relationships" in desc.text and "a drop below the baseline" in desc.text
        assert "1 goal review" in desc.text
        groups = list(root.iter(f"{SVG}g"))
        lines = [g for g in groups if g.get("class") == "relationship"]
        assert {g.get("data-clinician-id") for g in lines} == {
            str(world.staff["psychologist"].id), str(world.staff["physical_therapist"].id)}
        assert len(lines) == 2
        for g in lines:
            assert len(g.findall(f"{SVG}path[@class='alliance-line']")) == 1
        assert len([g for g in groups if g.get("class") == "marker goal-review"]) == 1
        assert len([g for g in groups if g.get("class") == "peg"]) == 1
        assert not list(root.iter(f"{SVG}script"))
        for point in (g for g in groups if g.get("class") == "point"):
            assert point.find(f"{SVG}title") is not None, "every point has a text alternative"

    async def test_no_check_ins_yet(self, client: Any, world: ClinicWorld) -> None:
        plan = await create_plan(client, world)
        got = await client.get(f"/api/v1/care-plans/{plan['id']}/alliance",
                               headers=world.auth("coordinator"))
        assert got.status_code == 200 and got.json()["relationships"] == []
        svg = await client.get(f"/api/v1/care-plans/{plan['id']}/alliance.svg",
                               headers=world.auth("coordinator"))
        assert svg.status_code == 200
        empty = ET.fromstring(svg.text)  # noqa: S314 - our own output, parsed to check it
        assert empty.get("role") == "img"

    async def test_outsiders_and_other_clinics_get_404(
        self, client: Any, world: ClinicWorld, other_world: ClinicWorld
    ) -> None:
        plan = await create_plan(client, world)
        for suffix in ("alliance", "alliance.svg"):
            path = f"/api/v1/care-plans/{plan['id']}/{suffix}"
            assert (await client.get(path, headers=world.auth("outsider"))).status_code == 404
            assert (await client.get(path, headers=other_world.auth("admin"))
                    ).status_code == 404
            assert (await client.get(path)).status_code == 401
