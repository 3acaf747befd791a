"""End to end in a real browser: a resident raises a topic from a room's QR link on a phone,
and the dispatcher's open console shows it live over socket.io.

Drives Debian's Chromium (/usr/bin/chromium) through Playwright, the real `mashangyi`
command serving the demo city in a subprocess (tests/browser/conftest.py).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageDraw
from playwright.async_api import Page, expect

from tests.browser.conftest import LogIn, NewContext, Problems, Server

pytestmark = pytest.mark.browser

PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)
NUMBER_RE = re.compile(r"^[A-Z]+\d{4}-\d{6}$")
TITLE = "楼下路口的红绿灯坏了"
DESCRIPTION = (
    "幸福里小区东门路口的红绿灯已经坏了三天，早晚高峰车多人多，"
    "老人和孩子过马路很危险，希望尽快修好。"
)
SCREENSHOT = Path("/tmp/browser-intake.png")


def _photo_with_gps() -> bytes:
    """A small real JPEG, with the camera make and a GPS position in its EXIF."""
    img = Image.new("RGB", (640, 480), (235, 235, 225))
    draw = ImageDraw.Draw(img)
    draw.rectangle((40, 40, 300, 440), fill=(200, 60, 40))
    draw.ellipse((360, 120, 600, 360), fill=(40, 120, 220))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 5.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 9.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, quality=85)
    return out.getvalue()


async def _open_dispatcher_console(log_in: LogIn, server: Server) -> Page:
    page = await log_in("dispatcher")
    await page.goto(f"{server.base_url}/staff/topics")
    await expect(page.locator("#live")).to_have_class(re.compile(r"(^|\s)on(\s|$)"))
    await expect(page.locator("#topics tbody tr").first).to_be_visible()
    return page


async def test_resident_raises_topic_on_phone_and_dispatcher_sees_it_live(
    server: Server, log_in: LogIn, new_context: NewContext, problems: Problems
) -> None:
    console = await _open_dispatcher_console(log_in, server)
    staff = console.context
    await console.evaluate("window.__sameDocument = true")

    # What the room's QR code encodes.
    response = await console.request.get(
        f"{server.base_url}/api/staff/rooms/{server.demo['room_id']}"
    )
    assert response.ok, await response.text()
    public_url = (await response.json())["public_url"]
    assert public_url.startswith(f"{server.base_url}/r/"), public_url

    phone = await new_context(
        "resident",
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        user_agent=PHONE_UA,
        locale="zh-CN",
    )
    resident = await phone.new_page()
    await resident.goto(public_url)
    await resident.fill("#title", TITLE)
    await resident.fill("#description", DESCRIPTION)
    await resident.set_input_files(
        "#photos",
        files=[{"name": "路口.jpg", "mimeType": "image/jpeg", "buffer": _photo_with_gps()}],
    )
    await resident.click("#topic-form button[type=submit]")

    await expect(resident.locator("#submitted")).to_be_visible()
    await expect(resident.locator("#topic-form")).to_be_hidden()
    number = (await resident.locator("#submitted-number").inner_text()).strip()
    assert NUMBER_RE.match(number), number
    # Let the smooth scroll to the confirmation settle before the screenshot.
    await resident.wait_for_function(
        "() => { const r = document.getElementById('submitted').getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; }"
    )
    await resident.wait_for_timeout(400)
    await resident.screenshot(path=str(SCREENSHOT))

    link = resident.locator("#tracking-link")
    await expect(link).to_have_attribute("href", re.compile(f"^{server.base_url}/t/"))
    await link.click()
    await resident.wait_for_url(re.compile(f"^{re.escape(server.base_url)}/t/"))
    heading = resident.locator("main h1")
    await expect(heading).to_contain_text(number)
    await expect(heading).to_contain_text(TITLE)
    await expect(resident.locator("p.description")).to_have_text(DESCRIPTION)
    photo = resident.locator(".photos img")
    await expect(photo).to_have_count(1)
    await resident.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await photo.element_handle()
    )
    # The photo served back is re-encoded: the resident's location is not published.
    served = await phone.request.get(await photo.evaluate("img => img.src"))
    assert served.ok
    assert served.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(await served.body())) as back:
        assert back.size == (640, 480)
        assert not back.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    # The dispatcher's console, never reloaded, got the new topic over socket.io.
    fresh = console.locator("#topics tbody tr", has_text=number)
    await expect(fresh).to_have_count(1)
    await expect(fresh).to_contain_text(TITLE)
    await expect(fresh).to_have_class(re.compile(r"(^|\s)fresh(\s|$)"))
    assert await console.evaluate("window.__sameDocument === true")
    await expect(console.locator("#live")).to_have_class(re.compile(r"(^|\s)on(\s|$)"))

    await staff.close()
    await phone.close()
    assert problems.seen == []
