"""The patient pages in a real browser (headless Chromium) against a real server: a check-in
answered with the keyboard alone on a phone-sized screen, what the database then holds, the
link refused when reopened, visible focus, and text contrast of at least 4.5:1.

Screenshots go to /tmp/concord-pages-*.png for a person to look at."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.check_in import ALLIANCE_PULSE, PEG
from service import links
from service.db import tables as t
from service.db.uow import unit_of_work
from service.settings import Settings
from tests.browser.conftest import LiveServer
from tests.factories import ClinicWorld, add_goal, create_plan

pytestmark = pytest.mark.asyncio
PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp")

# Every element whose text the pages show, with its effective background: the nearest
# ancestor (or itself) with a non-transparent background colour.
CONTRAST_JS = """
() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('.vh')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    out.push({tag: el.tagName, cls: el.className, text: el.textContent.trim().slice(0, 30),
              color: parse(style.color).slice(0, 3), background: background(el)});
  }
  return out;
}
"""


def luminance(rgb: list[float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


async def check_in_link(client: Any, engine: AsyncEngine, settings: Settings,
                        world: ClinicWorld, server: LiveServer) -> tuple[str, uuid.UUID, str]:
    plan = await create_plan(client, world)
    await add_goal(client, world, plan["id"], "physical_therapist",
                   "Walk to the corner shop and back")
    check_in_id = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    async with unit_of_work(engine) as uow:
        await uow.conn.execute(t.check_ins.insert().values(
            id=check_in_id, clinic_id=world.id, care_plan_id=uuid.UUID(plan["id"]),
            patient_id=uuid.UUID(plan["patient_id"]),
            clinician_id=world.staff["psychologist"].id, due_at=now, deliver_at=now,
            status="queued", occurrence_key=f"browser:{check_in_id}",
            questionnaires=[PEG, ALLIANCE_PULSE]))
        token = await links.issue(
            uow, secret=settings.secret_key, clinic_id=world.id,
            patient_id=uuid.UUID(plan["patient_id"]), purpose="check-in",
            care_plan_id=uuid.UUID(plan["id"]), check_in_id=check_in_id, now=now)
        plan_token = await links.issue(
            uow, secret=settings.secret_key, clinic_id=world.id,
            patient_id=uuid.UUID(plan["patient_id"]), purpose="plan",
            care_plan_id=uuid.UUID(plan["id"]), now=now)
    return links.url(server.base_url, token), check_in_id, links.url(server.base_url, plan_token)


async def screens(page: Any, name: str) -> None:
    """The whole page as phone-screen-sized pictures, top to bottom (easier to look at than
    one very tall one)."""
    height = await page.evaluate("document.documentElement.scrollHeight")
    for number, top in enumerate(range(0, height, PHONE["height"]), start=1):
        clip = {"x": 0, "y": top, "width": PHONE["width"],
                "height": min(PHONE["height"], height - top)}
        await page.screenshot(path=str(SHOTS / f"concord-pages-{name}-{number}.png"),
                              clip=clip, full_page=True)


async def focused(page: Any) -> dict[str, Any]:
    found: dict[str, Any] = await page.evaluate("""() => {
        const el = document.activeElement;
        const box = el.closest('label') || el;
        const style = getComputedStyle(box);
        return {tag: el.tagName, name: el.name || '', value: el.value || '', id: el.id || '',
                checked: !!el.checked, outline: style.outlineStyle,
                outlineWidth: parseFloat(style.outlineWidth), height: box.offsetHeight,
                width: box.offsetWidth};
    }""")
    return found


async def test_a_check_in_answered_with_the_keyboard_only_on_a_phone(
    client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld,
    live_server: LiveServer, browser: Any,
) -> None:
    url, check_in_id, plan_url = await check_in_link(client, engine, settings, world,
                                                     live_server)
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2,
                                        is_mobile=True, has_touch=True, locale="es-ES")
    page = await context.new_page()
    try:
        response = await page.goto(url)
        assert response is not None and response.status == 200
        assert await page.evaluate("document.documentElement.lang") == "es"
        assert "Rosa" in await page.inner_text("body")
        assert "Delgado" not in await page.content()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "no sideways scrolling on a phone"
        await page.screenshot(path=str(SHOTS / "concord-pages-check-in.png"), full_page=True)
        await screens(page, "check-in")

        # Submitting nothing: the form comes back with the error summary focused.
        for _ in range(40):
            await page.keyboard.press("Tab")
            if (await focused(page))["tag"] == "BUTTON":
                break
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "Faltan algunas respuestas" in await page.inner_text("#errors")
        # The error summary takes the focus (autofocus, no script), so a screen reader
        # reads it and the next Tab goes to the questions.
        await page.wait_for_function("document.activeElement.id === 'errors'", timeout=5000)
        await page.screenshot(path=str(SHOTS / "concord-pages-errors.png"))

        # Answer every question: Tab into each radio group, arrows choose.
        await page.goto(url)
        wanted = {"peg.pain": 7, "peg.enjoyment": 8, "peg.activity": 6,
                  "concord-alliance-pulse.goal": 4, "concord-alliance-pulse.task": 5,
                  "concord-alliance-pulse.bond": 3, "concord-alliance-pulse.heard": 4}
        for name, value in wanted.items():
            await page.keyboard.press("Tab")
            now_on = await focused(page)
            assert now_on["tag"] == "INPUT" and now_on["name"] == name, now_on
            assert now_on["outline"] == "solid" and now_on["outlineWidth"] >= 2, "visible focus"
            assert now_on["height"] >= 44 and now_on["width"] >= 44, "a big touch target"
            await page.keyboard.press("Space")  # choose the first option
            first = 0 if name.startswith("peg.") else 1
            for _ in range(value - first):
                await page.keyboard.press("ArrowRight")
            chosen = await focused(page)
            assert chosen["checked"] and chosen["value"] == str(value), chosen
            if name == "concord-alliance-pulse.goal":
                await page.screenshot(path=str(SHOTS / "concord-pages-focus.png"))
        await page.keyboard.press("Tab")
        assert (await focused(page))["tag"] == "BUTTON"
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "Gracias, Rosa" in await page.inner_text("h1")
        await page.screenshot(path=str(SHOTS / "concord-pages-thanks.png"))

        async with engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(t.questionnaire_responses.c.questionnaire,
                          t.questionnaire_responses.c.scores)
                .where(t.questionnaire_responses.c.check_in_id == check_in_id))).all()
            status = await conn.scalar(
                sa.select(t.check_ins.c.status).where(t.check_ins.c.id == check_in_id))
        assert {q: s for q, s in rows} == {
            PEG: {"pain": 7, "enjoyment": 8, "activity": 6, "total": 7.0},
            ALLIANCE_PULSE: {"goal": 4, "task": 5, "bond": 3, "heard": 4, "mean": 4.0},
        }
        assert status == "answered"

        again = await page.goto(url)
        assert again is not None and again.status == 410
        assert "Este enlace ya se usó" in await page.inner_text("h1")
        await page.screenshot(path=str(SHOTS / "concord-pages-used.png"))

        plan = await page.goto(plan_url)
        assert plan is not None and plan.status == 200
        assert "Walk to the corner shop and back" in await page.inner_text("body")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.screenshot(path=str(SHOTS / "concord-pages-plan.png"), full_page=True)
        await screens(page, "plan")
    finally:
        await context.close()
    assert url.split("/p/")[1] not in live_server.logs(), "the token never reaches the logs"
    assert "/p/{token}" in live_server.logs()


async def test_every_text_has_a_contrast_of_at_least_4_5_to_1(
    client: Any, engine: AsyncEngine, settings: Settings, world: ClinicWorld,
    live_server: LiveServer, browser: Any,
) -> None:
    url, _, plan_url = await check_in_link(client, engine, settings, world, live_server)
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    try:
        checked = 0
        await page.goto(url)
        await page.check("#peg-pain-7", force=True)  # a chosen option has its own colours
        async with page.expect_navigation():
            await page.click("button[type=submit]")  # an error page has its own colours too
        for target in (None, url, plan_url):
            if target is not None:
                await page.goto(target)
            for element in await page.evaluate(CONTRAST_JS):
                ratio = contrast(element["color"], element["background"])
                assert ratio >= 4.5, element
                checked += 1
        assert checked > 50
    finally:
        await context.close()
