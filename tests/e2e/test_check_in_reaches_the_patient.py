"""The issue's story, in `dev`: a coordinator makes a patient's check-in due now; within a
minute the mail sink holds exactly one message with a link; opening it in headless
Chromium and answering stores the answers; the link then says it was already used."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.devserver import DevServer, last_line_token

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/p/[A-Za-z0-9_\-.]+)")
USED = {"This link has already been used", "Este enlace ya se usó"}


CHECK_IN_SUBJECTS = {"How is our work together going?", "¿Cómo va nuestro trabajo juntos?"}


def _points(trend: dict[str, Any]) -> int:
    return sum(len(r["points"]) for r in trend["relationships"])


def _parse(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _check_ins_to(folder: Path, before: set[Path], address: str,
                  timeout: float) -> list[EmailMessage]:
    """The check-in messages to `address` that arrived after `before` (the dev worker's
    other schedulers, e.g. goal-review reminders, write to the same sink)."""
    deadline = time.monotonic() + timeout
    found: list[EmailMessage] = []
    while time.monotonic() < deadline:
        found = [m for m in map(_parse, sorted(set(folder.glob("*.eml")) - before))
                 if m["To"] == address and m["Subject"] in CHECK_IN_SUBJECTS]
        if found:
            time.sleep(2)  # anything else that was going to arrive with it
            return [m for m in map(_parse, sorted(set(folder.glob("*.eml")) - before))
                    if m["To"] == address and m["Subject"] in CHECK_IN_SUBJECTS]
        time.sleep(1)
    return found


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")
def test_check_in_due_now_reaches_the_patient_once_and_the_answer_is_stored(
        dev: DevServer) -> None:
    from playwright.sync_api import sync_playwright

    coordinator = dev.auth(last_line_token(dev.cli("token", "--clinic", "demo",
                                                   "--role", "coordinator")))
    with httpx.Client(base_url=dev.base_url, timeout=30) as api:
        plan = api.get("/api/v1/care-plans", params={"status": "active", "limit": 1},
                       headers=coordinator).json()["items"][0]
        patient = api.get(f"/api/v1/patients/{plan['patient_id']}", headers=coordinator).json()
        address = next(c["value"] for c in patient["contact_points"] if c["system"] == "email")
        mail = dev.home / "mail"
        before = set(mail.glob("*.eml"))
        alliance_url = f"/api/v1/care-plans/{plan['id']}/alliance"
        points_before = _points(api.get(alliance_url, headers=coordinator).json())
        created = api.post("/api/v1/check-ins", headers=coordinator, json={
            "care_plan_id": plan["id"], "due_at": dt.datetime.now(dt.UTC).isoformat(),
            "send_now": True})
        assert created.status_code in (200, 201), created.text
        check_in = created.json()
        arrived = _check_ins_to(mail, before, address, timeout=90)
        assert len(arrived) == 1, f"expected one message within a minute, got {len(arrived)}"
        body = arrived[0].get_body(("plain",))
        assert body is not None
        link = LINK.search(body.get_content())
        assert link is not None, "the message carries a link to the patient's page"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(link.group(1))
            names = page.eval_on_selector_all(
                "input[type=radio]", "els => [...new Set(els.map(e => e.name))]")
            assert names, "the check-in asks questions"
            for name in names:
                page.locator(f"input[type=radio][name='{name}']").nth(2).check()
            page.locator("button[type=submit]").first.click()
            page.wait_for_load_state()
            assert page.locator("h1").first.inner_text().startswith(("Thank you", "Gracias"))
            page.goto(link.group(1))
            assert page.locator("h1").first.inner_text() in USED
            browser.close()
        answered = api.get(f"/api/v1/check-ins/{check_in['id']}", headers=coordinator).json()
        assert answered["status"] == "answered"
        # the answer moves the alliance chart: one more point, for the clinician asked about
        trend = api.get(alliance_url, headers=coordinator).json()
        assert _points(trend) == points_before + 1
        chart = api.get(f"{alliance_url}.svg", headers=coordinator)
        assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg")
