"""The statistics dashboard in a real browser: figures and ECharts panels rendered from the
demo city, a drill-down into a region with breadcrumbs, and a figure that changes live
(pushed over socket.io, the page never reloaded) after a resident raises a topic.

Drives Debian's Chromium through Playwright against the real `mashangyi` command serving
the demo city (tests/browser/conftest.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.conftest import LogIn, NewContext, Problems, Server

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/browser-dashboard.png")
LIVE_TIMEOUT_MS = 30_000  # a push tick (5 s) plus the cache period (5 s), with room to spare


async def test_dashboard_renders_drills_down_and_updates_live(
    server: Server, log_in: LogIn, new_context: NewContext, problems: Problems
) -> None:
    # The room's code, for the resident's submission later (what its QR code encodes).
    staff = await log_in("dispatcher")
    response = await staff.request.get(
        f"{server.base_url}/api/staff/rooms/{server.demo['room_id']}"
    )
    assert response.ok, await response.text()
    code = (await response.json())["public_url"].rstrip("/").rsplit("/", 1)[-1]
    await staff.context.close()

    screen = await new_context("screen", viewport={"width": 1600, "height": 900})
    page = await screen.new_page()
    await page.goto(f"{server.base_url}/dashboard")
    await page.evaluate("window.__sameDocument = true")
    figure = page.locator("#fig-topics_collected")
    await expect(figure).to_have_text(re.compile(r"^\d[\d,]*$"))
    for key in ("sessions_held", "petition_risks_defused", "livelihood_solved"):
        await expect(page.locator(f"#fig-{key}")).to_have_text(re.compile(r"^\d[\d,]*$"))
    for chart in ("trend", "regions", "categories", "subjects", "satisfaction"):
        await expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)
    await expect(page.locator("#live-state")).to_have_class("state-live")
    await expect(page.locator("#sat-rate")).not_to_have_text("")
    before = int((await figure.inner_text()).replace(",", ""))
    assert before > 0
    await page.screenshot(path=str(SCREENSHOT))

    # Drill down: the first region below, then back up by the breadcrumbs.
    crumbs = page.locator("#crumbs a, #crumbs .current")
    top_crumbs = await crumbs.count()
    first_child = page.locator("#children a").first
    child_name = (await first_child.inner_text()).strip()
    await first_child.click()
    await expect(page.locator("#crumbs .current")).to_have_text(child_name)
    await expect(crumbs).to_have_count(top_crumbs + 1)
    assert re.search(r"[?&]region=\d+", page.url), page.url
    await page.locator("#crumbs a").first.click()
    await expect(crumbs).to_have_count(top_crumbs)
    await expect(figure).to_have_text(f"{before:,}")

    # A resident raises a topic; the open screen shows it without reloading.
    phone = await new_context("resident", viewport={"width": 390, "height": 844})
    submitted = await phone.request.post(
        f"{server.base_url}/api/rooms/{code}/topics",
        data={
            "title": "小区门口的路灯坏了",
            "description": "小区东门口的两盏路灯坏了一个多星期，晚上出入很不方便。",
            "kind": "demand",
        },
    )
    assert submitted.status == 201, await submitted.text()
    await expect(figure).to_have_text(f"{before + 1:,}", timeout=LIVE_TIMEOUT_MS)
    assert await page.evaluate("window.__sameDocument === true")

    # The same page on a phone: the figures still read.
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(figure).to_be_visible()

    await phone.close()
    await screen.close()
    assert problems.seen == []
