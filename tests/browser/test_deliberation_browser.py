"""End to end in a real browser: a deliberation session (协商议事会) from scheduling to
check-in.

The county dispatcher escalates a demo topic (through the API, as the topic page would),
then on the staff pages schedules a session in 幸福里 with that topic on its agenda
(picked by number) and announces it. A resident on a phone opens the session's public
page, signs up, and lands on their own page with the check-in QR. The dispatcher, as the
host, opens the QR's link (what scanning it with a phone does) and confirms the
check-in; the resident's page and the attendance list then say so.

Like the other browser tests: Debian's Chromium through Playwright, the real `mashangyi`
command serving the demo city (tests/browser/conftest.py); texts from the zh-CN catalogue.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Dialog, Page, expect

from server.core.clock import LOCAL_TZ
from tests.browser.conftest import LogIn, NewContext, Problems, Server

pytestmark = pytest.mark.browser

CATALOGUE = Path(__file__).resolve().parents[2] / "static" / "i18n" / "zh-CN.json"
ZH: dict[str, str] = json.loads(CATALOGUE.read_text("utf-8"))
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)
SCREENSHOT = Path("/tmp/browser-deliberation-signup.png")
TOPIC = "物业费上涨没有公示"  # a demo topic of 清河区, raised today
ROOM = "幸福里社区协商议事室"
TITLE = "加装电梯费用分摊协商议事会"
PLACE = "幸福里社区党群服务中心二楼"
NAME = "张阿姨"
# The empty sign-up the test sends on purpose shows up in Chrome's console.
EXPECTED_REFUSAL = re.compile(r"Failed to load resource: the server responded with a status of 400")


def t(key: str, **values: object) -> str:
    text = ZH[key]
    return text.format(**values) if values else text


async def _api(page: Page, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A staff API call from the page's session, with its CSRF token."""
    csrf = await page.get_attribute('meta[name="csrf-token"]', "content")
    assert csrf
    response = await page.request.fetch(
        path, method=method, data=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.ok, await response.text()
    data: dict[str, Any] = await response.json()
    return data


async def _escalated_topic(page: Page, server: Server) -> str:
    """A demo topic accepted, sent through the relay to the town office and escalated;
    its number."""
    listed = await page.request.get(f"{server.base_url}/api/staff/topics?limit=100")
    topic = next(x for x in (await listed.json())["topics"] if x["title"] == TOPIC)
    units = (await (await page.request.get(f"{server.base_url}/api/staff/units")).json())["units"]
    unit_id = {u["name"]: u["id"] for u in units}
    base = f"{server.base_url}/api/staff/topics/{topic['id']}"
    moved = await _api(page, "POST", f"{base}/moves", {"to": "accepted", "version": 1})
    for unit in ("清河区县区中转中心", "城南街道办事处"):
        moved = await _api(
            page, "POST", f"{base}/route", {"version": moved["version"], "unit_id": unit_id[unit]}
        )
    moved = await _api(
        page,
        "POST",
        f"{base}/moves",
        {"to": "escalated", "version": moved["version"], "lead": "清河区住房和城乡建设局"},
    )
    assert moved["status"] == "escalated"
    return str(topic["number"])


async def test_a_host_schedules_a_resident_signs_up_on_a_phone_and_is_checked_in(
    server: Server, log_in: LogIn, new_context: NewContext, problems: Problems
) -> None:
    problems.expected = EXPECTED_REFUSAL
    host = await log_in("dispatcher")

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    host.on("dialog", accept)
    number = await _escalated_topic(host, server)

    # Schedule: the staff list's form, with the agenda picked by number.
    await host.click("nav a[href='/staff/deliberations']")
    await host.wait_for_url(f"{server.base_url}/staff/deliberations")
    form = host.locator("#create-form")
    room = form.locator("#f-room option", has_text=ROOM)
    await form.locator("#f-room").select_option(await room.get_attribute("value"))
    starts = (datetime.now(LOCAL_TZ) + timedelta(days=2)).replace(hour=19, minute=30)
    await form.locator("#f-title").fill(TITLE)
    await form.locator("#f-starts").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    await form.locator("#f-ends").fill((starts + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    await form.locator("#f-place").fill(PLACE)
    await form.locator("#f-capacity").fill("30")
    await form.locator("#f-host").fill("王室长")
    await form.locator(".agenda-number").fill(number.lower())
    await form.locator(".agenda-add").click()
    await expect(form.locator(f'.agenda-list li[data-number="{number}"]')).to_contain_text(TOPIC)
    async with host.expect_navigation():
        await form.locator("button[type=submit]").click()
    assert re.search(r"/staff/deliberations/\d+$", host.url), host.url
    session_id = int(host.url.rsplit("/", 1)[1])
    await expect(host.locator("#session-status")).to_have_text(t("delib.status.draft"))

    # Announce (confirmed in a dialog); the agenda's topic is now scheduled for it.
    async with host.expect_navigation():
        await host.click("#move-form button.move-announced")
    await expect(host.locator("#session-status")).to_have_text(t("delib.status.announced"))
    await expect(host.locator("#agenda .agenda-list li")).to_contain_text(t("status.scheduled"))
    await expect(host.locator("#host-link")).to_have_attribute("href", f"/host/{session_id}")

    # A resident signs up on a phone.
    phone = await new_context(
        "resident",
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        user_agent=PHONE_UA,
    )
    resident = await phone.new_page()
    await resident.goto(f"{server.base_url}/d/{session_id}")
    await expect(resident.locator("main h1")).to_have_text(TITLE)
    await expect(resident.locator("#seats")).to_have_text(t("delib.seats_left", n=30))
    await expect(resident.locator(".agenda-list")).to_contain_text(number)
    await expect(resident.locator("#ics-link")).to_have_attribute("href", f"/d/{session_id}.ics")
    await resident.click("#signup-form button[type=submit]")  # empty: refused, nothing stored
    await expect(resident.locator('#signup-form .field-error[data-for="name"]')).not_to_be_empty()
    await resident.fill("#s-name", NAME)
    await resident.select_option("#s-kind", "party_member")
    await resident.fill("#s-phone", "138 1234 5678")
    await resident.check("#signup-form input[name=consent]")
    async with resident.expect_navigation():
        await resident.click("#signup-form button[type=submit]")
    assert re.search(r"/signup/[\w-]+$", resident.url), resident.url
    token = resident.url.rsplit("/", 1)[1]
    await expect(resident.locator("#reg-status")).to_have_text(t("delib.signup.you_have_a_seat"))
    qr = resident.locator("#checkin-qr svg")
    await expect(qr).to_be_visible()
    box = await qr.bounding_box()
    assert box is not None and 200 <= box["width"] <= 390, box
    assert await resident.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "the page scrolls sideways on a phone"
    )
    await expect(resident.locator("main")).to_contain_text("138****5678")
    await resident.screenshot(path=str(SCREENSHOT), full_page=True)

    # The host scans the QR: its link opens the check-in page, then confirms.
    await host.goto(f"{server.base_url}/checkin/{token}")
    await expect(host.locator(".checkin-name")).to_have_text(NAME)
    await host.click("#checkin-confirm")
    await expect(host.locator("#checkin-done")).to_contain_text(NAME)
    await expect(host.locator("#checkin-confirm")).to_be_hidden()
    await host.reload()
    await expect(host.locator("#checkin-done")).to_be_visible()  # already checked in

    await resident.reload()
    await expect(resident.locator("#reg-status")).to_contain_text("签到")
    await expect(resident.locator("#checkin-qr")).to_have_count(0)

    await host.goto(f"{server.base_url}/staff/deliberations/{session_id}")
    row = host.locator("#attendees tr", has_text=NAME)
    await expect(row).to_contain_text("✓")
    await expect(row).to_contain_text(t("delib.kind.party_member"))
    await expect(row).not_to_contain_text("13812345678")

    await phone.close()
    await host.context.close()
    assert problems.seen == []
