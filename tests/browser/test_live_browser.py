"""End to end in a real browser: a live deliberation session (协商议事会直播).

A resident's topic is escalated to a key topic (提级督办) and put on a session in its home
room, which the room's chief announces, starts and invites a department head to. Then
three browsers: the chief's host console (主持台) on a desk, the guest's page
(视频连线) and a viewer's page (现场直播) on phones. The host admits the guest from the
lobby, creates and opens a poll; the viewer votes and sees the tally, which the host
sees move too; the guest and the viewer talk to each other in the comments; the host
hides the viewer's comment and it leaves every page; a viewer's question goes to the
floor; the poll closes with its final result. And the states around it: a draft has no
viewers' page, staff who may not host are refused the console, an announced session's
page waits and goes live when the host starts it from the console, a refusal reads in
Chinese, damaged and withdrawn invitation links get a page saying so, and the end shows.

Like the other browser tests: Debian's Chromium through Playwright, the real `mashangyi`
command serving the demo city in a subprocess (tests/browser/conftest.py). Expected
texts come from the zh-CN catalogue, as the pages render them.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from tests.browser.conftest import LogIn, NewContext, Problems, Server

pytestmark = pytest.mark.browser

CATALOGUE = Path(__file__).resolve().parents[2] / "static" / "i18n" / "zh-CN.json"
ZH: dict[str, str] = json.loads(CATALOGUE.read_text("utf-8"))

# The demo city (server/demo.py): 幸福里's room, its chief, the county's dispatcher and units.
CHIEF = "chief.xingfu"
DISPATCHER = "dispatcher"
HANDLER = "handler.chengnan"  # may not host sessions
RELAY = "清河区县区中转中心"
TOWN_UNIT = "城南街道办事处"
LEAD = "清河区住房和城乡建设局 王局长"

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
SESSION_TITLE = "加装电梯费用分摊协商议事会"
TOPIC_TITLE = "老楼加装电梯费用怎么分摊"
GUEST_NAME = "王局长"
GUEST_ORG = "清河区住建局"
POLL_QUESTION = "是否同意按楼层高低分摊加装电梯费用？"
POLL_OPTIONS = ["赞成", "反对", "弃权"]
GUEST_SAYS = "住建局这周会把补贴政策发到社区群里。"
VIEWER_SAYS = "一楼住户不用电梯，也要分摊吗？"
VIEWER_OFF_TOPIC = "楼下早餐店的油条真好吃"
QUESTION = "政府补贴能覆盖多少费用？"


def t(key: str, **values: object) -> str:
    """The catalogue's text, filled in as static/js/common.js does."""
    text = ZH[key]
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


async def _call(page: Page, method: str, url: str, data: dict[str, Any] | None = None) -> Any:
    """A staff API call from the page's context, with its session cookie and CSRF token,
    as static/js/common.js sends it."""
    csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert csrf, "a staff page carries its CSRF token"
    response = await page.request.fetch(
        url, method=method, data=data, headers={"X-CSRF-Token": csrf}
    )
    assert response.ok, f"{method} {url}: {response.status} {await response.text()}"
    return await response.json()


async def _key_topic(dispatcher: Page, resident: BrowserContext, server: Server, title: str) -> int:
    """A resident's topic in 幸福里's room, accepted, sent through the county relay to the
    town office and escalated to a lead: a key topic, ready for an agenda."""
    base = server.base_url
    room = await _call(dispatcher, "GET", f"{base}/api/staff/rooms/{server.demo['room_id']}")
    response = await resident.request.post(
        f"{base}/api/rooms/{room['code']}/topics",
        data={
            "title": title,
            "description": "5号楼想加装电梯，高层和低层住户对费用分摊意见不一，希望社区组织协商。",
            "kind": "demand",
        },
    )
    assert response.status == 201, await response.text()
    topic_id: int = (await response.json())["id"]
    listed = await _call(dispatcher, "GET", f"{base}/api/staff/units")
    units = {u["name"]: u["id"] for u in listed["units"]}
    topic_url = f"{base}/api/staff/topics/{topic_id}"
    version = 1
    for path, data in (
        ("moves", {"to": "accepted"}),
        ("route", {"unit_id": units[RELAY]}),
        ("route", {"unit_id": units[TOWN_UNIT]}),
        ("moves", {"to": "escalated", "lead": LEAD}),
    ):
        moved = await _call(dispatcher, "POST", f"{topic_url}/{path}", {**data, "version": version})
        version = moved["version"]
    assert moved["status"] == "escalated", moved
    return topic_id


async def _session(host: Page, server: Server, topic_id: int, *moves: str) -> dict[str, Any]:
    """The chief's session on that topic in the room, made through the staff API and moved
    on (``announced``, ``live``): the session as the API shows it."""
    starts = datetime.now(UTC) + timedelta(minutes=10)
    session: dict[str, Any] = await _call(
        host,
        "POST",
        f"{server.base_url}/api/staff/deliberations",
        {
            "room_id": server.demo["room_id"],
            "title": SESSION_TITLE,
            "description": "议加装电梯费用分摊",
            "place": "幸福里社区党群服务中心二楼",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": 40,
            "agenda": [topic_id],
        },
    )
    for move in moves:
        session = await _move(host, server, session, move)
    return session


async def _move(host: Page, server: Server, session: dict[str, Any], to: str) -> dict[str, Any]:
    url = f"{server.base_url}/api/staff/deliberations/{session['id']}/moves"
    moved: dict[str, Any] = await _call(
        host, "POST", url, {"to": to, "version": session["version"]}
    )
    assert moved["status"] == to, moved
    return moved


async def _invite(host: Page, server: Server, session_id: int) -> dict[str, Any]:
    """A department head invited to the session: the invitation with the guest's link."""
    invited: dict[str, Any] = await _call(
        host,
        "POST",
        f"{server.base_url}/api/staff/deliberations/{session_id}/invitations",
        {"role": "official", "display_name": GUEST_NAME, "organisation": GUEST_ORG},
    )
    assert invited["link"].startswith(f"{server.base_url}/join/"), invited
    return invited


def _comment(page: Page, body: str) -> Locator:
    return page.locator("#comments li.comment", has_text=body)


async def _post_comment(page: Page, body: str) -> None:
    await page.fill("#comment-body", body)
    await expect(page.locator("#comment-count")).to_have_text(f"{len(body)}/300")
    await page.click("#comment-form button[type=submit]")
    await expect(page.locator("#comment-body")).to_have_value("")


async def _single_column(page: Page) -> None:
    """Phone layout: nothing wider than the screen, the cards stacked in one column."""
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"
    media = await page.locator("#media").bounding_box()
    comments = await page.locator("#comments-card").bounding_box()
    assert media and comments
    assert comments["y"] > media["y"] + media["height"] - 1, (media, comments)
    assert abs(comments["x"] - media["x"]) < 16, (media, comments)


async def test_host_guest_and_viewer_run_a_poll_and_talk(
    server: Server, log_in: LogIn, new_context: NewContext, problems: Problems
) -> None:
    dispatcher = await log_in(DISPATCHER)
    resident = await new_context("resident", **PHONE)
    topic_id = await _key_topic(dispatcher, resident, server, TOPIC_TITLE)
    host = await log_in(CHIEF)
    session_id = (await _session(host, server, topic_id, "announced", "live"))["id"]
    link = (await _invite(host, server, session_id))["link"]

    # The host console: connected, the session live, the topic on the agenda.
    await host.goto(f"{server.base_url}/host/{session_id}")
    await expect(host.locator("#live-state")).to_have_text(t("live.state.online"))
    await expect(host.locator("#session-status")).to_have_text(t("live.session.live"))
    item = host.locator("#agenda li", has_text=TOPIC_TITLE)
    await expect(item).to_have_count(1)
    # Nothing is under discussion until the host goes to the topic.
    await item.locator("button.goto").click()
    await expect(item).to_have_class("current")
    await expect(item.locator("button.goto")).to_have_text(t("live.agenda.is_current"))
    await expect(item.locator("button.goto")).to_be_disabled()

    # A resident signed up on their phone; the host checks them in at the door from the
    # console by the code in their QR, once.
    signed = await resident.request.post(
        f"{server.base_url}/api/deliberations/{session_id}/registrations",
        data={"name": "赵阿姨", "kind": "resident", "phone": "", "consent": True},
    )
    assert signed.status == 201, await signed.text()
    token = (await signed.json())["token"]
    await host.fill("#host-checkin-token", f"{server.base_url}/checkin/{token}")
    await host.click("#host-checkin-form button[type=submit]")
    await expect(host.locator("#host-checkin-result")).to_contain_text("赵阿姨")
    await expect(host.locator("#attendees li.checked-in", has_text="赵阿姨")).to_have_count(1)
    problems.expected = re.compile(r"status of 409")  # the second check-in, refused
    await host.fill("#host-checkin-token", token)
    await host.click("#host-checkin-form button[type=submit]")
    await expect(host.locator("#host-checkin-result")).to_contain_text("签到过")
    problems.expected = None

    # The guest opens the link on a phone and waits in the lobby until admitted.
    guest = await (await new_context("guest", **PHONE)).new_page()
    await guest.goto(link)
    await expect(guest.locator("#lobby-wait")).to_be_visible()
    await expect(guest.locator("#live-state")).to_have_text(t("live.state.lobby"))
    await expect(guest.locator("#admitted")).to_be_hidden()
    waiting = host.locator("#lobby li.guest-waiting", has_text=GUEST_NAME)
    await expect(waiting).to_contain_text(t("live.lobby.waiting"))
    await waiting.locator("button.admit").click()
    await expect(host.locator("#lobby li.guest-admitted", has_text=GUEST_NAME)).to_be_visible()
    await expect(guest.locator("#admitted")).to_be_visible()
    await expect(guest.locator("#lobby-wait")).to_be_hidden()
    await expect(guest.locator("#live-state")).to_have_text(t("live.state.live"))
    await expect(guest.locator("#caption-text")).to_contain_text(TOPIC_TITLE)

    # A viewer on a phone: live, the current topic captioned, one column.
    viewer = await (await new_context("viewer", **PHONE)).new_page()
    await viewer.goto(f"{server.base_url}/watch/{session_id}")
    await expect(viewer.locator("#live-state")).to_have_text(t("live.state.live"))
    await expect(viewer.locator("#caption-text")).to_contain_text(TOPIC_TITLE)
    await expect(viewer.locator("#poll-card")).to_be_hidden()
    await _single_column(viewer)
    await expect(host.locator("#presence")).to_have_text(
        t("live.presence", viewers=1, guests=1, hosts=1)
    )

    # The host creates a poll (a draft nobody else sees) and opens it.
    await host.fill("#poll-question", POLL_QUESTION)
    await host.fill("#poll-options", "\n".join(POLL_OPTIONS))
    await host.click("#poll-form button[type=submit]")
    poll = host.locator("#polls li.poll", has_text=POLL_QUESTION)
    await expect(poll.locator(".status")).to_have_text(t("live.poll.status.draft"))
    await poll.locator("button.open").click()
    await expect(poll.locator(".status")).to_have_text(t("live.poll.status.open"))

    # The viewer sees it open, votes, and sees the live tally instead of the buttons.
    await expect(viewer.locator("#poll-question")).to_have_text(POLL_QUESTION)
    await expect(viewer.locator("#vote-options input[type=radio]")).to_have_count(3)
    await expect(viewer.locator("#poll-tally .tally")).to_have_count(0)
    await viewer.locator("#vote-options label.choice", has_text=POLL_OPTIONS[0]).click()
    await viewer.click("#vote-button")
    await expect(viewer.locator("#poll-state")).to_have_text(t("live.poll.voted"))
    await expect(viewer.locator("#vote-form")).to_be_hidden()
    agree = viewer.locator("#poll-tally li", has_text=POLL_OPTIONS[0])
    await expect(agree.locator(".count")).to_have_text(t("live.poll.votes", n=1, share=100))
    await expect(viewer.locator("#poll-tally li.ballots")).to_have_text(t("live.poll.ballots", n=1))
    # ... and so does the host, as the vote lands.
    await expect(poll.locator("li", has_text=POLL_OPTIONS[0]).locator(".count")).to_have_text(
        t("live.poll.votes", n=1, share=100)
    )
    await expect(poll.locator("li.ballots")).to_have_text(t("live.poll.ballots", n=1))

    # The guest and the viewer talk both ways; the host sees it all.
    await _post_comment(guest, GUEST_SAYS)
    await expect(_comment(viewer, GUEST_SAYS)).to_contain_text(GUEST_NAME)
    await expect(_comment(viewer, GUEST_SAYS)).to_contain_text(t("live.role.guest"))
    await _post_comment(viewer, VIEWER_SAYS)
    await expect(_comment(guest, VIEWER_SAYS)).to_have_count(1)
    await _post_comment(viewer, VIEWER_OFF_TOPIC)
    await expect(_comment(guest, VIEWER_OFF_TOPIC)).to_have_count(1)
    for body in (GUEST_SAYS, VIEWER_SAYS, VIEWER_OFF_TOPIC):
        await expect(_comment(host, body)).to_have_count(1)
        # Shown once each, though the poster's own ack and the batch both carry it.
        await expect(_comment(viewer, body)).to_have_count(1)

    # The host hides the off-topic comment, with a reason: it leaves every page, and the
    # viewers see how many comments were hidden.
    off_topic = _comment(host, VIEWER_OFF_TOPIC)
    await off_topic.locator("button.hide").click()
    await off_topic.locator("form.hide-form input").fill("与议题无关")
    await off_topic.locator("form.hide-form button.confirm-hide").click()
    await expect(_comment(host, VIEWER_OFF_TOPIC)).to_have_count(0)
    await expect(_comment(viewer, VIEWER_OFF_TOPIC)).to_have_count(0)
    await expect(_comment(guest, VIEWER_OFF_TOPIC)).to_have_count(0)
    await expect(viewer.locator("#moderation-note")).to_have_text(
        t("live.comments.hidden_count", n=1)
    )
    await expect(host.locator("#hidden-count")).to_have_text(t("live.host.hidden_count", n=1))
    await expect(_comment(viewer, VIEWER_SAYS)).to_have_count(1)

    # A question: the viewer asks and backs it; the host puts it to the floor.
    await viewer.fill("#question-body", QUESTION)
    await viewer.click("#question-form button[type=submit]")
    asked = viewer.locator("#questions li.question", has_text=QUESTION)
    await asked.locator("button.upvote").click()
    await expect(asked.locator("button.upvote")).to_have_text("👍 1")
    await expect(asked.locator("button.upvote")).to_be_disabled()
    on_host = host.locator("#questions li.question", has_text=QUESTION)
    await on_host.locator("button[data-op=floor]").click()
    await expect(asked.locator(".floor-tag")).to_have_text(t("live.questions.on_floor"))

    # The host closes the poll: everyone sees the final result.
    await poll.locator("button.close").click()
    await expect(poll.locator(".status")).to_have_text(t("live.poll.status.closed"))
    await expect(viewer.locator("#poll-state")).to_have_text(t("live.poll.final"))

    # A reload rebuilds the viewer's page from the snapshot: the same comments, once each.
    await viewer.reload()
    await expect(viewer.locator("#live-state")).to_have_text(t("live.state.live"))
    await expect(_comment(viewer, GUEST_SAYS)).to_have_count(1)
    await expect(_comment(viewer, VIEWER_SAYS)).to_have_count(1)
    await expect(_comment(viewer, VIEWER_OFF_TOPIC)).to_have_count(0)

    assert problems.seen == []


async def test_viewers_wait_then_go_live_and_refusals_are_clear(
    server: Server, log_in: LogIn, new_context: NewContext, problems: Problems
) -> None:
    # The refused pages below load with their HTTP status, which Chrome logs.
    problems.expected = re.compile(r"status of (403|404|410)")
    base = server.base_url
    dispatcher = await log_in(DISPATCHER)
    resident = await new_context("resident", **PHONE)
    topic_id = await _key_topic(dispatcher, resident, server, "小区停车位划线不合理")
    host = await log_in(CHIEF)
    draft = await _session(host, server, topic_id)

    # A draft is not public: there is no viewers' page yet.
    viewer = await (await new_context("viewer", **PHONE)).new_page()
    response = await viewer.goto(f"{base}/watch/{draft['id']}")
    assert response is not None and response.status == 404
    await expect(viewer.locator("main")).to_contain_text(t("live.page.no_session"))

    # Staff who may not host are told so instead of getting the console.
    handler = await log_in(HANDLER)
    response = await handler.goto(f"{base}/host/{draft['id']}")
    assert response is not None and response.status == 403
    await expect(handler.locator("main")).to_contain_text(t("live.page.not_host"))

    # The demo city's own session is announced for tomorrow: its page waits too.
    await viewer.goto(f"{base}/watch/{server.demo['deliberation_id']}")
    await expect(viewer.locator("h1")).to_have_text("增设充电桩协商议事会")
    await expect(viewer.locator("#live-state")).to_have_text(t("live.state.waiting"))

    # Announced: the viewer waits, with the start time, and cannot post yet.
    await _move(host, server, draft, "announced")
    await viewer.goto(f"{base}/watch/{draft['id']}")
    await expect(viewer.locator("#live-state")).to_have_text(t("live.state.waiting"))
    await expect(viewer.locator("#waiting-note")).to_be_visible()
    await expect(viewer.locator("#comment-body")).to_be_disabled()
    await expect(viewer.locator("#presence")).to_have_text(t("live.watchers", n=1))

    # The host starts the session from the console: the waiting page goes live by itself.
    await host.goto(f"{base}/host/{draft['id']}")
    await expect(host.locator("#session-status")).to_have_text(t("live.session.announced"))
    await expect(host.locator("#live-notice")).to_have_text(t("live.host.not_live.announced"))
    await expect(host.locator("#end-session")).to_be_hidden()
    await host.click("#start-session")
    await expect(host.locator("#session-status")).to_have_text(t("live.session.live"))
    await expect(host.locator("#start-session")).to_be_hidden()
    await expect(host.locator("#live-notice")).to_be_hidden()
    await expect(viewer.locator("#live-state")).to_have_text(t("live.state.live"))
    await expect(viewer.locator("#waiting-note")).to_be_hidden()
    await expect(viewer.locator("#comment-body")).to_be_enabled()

    # A refusal comes back in Chinese: the sixth comment within half a minute.
    for n in range(5):
        await _post_comment(viewer, f"第{n + 1}条意见")
    await viewer.fill("#comment-body", "第6条意见")
    await viewer.click("#comment-form button[type=submit]")
    await expect(viewer.locator("#comment-form .form-error")).to_have_text(
        re.compile(r"^评论太频繁，请 \d+ 秒后再试。$")
    )
    await expect(_comment(viewer, "第6条意见")).to_have_count(0)

    # Invitation links: a damaged one and a withdrawn one each get a page that says so.
    guest = await (await new_context("guest", **PHONE)).new_page()
    invitation = await _invite(host, server, draft["id"])
    response = await guest.goto(invitation["link"][:-2] + "xx")
    assert response is not None and response.status == 403
    await expect(guest.locator("main")).to_contain_text(t("live.join.invalid"))
    await _call(
        host,
        "POST",
        f"{base}/api/staff/invitations/{invitation['id']}/remove",
        {"reason": "临时有会，改派他人"},
    )
    response = await guest.goto(invitation["link"])
    assert response is not None and response.status == 410
    await expect(guest.locator("main")).to_contain_text(t("live.join.removed"))

    # The host ends the session (a second click confirms): the viewer's page says so and
    # takes no more comments.
    await host.click("#end-session")
    await expect(host.locator("#session-status")).to_have_text(t("live.session.live"))
    await host.click("#end-confirm")
    await expect(host.locator("#session-status")).to_have_text(t("live.session.ended"))
    await expect(host.locator("#end-confirm")).to_be_hidden()
    await expect(viewer.locator("#live-state")).to_have_text(t("live.state.ended"))
    await expect(viewer.locator("#comment-body")).to_be_disabled()

    assert problems.seen == []
