"""End to end in Chromium: the video link (视频连线) of a live session.

The room's chief turns on the room's camera and microphone from the host console; an
admitted department head joins by video from a phone. Chromium's synthetic camera and
microphone (`--use-fake-device-for-media-stream`) send VP8 and Opus to the server, which
forwards each to the other: both pages decode the other's video (frames counted by the
peer connection's own `getStats`) and show the other's name. The host mutes the guest and
the guest's page says so. The host goes live and records, and a viewer's phone plays the
livestream (HLS through hls.js, or natively). The guest leaves and the host's page shows
nobody else.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import LogIn, NewContext, Server
from tests.browser.test_live_browser import (
    CHIEF,
    DISPATCHER,
    GUEST_NAME,
    PHONE,
    TOPIC_TITLE,
    _invite,
    _key_topic,
    _session,
    t,
)

pytestmark = pytest.mark.browser

FRAMES_DECODED = """async () => {
  const pc = window.LIVE_MEDIA.current && window.LIVE_MEDIA.current.peer();
  if (!pc) return 0;
  let frames = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
  });
  return frames;
}"""


async def decoded(page: Page) -> int:
    frames: int = await page.evaluate(FRAMES_DECODED)
    return frames


async def wait_decoding(page: Page, at_least: int = 20) -> None:
    for _ in range(150):
        if await decoded(page) >= at_least:
            return
        await page.wait_for_timeout(200)
    raise AssertionError(f"the page decoded only {await decoded(page)} frames")


PLAYER_MARKUP = """() => [document.querySelector('#media').innerHTML, typeof window.Hls]"""


async def wait_playing(page: Page) -> None:
    """The viewer page's video has decoded pictures and its clock moves."""
    script = """() => { const v = document.querySelector('#media video');
      return v ? [v.readyState, v.currentTime, v.videoWidth] : [0, 0, 0]; }"""
    first = None
    for _ in range(150):
        state, at, width = await page.evaluate(script)
        if state >= 2 and width > 0:
            if first is None:
                first = at
            elif at > first + 0.5:
                return
        await page.wait_for_timeout(200)
    debug = await page.evaluate(PLAYER_MARKUP)
    raise AssertionError(f"the livestream did not play: {await page.evaluate(script)} {debug}")


async def test_host_and_guest_see_each_other_by_video(
    server: Server, log_in: LogIn, new_context: NewContext
) -> None:
    dispatcher = await log_in(DISPATCHER)
    resident = await new_context("resident", **PHONE)
    topic_id = await _key_topic(dispatcher, resident, server, TOPIC_TITLE + "（视频）")
    host = await log_in(CHIEF)
    session_id = (await _session(host, server, topic_id, "announced", "live"))["id"]
    link = (await _invite(host, server, session_id))["link"]

    await host.goto(f"{server.base_url}/host/{session_id}")
    await expect(host.locator("#live-state")).to_have_text(t("live.state.online"))
    await expect(host.locator("#media-start")).to_be_enabled()
    await host.click("#media-start")
    await expect(host.locator("#media-state")).to_have_text(t("live.media.state.connected"))
    await expect(host.locator("#media-grid .media-tile.self")).to_have_count(1)

    guest = await (await new_context("guest", **PHONE)).new_page()
    await guest.goto(link)
    await expect(guest.locator("#lobby-wait")).to_be_visible()
    waiting = host.locator("#lobby li.guest-waiting", has_text=GUEST_NAME)
    await expect(waiting).to_contain_text(t("live.lobby.waiting"))
    await waiting.locator("button.admit").click()
    await expect(host.locator("#lobby li.guest-admitted", has_text=GUEST_NAME)).to_be_visible()
    await expect(guest.locator("#admitted")).to_be_visible()
    await guest.click("#media-start")
    await expect(guest.locator("#media-state")).to_have_text(t("live.media.state.connected"))

    # Each sees the other, named, and really decodes their picture.
    await expect(host.locator("#media-grid figcaption", has_text=GUEST_NAME)).to_be_visible()
    await expect(guest.locator("#media-grid .media-tile:not(.self)")).to_have_count(1)
    await wait_decoding(host)
    await wait_decoding(guest)
    person = host.locator("#media-people li", has_text=GUEST_NAME)
    await expect(person).to_contain_text(t("live.media.peer.connected"))

    # The host mutes the guest; the guest's page says so.
    await person.get_by_role("button", name=t("live.media.mute")).click()
    await expect(guest.locator("#media-state")).to_have_text(t("live.media.muted_by_host"))
    await expect(person).to_contain_text(t("live.media.muted"))

    # The host goes live and records: a viewer's phone plays the livestream (HLS).
    await host.click("#stream-switch")
    await expect(host.locator("#stream-status")).to_have_text(t("live.media.on_air"))
    await host.click("#record-switch")
    await expect(host.locator("#stream-status")).to_contain_text(t("live.media.recording"))
    viewer = await (await new_context("viewer", **PHONE)).new_page()
    await viewer.goto(f"{server.base_url}/watch/{session_id}")
    await wait_playing(viewer)
    await wait_playing(viewer)

    # The guest leaves the video link: the host's page shows only its own camera.
    await guest.click("#media-leave")
    await expect(guest.locator("#media-state")).to_have_text(t("live.media.state.idle"))
    await expect(host.locator("#media-people li")).to_have_count(1)
    await expect(host.locator("#media-grid .media-tile:not(.self)")).to_have_count(0)
