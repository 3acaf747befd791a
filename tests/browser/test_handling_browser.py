"""End to end in a real browser: handling a topic under supervision (办理与督办).

A dispatcher accepts a resident's topic and sends it through the county relay to the
town office; the office's handler records first contact, progress, a pause and an
extension request on the topic page; the dispatcher approves the extension and the
handler is notified; the handler resolves with a result photo the resident sees on the
tracking page. Then near-identical topics from two rooms: the 相似议题 section, the merge,
the resident's link following the survivor, and the cluster page (普遍性问题). And the
topic list's deadline badges and filters.

Like the other browser tests: Debian's Chromium through Playwright, the real `mashangyi`
command serving the demo city in a subprocess (tests/browser/conftest.py). Expected
texts come from the zh-CN catalogue, as the pages render them.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import BrowserContext, Dialog, Locator, Page, Request, Route, expect

from tests.browser.conftest import LogIn, NewContext, Problems, Server

pytestmark = pytest.mark.browser

CATALOGUE = Path(__file__).resolve().parents[2] / "static" / "i18n" / "zh-CN.json"
ZH: dict[str, str] = json.loads(CATALOGUE.read_text("utf-8"))

# The demo city (server/demo.py): the handler works for the town office of 城南街道,
# which a topic of 清河区 reaches through the county's relay.
HANDLER = "handler.chengnan"
RELAY = "清河区县区中转中心"
TOWN_UNIT = "城南街道办事处"
XINGFU = "幸福里社区协商议事室"  # 城南街道
SHUXIANG = "书香苑社区协商议事室"  # 城南街道
HEPAN = "河畔社区协商议事室"  # 城南街道
WANGYING = "王营村协商议事室"  # 王营镇, another town of 清河区

# The refusals the tests provoke on purpose show up in Chrome's console.
EXPECTED_REFUSAL = re.compile(r"Failed to load resource: the server responded with a status of 400")

TITLE = "小区北门的井盖松动"
DESCRIPTION = "幸福里小区北门人行道上的井盖松动，踩上去会翻，晚上看不清，已经有老人差点摔倒。"
CONTACT_NOTE = "已与居民通话，约好周三到现场查看"
PROGRESS = "市政养护队已到现场查看，井盖底座需要更换，配件已申领。"
PAUSE_REASON = "等待居民提供井盖位置照片"
EXTENSION_REASON = "井盖配件需从厂家订货"
APPROVAL_NOTE = "同意，请抓紧"
RESULT = "已更换新的井盖和底座，并加装防滑圈，经居民确认已平稳。"


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Deadline reminders every second, so one that falls due is told while a test waits."""
    return {"MASHANGYI_REMINDER_SECONDS": "1"}


def t(key: str, **values: object) -> str:
    """The catalogue's text, filled in as the templates and static/js/common.js do."""
    text = ZH[key]
    return text.format(**values) if values else text


def _photo() -> bytes:
    """A small real JPEG: the repaired manhole cover, say."""
    img = Image.new("RGB", (480, 360), (120, 120, 120))
    draw = ImageDraw.Draw(img)
    draw.ellipse((120, 60, 360, 300), fill=(60, 60, 60), outline=(230, 200, 40), width=12)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


async def _room_codes(page: Page, server: Server) -> dict[str, str]:
    """The codes of the rooms in the staff member's territory, by room name."""
    response = await page.request.get(f"{server.base_url}/api/staff/rooms?limit=100")
    assert response.ok, await response.text()
    return {room["name"]: room["code"] for room in (await response.json())["rooms"]}


async def _submit(
    resident: BrowserContext, server: Server, code: str, title: str, description: str
) -> dict[str, Any]:
    """A resident's topic through the public API, as the room page sends it: its id,
    number and private tracking link."""
    response = await resident.request.post(
        f"{server.base_url}/api/rooms/{code}/topics",
        data={"title": title, "description": description, "kind": "demand"},
    )
    assert response.status == 201, await response.text()
    submitted: dict[str, Any] = await response.json()
    return submitted


def _deadline(page: Page, stage: str) -> Locator:
    return page.locator(f'#deadlines tr.deadline[data-stage="{stage}"]')


def _status(page: Page) -> Locator:
    return page.locator("main .status").first


async def _click_and_reload(page: Page, target: str | Locator) -> None:
    """Click what submits a form that reloads (or leaves) the page once it worked, and
    wait for that."""
    async with page.expect_navigation():
        await (page.locator(target) if isinstance(target, str) else target).click()


async def _route(page: Page, unit: str) -> None:
    """Send the open topic to ``unit`` with the topic page's 派单 form."""
    option = page.locator("#unit option", has_text=unit)
    await expect(option).to_have_count(1)
    value = await option.get_attribute("value")
    assert value
    await page.select_option("#unit", value)
    await _click_and_reload(page, "#route-form button[type=submit]")


async def _accept_and_assign(page: Page, server: Server, topic_id: int) -> None:
    """受理, then 派单 to the county relay and on to the town office (已交办)."""
    await page.goto(f"{server.base_url}/staff/topics/{topic_id}")
    await _click_and_reload(page, "#move-form button.move-accepted")
    await expect(_status(page)).to_have_text(t("status.accepted"))
    await _route(page, RELAY)
    await expect(_status(page)).to_have_text(t("status.dispatched"))
    await _route(page, TOWN_UNIT)
    await expect(_status(page)).to_have_text(t("status.assigned"))


def _watch_posts(page: Page) -> list[str]:
    """The URLs of the POSTs the page sends from now on."""
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    return posts


async def _unread(page: Page, server: Server) -> int:
    response = await page.request.get(f"{server.base_url}/api/staff/notifications?unread=1")
    assert response.ok, await response.text()
    count: int = (await response.json())["unread"]
    return count


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 15) -> None:
    """Wait until ``check()`` holds (for what the server does on its own time)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"still not {what} after {seconds} s"
        await asyncio.sleep(0.2)


async def _loaded(image: Locator) -> None:
    await expect(image).to_be_visible()
    handle = await image.element_handle()
    await image.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=handle)


async def test_topic_is_routed_handled_supervised_and_resolved(
    server: Server, log_in: LogIn, new_context: NewContext, problems: Problems
) -> None:
    problems.expected = EXPECTED_REFUSAL
    dispatcher = await log_in("dispatcher")
    codes = await _room_codes(dispatcher, server)
    resident = await new_context("resident")
    submitted = await _submit(resident, server, codes[XINGFU], TITLE, DESCRIPTION)
    topic_url = f"{server.base_url}/staff/topics/{submitted['id']}"

    # 1. The dispatcher accepts it (the accept stage: one working day, so already near)
    # and sends it on; at the town office its contact and resolution deadlines run.
    await dispatcher.goto(topic_url)
    await expect(_status(dispatcher)).to_have_text(t("status.submitted"))
    await expect(dispatcher.locator("#deadlines h2")).to_have_text(t("deadline.title"))
    accept = _deadline(dispatcher, "accept")
    await expect(accept.locator("td").first).to_have_text(t("stage.accept"))
    await expect(accept.locator(".flag")).to_have_text(t("flag.near"))
    await expect(accept.locator(".flag")).to_have_class(re.compile(r"\bflag-near\b"))
    await _accept_and_assign(dispatcher, server, submitted["id"])
    await expect(accept.locator(".outcome")).to_have_text(t("outcome.met"))
    await expect(dispatcher.locator("#deadlines tr.deadline")).to_have_count(3)
    for stage in ("contact", "resolve_individual"):
        row = _deadline(dispatcher, stage)
        await expect(row.locator("td").first).to_have_text(t(f"stage.{stage}"))
        await expect(row.locator(".flag")).to_have_text(t("flag.ok"))
    assert t("stage.contact") == "首次联系"
    assert t("stage.resolve_individual") == "办结（一般议题）"
    await expect(dispatcher.locator(".timeline")).to_contain_text(f"→ {TOWN_UNIT}")

    # 2. The town office's handler opens it.
    handler = await log_in(HANDLER)
    posts = _watch_posts(handler)
    await handler.goto(topic_url)
    await expect(_status(handler)).to_have_text(t("status.assigned"))
    await expect(handler.locator("#handling h2")).to_have_text(t("handling.title"))
    # No routing or merging for a handler.
    await expect(handler.locator("#route-form")).to_have_count(0)
    await expect(handler.locator("#similar")).to_have_attribute("data-can-merge", "0")
    await expect(handler.locator("#similar-state")).to_have_text(t("similar.none"))
    contact, resolve = _deadline(handler, "contact"), _deadline(handler, "resolve_individual")

    # First contact, by phone: the contact deadline is met.
    await handler.select_option("#contact-method", label=t("contact.phone"))
    await handler.fill("#contact-note", CONTACT_NOTE)
    await _click_and_reload(handler, "#contact-form button[type=submit]")
    await expect(contact.locator(".outcome")).to_have_text(t("outcome.met"))
    await expect(resolve.locator(".flag")).to_have_text(t("flag.ok"))
    contacted = handler.locator(".timeline li.event-contact")
    await expect(contacted).to_contain_text(t("event.contact"))
    await expect(contacted).to_contain_text(f"{t('contact.phone')}：{CONTACT_NOTE}")

    # A public progress note joins the timeline.
    await handler.fill("#progress-note", PROGRESS)
    await expect(handler.locator('#progress-form input[name="public"]')).to_be_checked()
    await _click_and_reload(handler, "#progress-form button[type=submit]")
    progress = handler.locator(".timeline li.event-progress")
    await expect(progress).to_contain_text(t("event.progress"))
    await expect(progress).to_contain_text(PROGRESS)
    await expect(progress).not_to_contain_text(t("topic.internal"))

    # 7. A pause needs a reason: empty, the browser's `required` keeps the form from
    # being sent; blanks, the server refuses it next to the field. Nothing changes.
    pause_button = handler.locator("#pause-form button[type=submit]")
    await expect(pause_button).to_have_text(t("deadline.pause"))
    await pause_button.click()
    assert await handler.locator("#pause-reason").evaluate("e => e.validity.valueMissing")
    await handler.fill("#pause-reason", "   ")
    await pause_button.click()
    await expect(handler.locator('#pause-form .field-error[data-for="reason"]')).to_have_text(
        "Required."
    )
    await expect(handler.locator("#pause-form .form-error")).to_have_text(t("form.check"))
    await expect(handler.locator("#pause-reason")).to_have_class(re.compile(r"\binvalid\b"))
    assert sum(p.endswith("/pause") for p in posts) == 1  # the blanks only
    await handler.reload()
    await expect(resolve.locator(".flag")).to_have_text(t("flag.ok"))
    await expect(handler.locator(".timeline li.event-pause")).to_have_count(0)

    # 2. Paused with a reason: the clock stops, and 恢复计时 replaces the pause form.
    await handler.fill("#pause-reason", PAUSE_REASON)
    await _click_and_reload(handler, pause_button)
    await expect(resolve.locator(".flag")).to_have_text(t("flag.paused"))
    await expect(resolve.locator(".flag")).to_have_class(re.compile(r"\bflag-paused\b"))
    await expect(resolve).to_contain_text(PAUSE_REASON)
    resume_button = handler.locator("#resume-form button[type=submit]")
    await expect(resume_button).to_have_text(t("deadline.resume"))
    await expect(handler.locator("#pause-form")).to_have_count(0)
    await expect(handler.locator(".timeline li.event-pause")).to_contain_text(PAUSE_REASON)

    # Resumed: the clock runs again (the same day: no working day was lost).
    await _click_and_reload(handler, resume_button)
    await expect(resolve.locator(".flag")).to_have_text(t("flag.ok"))
    await expect(resolve).not_to_contain_text(PAUSE_REASON)
    await expect(handler.locator("#resume-form")).to_have_count(0)
    await expect(pause_button).to_be_visible()
    await expect(handler.locator(".timeline li.event-resume")).to_contain_text(t("event.resume"))

    # 7. An extension of 99 working days: the browser refuses it (max 30) without
    # sending it; a client without that check is refused by the server, next to the
    # field. Nothing is asked for.
    due_before = datetime.fromisoformat(
        await resolve.locator("time").get_attribute("datetime") or ""
    )
    extension_button = handler.locator("#extension-form button[type=submit]")
    await expect(extension_button).to_have_text(t("extension.request"))
    await handler.fill("#ext-days", "99")
    await handler.fill("#ext-reason", EXTENSION_REASON)
    await extension_button.click()
    assert await handler.locator("#ext-days").evaluate("e => e.validity.rangeOverflow")
    assert not [p for p in posts if p.endswith("/extensions")]
    await handler.locator("#ext-days").evaluate("e => e.removeAttribute('max')")
    await extension_button.click()
    await expect(handler.locator('#extension-form .field-error[data-for="days"]')).to_have_text(
        "1 to 30."
    )
    await expect(handler.locator("#extension-form .form-error")).to_have_text(t("form.check"))
    await expect(handler.locator("#ext-days")).to_have_class(re.compile(r"\binvalid\b"))
    await handler.reload()
    await expect(handler.locator("#deadlines tr.extension")).to_have_count(0)

    # 2. Three working days, with a reason: waiting for a supervisor, who is not the handler.
    await handler.fill("#ext-days", "3")
    await handler.fill("#ext-reason", EXTENSION_REASON)
    await _click_and_reload(handler, extension_button)
    asked = handler.locator("#deadlines tr.extension")
    await expect(asked).to_have_count(1)
    await expect(asked).to_contain_text(f"{t('extension.asked', days=3)}：{EXTENSION_REASON}")
    await expect(asked).to_contain_text(t("extension.requested"))
    await expect(asked.locator("form.decide-form")).to_have_count(0)
    assert await _unread(handler, server) == 0
    await expect(handler.locator("#unread")).to_be_hidden()  # no empty badge on the bell

    # 3. The dispatcher sees the request on the topic page and approves it.
    await dispatcher.reload()
    pending = dispatcher.locator("#deadlines tr.extension")
    await expect(pending).to_contain_text(t("extension.requested"))
    decide = pending.locator("form.decide-form")
    await decide.locator('input[name="note"]').fill(APPROVAL_NOTE)
    approve = decide.locator('button[value="1"]')
    await expect(approve).to_have_text(t("extension.approve"))
    await _click_and_reload(dispatcher, approve)
    await expect(pending).to_contain_text(t("extension.approved"))
    await expect(pending).to_contain_text(APPROVAL_NOTE)
    await expect(pending.locator("form.decide-form")).to_have_count(0)
    extended = _deadline(dispatcher, "resolve_individual")
    await expect(extended).to_contain_text(t("deadline.extended", days=3))
    due_after = datetime.fromisoformat(
        await extended.locator("time").get_attribute("datetime") or ""
    )
    assert due_after - due_before >= timedelta(days=3), (due_before, due_after)

    # The dispatcher was told of the request.
    await dispatcher.goto(f"{server.base_url}/staff/notifications")
    requested = dispatcher.locator(
        "ol.notifications li", has_text=t("notification.extension.requested")
    )
    await expect(requested).to_have_count(1)
    await expect(requested).to_contain_text(submitted["number"])
    await expect(requested).to_contain_text(t("extension.asked", days=3))

    # The handler is told of the decision: the bell counts it, the page lists it.
    await handler.reload()
    bell = handler.locator("#unread")
    await expect(bell).to_be_visible()
    assert int(await bell.inner_text()) > 0
    await expect(_deadline(handler, "resolve_individual")).to_contain_text(
        t("deadline.extended", days=3)
    )
    await _click_and_reload(handler, "#bell")
    assert handler.url == f"{server.base_url}/staff/notifications"
    await expect(handler.locator("main h1")).to_contain_text(t("nav.notifications"))
    await expect(handler.locator("main h1 small")).to_have_text(t("notification.unread", n=1))
    approved = handler.locator("ol.notifications li.unread")
    await expect(approved).to_have_count(1)
    await expect(approved.locator("strong")).to_have_text(t("notification.extension.approved"))
    await expect(approved).to_contain_text(f"{submitted['number']} {TITLE}")
    await expect(approved).to_contain_text(APPROVAL_NOTE)
    await expect(approved.locator("a")).to_have_attribute(
        "href", f"/staff/topics/{submitted['id']}"
    )
    read_all = handler.locator("#read-all button")
    await expect(read_all).to_have_text(t("notification.read_all"))
    await _click_and_reload(handler, read_all)
    await expect(handler.locator("main h1 small")).to_have_text(t("notification.unread", n=0))
    await expect(handler.locator("ol.notifications li.read")).to_have_count(1)
    await expect(handler.locator("#read-all")).to_have_count(0)
    await expect(bell).to_be_hidden()
    assert await _unread(handler, server) == 0

    # 4. The handler starts the work and resolves it. An empty result: the browser's
    # `required`; blanks: the server's refusal; the topic stays 办理中.
    await handler.goto(topic_url)
    await _click_and_reload(handler, "#move-form button.move-handling")
    await expect(_status(handler)).to_have_text(t("status.handling"))
    resolve_button = handler.locator("#resolve-form button[type=submit]")
    await expect(resolve_button).to_have_text(t("move.resolved"))
    await resolve_button.click()
    assert await handler.locator("#result").evaluate("e => e.validity.valueMissing")
    assert not [p for p in posts if p.endswith("/resolve")]
    await handler.fill("#result", "   ")
    await resolve_button.click()
    await expect(handler.locator('#resolve-form .field-error[data-for="result"]')).to_have_text(
        "Required."
    )
    await expect(handler.locator("#resolve-form .form-error")).to_have_text(t("form.check"))
    await handler.reload()
    await expect(_status(handler)).to_have_text(t("status.handling"))

    await handler.fill("#result", RESULT)
    await handler.set_input_files(
        "#result-photos", files=[{"name": "井盖.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    await _click_and_reload(handler, resolve_button)
    await expect(_status(handler)).to_have_text(t("status.resolved"))
    resolved = handler.locator(".timeline li.event-move").last
    await expect(resolved).to_contain_text(t("status.resolved"))
    await expect(resolved).to_contain_text(RESULT)
    result_photo = resolved.locator(".photos img")
    await expect(result_photo).to_have_count(1)
    await expect(result_photo).to_have_attribute("alt", f"{t('topic.result_photo')} 1")
    await _loaded(result_photo)
    await expect(_deadline(handler, "resolve_individual").locator(".outcome")).to_have_text(
        t("outcome.met")
    )
    for form in ("#contact-form", "#progress-form", "#pause-form", "#resolve-form"):
        await expect(handler.locator(form)).to_have_count(0)
    await handler.screenshot(path="/tmp/browser-handling.png", full_page=True)

    # The resident's tracking page: the result, its photo and the public progress; the
    # staff-only notes (contact, extension) stay with the staff.
    tracking = await resident.new_page()
    await tracking.goto(submitted["tracking_url"])
    await expect(tracking.locator("main h1")).to_contain_text(submitted["number"])
    await expect(_status(tracking)).to_have_text(t("status.resolved"))
    timeline = tracking.locator(".timeline")
    await expect(timeline).to_contain_text(RESULT)
    await expect(timeline).to_contain_text(PROGRESS)
    await expect(timeline).to_contain_text(PAUSE_REASON)
    await expect(timeline).to_contain_text(f"{t('event.contact')} ({t('contact.phone')})")
    for private in (CONTACT_NOTE, EXTENSION_REASON, APPROVAL_NOTE):
        await expect(tracking.locator("main")).not_to_contain_text(private)
    shown = tracking.locator(".timeline .photos img")
    await expect(shown).to_have_count(1)
    await expect(shown).to_have_attribute("alt", f"{t('topic.result_photo')} 1")
    await _loaded(shown)
    served = await resident.request.get(await shown.evaluate("img => img.src"))
    assert served.ok
    assert served.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(await served.body())) as back:
        assert back.size == (480, 360)
    await tracking.screenshot(path="/tmp/browser-handling-tracking.png", full_page=True)

    assert problems.seen == []


LOCKER_A = (
    "快递柜超时收费太高",
    "小区里的智能快递柜包裹放超过十二个小时就开始收费，上班族根本来不及取，希望延长免费保管时间。",
)
LOCKER_B = (
    "快递柜超时就收费",
    "我们小区的智能快递柜包裹放超过十二个小时就要收费，上班的人根本来不及取，希望延长免费保管的时间。",
)


def _cluster_with(page: Page, number: str) -> Locator:
    return page.locator("section.cluster", has_text=number)


async def test_near_identical_topics_cluster_and_one_is_merged_into_the_other(
    server: Server, log_in: LogIn, new_context: NewContext, problems: Problems
) -> None:
    dispatcher = await log_in("dispatcher")
    codes = await _room_codes(dispatcher, server)
    resident = await new_context("resident")
    first = await _submit(resident, server, codes[SHUXIANG], *LOCKER_A)
    second = await _submit(resident, server, codes[WANGYING], *LOCKER_B)

    # 6. Two topics from two rooms: not a cluster by the default thresholds, one with
    # min_topics=2&min_rooms=2.
    clusters_url = f"{server.base_url}/staff/clusters"
    await dispatcher.goto(clusters_url)
    await expect(dispatcher.locator("main h1")).to_have_text(t("cluster.title"))
    await expect(_cluster_with(dispatcher, first["number"])).to_have_count(0)
    await dispatcher.goto(f"{clusters_url}?min_topics=2&min_rooms=2")
    await expect(dispatcher.locator('input[name="min_topics"]')).to_have_value("2")
    await expect(dispatcher.locator('input[name="min_rooms"]')).to_have_value("2")
    await expect(dispatcher.locator("main p.muted").first).to_have_text(
        t("cluster.explain", days=30, topics=2, rooms=2)
    )
    cluster = _cluster_with(dispatcher, first["number"])
    await expect(cluster).to_have_count(1)
    await expect(cluster.locator("h2")).to_have_text(t("cluster.heading", topics=2, rooms=2))
    members = cluster.locator("ol li")
    await expect(members).to_have_count(2)
    await expect(members.filter(has_text=first["number"])).to_contain_text(SHUXIANG)
    await expect(members.filter(has_text=second["number"])).to_contain_text(WANGYING)
    await expect(members.filter(has_text=second["number"])).to_contain_text(LOCKER_B[0])
    await expect(cluster).to_contain_text(t("cluster.terms"))
    assert await cluster.locator("mark").count() > 0
    await dispatcher.screenshot(path="/tmp/browser-clusters.png", full_page=True)
    # The page's own form asks the same.
    await dispatcher.goto(clusters_url)
    await dispatcher.fill('input[name="min_topics"]', "2")
    await dispatcher.fill('input[name="min_rooms"]', "2")
    await _click_and_reload(dispatcher, "main form.filters button[type=submit]")
    assert "min_topics=2" in dispatcher.url and "min_rooms=2" in dispatcher.url
    await expect(_cluster_with(dispatcher, first["number"])).to_contain_text(second["number"])
    # A member's link opens its topic.
    await _click_and_reload(
        dispatcher,
        _cluster_with(dispatcher, first["number"]).locator(f"a:has-text('{first['number']}')"),
    )
    assert dispatcher.url == f"{server.base_url}/staff/topics/{first['id']}"

    # 5. The first topic's page lists the second as similar, with a merge button.
    await expect(dispatcher.locator("#similar h2")).to_have_text(t("similar.title"))
    match = dispatcher.locator(f'#similar li[data-id="{second["id"]}"]')
    await expect(match).to_contain_text(second["number"])
    await expect(match).to_contain_text(LOCKER_B[0])
    await expect(match).to_contain_text(f"{WANGYING} · {t('status.submitted')}")
    await expect(match).to_contain_text(t("similar.shared"))
    await expect(dispatcher.locator("#similar-state")).to_have_text("")
    merge = match.locator("button.merge")
    await expect(merge).to_have_text(t("similar.merge_into", number=second["number"]))

    # Dismissing the confirmation changes nothing.
    asked: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()

    async def dismissed() -> bool:
        return len(asked) == 1

    dispatcher.once("dialog", dismiss)
    await merge.click()
    await _eventually(dismissed, "asked to confirm")
    assert asked == [t("similar.confirm", number=second["number"])]
    await dispatcher.reload()
    await expect(_status(dispatcher)).to_have_text(t("status.submitted"))

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    dispatcher.once("dialog", accept)
    await _click_and_reload(dispatcher, merge)
    assert asked[1] == t("similar.confirm", number=second["number"])
    await expect(_status(dispatcher)).to_have_text(t("status.merged"))
    await expect(dispatcher.locator(".timeline li.event-move").last).to_contain_text(
        f"{t('status.merged')} — → {second['number']}"
    )
    await expect(dispatcher.locator("#similar")).to_have_attribute("data-can-merge", "0")
    await expect(dispatcher.locator("#similar button.merge")).to_have_count(0)
    await expect(dispatcher.locator("#move-form")).to_have_count(0)

    # The first topic's resident now follows the second.
    tracking = await resident.new_page()
    await tracking.goto(first["tracking_url"])
    await expect(_status(tracking)).to_have_text(t("status.merged"))
    followed = tracking.locator(".notice-card")
    await expect(followed.locator("h2")).to_have_text(t("tracking.merged", number=second["number"]))
    await expect(followed).to_contain_text(LOCKER_B[0])
    await expect(followed.locator(".status")).to_have_text(t("status.submitted"))

    # A merged topic is no longer open: the two no longer make a cluster.
    await dispatcher.goto(f"{clusters_url}?min_topics=2&min_rooms=2")
    await expect(dispatcher.locator("main h1")).to_have_text(t("cluster.title"))
    await expect(_cluster_with(dispatcher, second["number"])).to_have_count(0)

    assert problems.seen == []


def _age_deadlines(server: Server, topic_id: int, due: datetime) -> None:
    """Time passes: the topic's open deadlines fall due at ``due``. The server's clock
    cannot be moved from here, so its SQLite database is changed instead."""
    with sqlite3.connect(server.data_dir / "mashangyi.db", timeout=10) as db:
        [(stored,)] = db.execute(
            "SELECT due_at FROM topic_deadlines WHERE topic_id = ? AND closed_at IS NULL",
            (topic_id,),
        ).fetchall()
        # As SQLAlchemy writes it: UTC, without the zone.
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?", stored), stored
        changed = db.execute(
            "UPDATE topic_deadlines SET due_at = ? WHERE topic_id = ? AND closed_at IS NULL",
            (due.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), topic_id),
        ).rowcount
        assert changed == 1


async def test_topic_list_shows_deadline_badges_and_filters_by_them(
    server: Server, log_in: LogIn, new_context: NewContext, problems: Problems
) -> None:
    dispatcher = await log_in("dispatcher")
    codes = await _room_codes(dispatcher, server)
    resident = await new_context("resident")
    late = await _submit(
        resident,
        server,
        codes[HEPAN],
        "楼道声控灯不亮",
        "河畔社区5号楼的楼道声控灯全部不亮，晚上上下楼只能摸黑。",
    )
    paused = await _submit(
        resident,
        server,
        codes[XINGFU],
        "健身器材生锈损坏",
        "幸福里小区中心花园的健身器材生锈，有两台已经断裂，存在安全隐患。",
    )
    await _accept_and_assign(dispatcher, server, paused["id"])
    await dispatcher.fill("#pause-reason", "等待物业确认器材产权")
    await _click_and_reload(dispatcher, "#pause-form button[type=submit]")
    await expect(_deadline(dispatcher, "resolve_individual").locator(".flag")).to_have_text(
        t("flag.paused")
    )

    topics_url = f"{server.base_url}/staff/topics"
    flag_filter = '#topic-filters select[name="flag"]'
    rows = dispatcher.locator("#topics tbody tr")

    def row(topic: dict[str, Any]) -> Locator:
        return dispatcher.locator(f'#topics tbody tr[data-id="{topic["id"]}"]')

    # The 临期 filter, chosen while the page's first (unfiltered) answer is still on its
    # way, slowed down here: the list shows the answer to the latest query, never a
    # late answer to an earlier one.
    topics_api = re.compile(re.escape(server.base_url) + r"/api/staff/topics\?")

    async def slow_unfiltered(route: Route) -> None:
        if "flag=" not in route.request.url:
            await asyncio.sleep(1)
        await route.continue_()

    def unfiltered(request: Request) -> bool:
        return bool(topics_api.match(request.url)) and "flag=" not in request.url

    await dispatcher.route(topics_api, slow_unfiltered)
    async with dispatcher.expect_event("requestfinished", unfiltered) as stale:
        await dispatcher.goto(topics_url)
        await dispatcher.select_option(flag_filter, "near")
        await expect(row(late)).to_have_count(1)
    await stale.value
    await dispatcher.wait_for_timeout(300)  # for the page to have read the late answer
    await dispatcher.unroute(topics_api, slow_unfiltered)
    await expect(dispatcher.locator("#live")).to_have_class(re.compile(r"(^|\s)on(\s|$)"))

    # Only topics with a running deadline in the yellow window: the paused one is not.
    await expect(row(paused)).to_have_count(0)
    await expect(row(late)).to_have_count(1)
    near_count = await rows.count()
    await expect(rows.locator(".status-cell .flag-near")).to_have_count(near_count)
    await expect(dispatcher.locator("#total")).to_have_text(f"({near_count})")
    await dispatcher.select_option(flag_filter, "overdue")
    await expect(rows).to_have_count(0)
    await expect(dispatcher.locator("#total")).to_have_text("(0)")
    await dispatcher.select_option(flag_filter, "")
    await expect(row(paused)).to_have_count(1)

    # A new topic must be accepted within a working day: yellow (临期) from the start,
    # with the due time on hover. A paused one is grey.
    badge = row(late).locator(".status-cell .flag")
    await expect(badge).to_have_text(t("flag.near"))
    await expect(badge).to_have_class(re.compile(r"\bflag-near\b"))
    await expect(badge).to_have_attribute("title", re.compile("^" + re.escape(t("deadline.due"))))
    paused_badge = row(paused).locator(".status-cell .flag")
    await expect(paused_badge).to_have_text(t("flag.paused"))
    await expect(paused_badge).to_have_class(re.compile(r"\bflag-paused\b"))
    await expect(row(paused).locator(".status-cell")).to_contain_text(
        f"{t('status.assigned')} → {TOWN_UNIT}"
    )

    # Time passes: the new topic was not accepted in time. After a reload it is red
    # (超期) and the only overdue one; the reminder sweep tells the dispatcher, whose
    # bell counts it live.
    _age_deadlines(server, late["id"], datetime.now(UTC) - timedelta(hours=1))
    await dispatcher.goto(topics_url)
    await dispatcher.select_option(flag_filter, "overdue")
    await expect(rows).to_have_count(1)
    await expect(row(late).locator(".status-cell .flag")).to_have_text(t("flag.overdue"))
    await expect(row(late).locator(".status-cell .flag")).to_have_class(
        re.compile(r"\bflag-overdue\b")
    )
    await expect(dispatcher.locator("#total")).to_have_text("(1)")
    await dispatcher.select_option(flag_filter, "near")
    await expect(row(late)).to_have_count(0)
    await expect(rows.first).to_be_visible()  # the demo's own new topics
    await dispatcher.select_option(flag_filter, "")
    await expect(row(late)).to_have_count(1)
    await expect(row(paused)).to_have_count(1)
    await dispatcher.screenshot(path="/tmp/browser-deadline-flags.png", full_page=True)

    async def overdue_notice() -> bool:
        response = await dispatcher.request.get(f"{server.base_url}/api/staff/notifications")
        return any(
            n["kind"] == "deadline.overdue" and n["topic_id"] == late["id"]
            for n in (await response.json())["notifications"]
        )

    await _eventually(overdue_notice, "told of the overdue topic")
    await expect(dispatcher.locator("#unread")).to_have_text(str(await _unread(dispatcher, server)))
    await dispatcher.goto(f"{server.base_url}/staff/notifications")
    notice = dispatcher.locator("ol.notifications li", has_text=late["number"]).filter(
        has_text=t("notification.deadline.overdue")
    )
    await expect(notice).to_have_count(1)
    await expect(notice).to_contain_text(t("stage.accept"))

    assert problems.seen == []
