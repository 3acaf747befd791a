"""End to end in a real browser: from a session's minutes to the public's rating (评题).

The room chief holds a session on two key topics (made through the staff API, then live
and ended), opens its minutes from the session's page, fills in both topics' outcomes —
a missing unit is refused beside its field — and publishes after confirming. The town
office's handler finds the outcome in the staff list and records progress with a photo.
A resident on a phone opens the public minutes, follows a topic to its outcome page, sees
the progress and the photo and rates it; the counts beside the rate update. A second
rating from the same phone is refused with the message shown.

Like the other browser tests: Debian's Chromium through Playwright, the real `mashangyi`
command serving the demo city in a subprocess (tests/browser/conftest.py). Expected
texts come from the zh-CN catalogue, as the pages render them.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import BrowserContext, Dialog, Locator, Page, expect

from tests.browser.conftest import LogIn, NewContext, Problems, Server

pytestmark = pytest.mark.browser

CATALOGUE = Path(__file__).resolve().parents[2] / "static" / "i18n" / "zh-CN.json"
ZH: dict[str, str] = json.loads(CATALOGUE.read_text("utf-8"))

# The demo city (server/demo.py): 幸福里's room and its chief; the county's dispatcher; the
# town office of 城南街道 and its handler.
CHIEF = "chief.xingfu"
DISPATCHER = "dispatcher"
HANDLER = "handler.chengnan"
RELAY = "清河区县区中转中心"
TOWN_UNIT = "城南街道办事处"
LEAD = "城南街道办事处 李主任"

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
SESSION_TITLE = "小区停车和绿化协商议事会"
TOPICS = ("小区停车位划线不合理", "小区绿化带被占用种菜")
DECISIONS = (
    "重新规划划线，增设 20 个停车位，由街道办牵头、物业施工。",
    "劝导居民恢复绿化带，街道办组织志愿者补种草皮。",
)
PROGRESS = "施工队已完成北区划线，南区下周施工。"
OPINION = "北区的车位已经好停多了，希望南区也抓紧。"


def t(key: str, **values: object) -> str:
    """The catalogue's text, filled in as static/js/common.js does."""
    text = ZH[key]
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _photo() -> bytes:
    """A small real JPEG: fresh parking lines, say."""
    img = Image.new("RGB", (480, 360), (90, 90, 90))
    draw = ImageDraw.Draw(img)
    for x in range(40, 480, 80):
        draw.rectangle((x, 60, x + 8, 300), fill=(250, 250, 250))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


async def _call(page: Page, method: str, url: str, data: dict[str, Any] | None = None) -> Any:
    """A staff API call from the page's context, with its session cookie and CSRF token."""
    csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert csrf, "a staff page carries its CSRF token"
    response = await page.request.fetch(
        url, method=method, data=data, headers={"X-CSRF-Token": csrf}
    )
    assert response.ok, f"{method} {url}: {response.status} {await response.text()}"
    return await response.json()


async def _key_topic(
    dispatcher: Page, resident: BrowserContext, server: Server, title: str
) -> tuple[int, str]:
    """A resident's topic in 幸福里's room, accepted, sent through the county relay to the
    town office and escalated to a lead: a key topic, ready for an agenda. Its id and the
    resident's tracking link."""
    base = server.base_url
    room = await _call(dispatcher, "GET", f"{base}/api/staff/rooms/{server.demo['room_id']}")
    response = await resident.request.post(
        f"{base}/api/rooms/{room['code']}/topics",
        data={
            "title": title,
            "description": "小区里的问题影响很多住户，希望社区组织大家协商一个办法。",
            "kind": "demand",
        },
    )
    assert response.status == 201, await response.text()
    submitted = await response.json()
    topic_id: int = submitted["id"]
    listed = await _call(dispatcher, "GET", f"{base}/api/staff/units")
    units = {u["name"]: u["id"] for u in listed["units"]}
    version = 1
    for path, data in (
        ("moves", {"to": "accepted"}),
        ("route", {"unit_id": units[RELAY]}),
        ("route", {"unit_id": units[TOWN_UNIT]}),
        ("moves", {"to": "escalated", "lead": LEAD}),
    ):
        moved = await _call(
            dispatcher,
            "POST",
            f"{base}/api/staff/topics/{topic_id}/{path}",
            {**data, "version": version},
        )
        version = moved["version"]
    assert moved["status"] == "escalated", moved
    return topic_id, str(submitted["tracking_url"])


async def _ended_session(host: Page, server: Server, topic_ids: list[int]) -> int:
    """The chief's session on those topics, announced, held and ended through the staff API."""
    starts = datetime.now(UTC) + timedelta(minutes=10)
    session: dict[str, Any] = await _call(
        host,
        "POST",
        f"{server.base_url}/api/staff/deliberations",
        {
            "room_id": server.demo["room_id"],
            "title": SESSION_TITLE,
            "description": "议停车位和绿化带",
            "place": "幸福里社区党群服务中心二楼",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": 40,
            "agenda": topic_ids,
        },
    )
    for to in ("announced", "live", "ended"):
        session = await _call(
            host,
            "POST",
            f"{server.base_url}/api/staff/deliberations/{session['id']}/moves",
            {"to": to, "version": session["version"]},
        )
        assert session["status"] == to, session
    return int(session["id"])


def _topic_form(page: Page, topic_id: int) -> Locator:
    return page.locator(f'fieldset.oc-topic[data-topic="{topic_id}"]')


async def _fill_outcome(page: Page, topic_id: int, decision: str, unit: str | None) -> None:
    form = _topic_form(page, topic_id)
    await form.locator("textarea").fill(decision)
    if unit is not None:
        await form.locator("select").select_option(label=unit)
    await form.locator('input[name$=".lead"]').fill(LEAD)
    due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    await form.locator('input[type="date"]').fill(due)


async def _loaded(image: Locator) -> None:
    await expect(image).to_be_visible()
    handle = await image.element_handle()
    await image.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=handle)


async def test_minutes_published_progress_recorded_and_the_public_rates_once(
    server: Server, log_in: LogIn, new_context: NewContext, problems: Problems
) -> None:
    base = server.base_url
    dispatcher = await log_in(DISPATCHER)
    proposer = await new_context("proposer", **PHONE)
    made = [await _key_topic(dispatcher, proposer, server, title) for title in TOPICS]
    topic_ids = [topic_id for topic_id, _ in made]
    host = await log_in(CHIEF)
    session_id = await _ended_session(host, server, topic_ids)

    # The host opens the minutes from the session's page: the drafted facts and a form per
    # agenda topic.
    await host.goto(f"{base}/staff/deliberations/{session_id}")
    async with host.expect_navigation():
        await host.locator("#minutes-link").click()
    assert host.url == f"{base}/staff/deliberations/{session_id}/minutes"
    await expect(host.locator("#minutes-status")).to_have_text(t("outcomes.minutes.status.draft"))
    for title in TOPICS:
        await expect(host.locator("#facts .minutes-agenda li", has_text=title)).to_have_count(1)
    await expect(host.locator("#body")).to_have_value(re.compile("议定事项"))

    # The second topic without its unit: refused, the error beside the field, nothing saved.
    problems.expected = re.compile(r"status of 400")
    await _fill_outcome(host, topic_ids[0], DECISIONS[0], TOWN_UNIT)
    await _fill_outcome(host, topic_ids[1], DECISIONS[1], None)
    await host.locator("#save").click()
    unit_error = host.locator(f'.field-error[data-for="outcomes.{topic_ids[1]}.unit_id"]')
    await expect(unit_error).not_to_be_empty()
    await expect(host.locator("#minutes-form .form-error")).to_have_text(t("form.check"))
    await expect(host.locator(f'[name="outcomes.{topic_ids[1]}.unit_id"]')).to_have_class(
        re.compile("invalid")
    )
    problems.expected = None

    # Completed and saved, then published after the confirmation.
    await _topic_form(host, topic_ids[1]).locator("select").select_option(label=TOWN_UNIT)
    await host.fill("#body", "会议：小区停车和绿化协商议事会\n议定事项：见下。")
    await host.locator("#save").click()
    await expect(host.locator("#saved")).to_be_visible()
    await expect(unit_error).to_be_empty()
    dialogs: list[str] = []

    async def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.accept()

    host.on("dialog", accept)
    async with host.expect_navigation():
        await host.locator("#publish").click()
    assert dialogs == [t("outcomes.minutes.confirm_publish")]
    await expect(host.locator("#minutes-status")).to_have_text(
        t("outcomes.minutes.status.published")
    )
    await expect(host.locator("textarea")).to_have_count(0)  # read-only now
    await expect(host.locator("#public-minutes")).to_have_attribute(
        "href", f"/minutes/{session_id}"
    )
    await host.screenshot(path="/tmp/browser-minutes-published.png", full_page=True)
    outcome_link = _topic_form(host, topic_ids[0]).locator('a[href^="/outcomes/"]')
    outcome_path = await outcome_link.get_attribute("href")
    assert outcome_path
    outcome_id = int(outcome_path.rsplit("/", 1)[1])

    # The town office's handler finds it among its unit's outcomes and records progress
    # with a photo.
    handler = await log_in(HANDLER)
    await handler.goto(f"{base}/staff/outcomes")
    row = handler.locator(f'#outcome-list tr[data-outcome="{outcome_id}"]')
    await expect(row).to_contain_text(TOPICS[0])
    await expect(row.locator(".flag")).to_have_text(t("outcomes.flag.ok"))
    async with handler.expect_navigation():
        await row.locator("a").first.click()
    await handler.fill("#percent", "40")
    await handler.fill("#note", PROGRESS)
    await handler.set_input_files(
        "#photos", files=[{"name": "lines.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    async with handler.expect_navigation():
        await handler.click("#progress-form button[type=submit]")
    update = handler.locator("#updates .oc-update", has_text=PROGRESS)
    await expect(update).to_contain_text("40%")
    await _loaded(update.locator("img"))
    await handler.screenshot(path="/tmp/browser-outcome-staff.png", full_page=True)

    # A neighbour on a phone reads the public minutes and follows the topic to its outcome.
    neighbour = await (await new_context("neighbour", **PHONE)).new_page()
    await neighbour.goto(f"{base}/d/{session_id}")
    async with neighbour.expect_navigation():
        await neighbour.locator("#minutes-link").click()
    item = neighbour.locator("#outcomes li", has_text=TOPICS[0])
    await expect(item).to_contain_text(DECISIONS[0])
    async with neighbour.expect_navigation():
        await item.locator("a.oc-open").click()
    assert neighbour.url == f"{base}/outcomes/{outcome_id}"
    await expect(neighbour.locator("h1")).to_contain_text(TOPICS[0])
    await expect(neighbour.locator("#decision")).to_have_text(DECISIONS[0])
    await expect(neighbour.locator("#unit")).to_have_text(TOWN_UNIT)
    await expect(neighbour.locator("#lead")).to_have_text(LEAD)
    await expect(neighbour.locator(".oc-progress-label").first).to_have_text("40%")
    await _loaded(neighbour.locator("#updates img"))
    await expect(neighbour.locator("#rate")).to_have_text("—")
    await expect(neighbour.locator('#counts [data-count="total"]')).to_have_text("0")
    # The page fits the phone: nothing wider than the screen.
    width = await neighbour.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width

    # Without a verdict: refused beside the field.
    problems.expected = re.compile(r"status of (400|409)")
    await neighbour.locator(".oc-star", has_text="4★").click()
    await neighbour.locator("#rate-form button[type=submit]").click()
    await expect(neighbour.locator('.field-error[data-for="verdict"]')).not_to_be_empty()
    # Rated: the counts beside the rate update, the opinion shows.
    await neighbour.locator('.oc-verdict:has(input[value="basically_satisfied"])').click()
    await neighbour.fill("#comment", OPINION)
    await neighbour.locator("#rate-form button[type=submit]").click()
    await expect(neighbour.locator("#rated")).to_contain_text(t("outcomes.rate.thanks"))
    await expect(neighbour.locator("#rate-form")).to_be_hidden()
    await expect(neighbour.locator('#counts [data-count="basically_satisfied"]')).to_have_text("1")
    await expect(neighbour.locator('#counts [data-count="total"]')).to_have_text("1")
    await expect(neighbour.locator("#rate")).to_have_text("100.0%")
    await expect(neighbour.locator("#score-average")).to_have_text("4.0")
    await expect(neighbour.locator("#comments .oc-comment", has_text=OPINION)).to_have_count(1)
    await neighbour.screenshot(path="/tmp/browser-outcome-phone.png", full_page=True)

    # Again from the same phone, after a reload: refused, and the page says so.
    await neighbour.reload()
    await expect(neighbour.locator('#counts [data-count="total"]')).to_have_text("1")
    await neighbour.locator(".oc-star", has_text="1★").click()
    await neighbour.locator('.oc-verdict:has(input[value="unsatisfied"])').click()
    await neighbour.locator("#rate-form button[type=submit]").click()
    await expect(neighbour.locator("#rated")).to_have_text(t("outcomes.rate.already"))
    await expect(neighbour.locator('#counts [data-count="total"]')).to_have_text("1")
    problems.expected = None

    # The proposer follows the tracking link to the outcome: the rating is theirs.
    tracking = await proposer.new_page()
    await tracking.goto(made[0][1])
    link = tracking.locator("#topic-outcome #outcome-link")
    await expect(link).to_be_visible()
    href = await link.get_attribute("href")
    assert href and href.startswith(f"/outcomes/{outcome_id}?token="), href
    async with tracking.expect_navigation():
        await link.click()
    await tracking.locator(".oc-star", has_text="5★").click()
    await tracking.locator('.oc-verdict:has(input[value="satisfied"])').click()
    await tracking.fill("#comment", "划线以后好停车了，谢谢。")
    await tracking.locator("#rate-form button[type=submit]").click()
    await expect(tracking.locator("#rated")).to_contain_text(t("outcomes.rate.thanks"))
    await expect(tracking.locator('#counts [data-count="total"]')).to_have_text("2")
    proposed = tracking.locator("#comments .oc-comment", has_text="划线以后好停车了")
    await expect(proposed).to_contain_text(t("outcomes.proposer"))

    # Staff see the ratings beside the progress.
    await handler.reload()
    await expect(handler.locator('#counts [data-count="basically_satisfied"]')).to_have_text("1")
    await expect(handler.locator('#counts [data-count="satisfied"]')).to_have_text("1")
    await expect(handler.locator("#staff-comments")).to_contain_text(OPINION)
    assert problems.seen == []
