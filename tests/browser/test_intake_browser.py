"""End to end in a real browser: a resident raises a topic from a room's QR link on a phone,
and the dispatcher's open console shows it live over socket.io.

Drives Debian's Chromium (/usr/bin/chromium) through Playwright; Playwright never downloads a
browser here. Skips when Chromium is missing, unless MASHANGYI_REQUIRE_BROWSER=1 (CI), where
a missing browser is a failure.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageDraw

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("MASHANGYI_REQUIRE_BROWSER") == "1"

if not CHROMIUM.exists():
    if REQUIRE_BROWSER:
        pytest.fail(f"{CHROMIUM} is missing and MASHANGYI_REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(
        f"browser test: {CHROMIUM} is missing (apt-get install chromium; "
        "set MASHANGYI_REQUIRE_BROWSER=1 to make this a failure)",
        allow_module_level=True,
    )

try:
    from playwright.async_api import (
        BrowserContext,
        ConsoleMessage,
        Error,
        Page,
        async_playwright,
        expect,
    )
except ImportError as exc:  # pragma: no cover - dev extras not installed
    if REQUIRE_BROWSER:
        pytest.fail(f"playwright is not installed: {exc}", pytrace=False)
    pytest.skip(f"browser test: playwright is not installed ({exc})", allow_module_level=True)

pytestmark = pytest.mark.browser

BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)
NUMBER_RE = re.compile(r"^[A-Z]+\d{4}-\d{6}$")
NEW_PASSWORD = "Qinghe-Paidan-2026!"
TITLE = "楼下路口的红绿灯坏了"
DESCRIPTION = (
    "幸福里小区东门路口的红绿灯已经坏了三天，早晚高峰车多人多，"
    "老人和孩子过马路很危险，希望尽快修好。"
)
SCREENSHOT = Path("/tmp/browser-intake.png")
TIMEOUT_MS = 15_000


@dataclass
class Server:
    base_url: str
    data_dir: Path
    demo: dict[str, object]

    def password_of(self, username: str) -> str:
        logins = self.demo["logins"]
        assert isinstance(logins, list)
        for login in logins:
            if login["username"] == username:
                return str(login["password"])
        raise AssertionError(f"no demo login {username!r} in {self.data_dir / 'demo.json'}")


@dataclass
class Problems:
    """Console errors and uncaught exceptions, from every watched page."""

    seen: list[str] = field(default_factory=list)

    def watch(self, page: Page, label: str) -> None:
        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                self.seen.append(f"[{label}] console.error: {msg.text} ({msg.location})")

        def on_pageerror(error: Error) -> None:
            self.seen.append(f"[{label}] page error: {error}")

        page.on("console", on_console)
        page.on("pageerror", on_pageerror)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(args: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        [str(BIN / "mashangyi"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"mashangyi {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/health", timeout=2) as response:
                if response.status == 200 and json.load(response).get("ok") is True:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"server not healthy after 30 s:\n{log.read_text()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The real `mashangyi` command: migrate, demo, serve on a free loopback port."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASHANGYI_")}
    env.update(
        MASHANGYI_DATA_DIR=str(data_dir),
        MASHANGYI_RECORDINGS_DIR=str(tmp_path / "recordings"),
        MASHANGYI_PUBLIC_BASE_URL=base_url,
        MASHANGYI_LOG_LEVEL="WARNING",
    )
    _run(["migrate"], env, tmp_path)
    _run(["demo"], env, tmp_path)
    demo = json.loads((data_dir / "demo.json").read_text("utf-8"))
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "mashangyi"), "serve", "--port", str(port), "--quiet"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(base_url, proc, log)
        yield Server(base_url, data_dir, demo)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


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


async def _open_dispatcher_console(context: BrowserContext, server: Server) -> Page:
    page = await context.new_page()
    await page.goto(f"{server.base_url}/staff/login")
    await page.fill("#username", "dispatcher")
    await page.fill("#password", server.password_of("dispatcher"))
    await page.click("#login-form button[type=submit]")
    # A one-time password must be replaced before anything else.
    await page.wait_for_url(f"{server.base_url}/staff/password")
    await page.fill("#current", server.password_of("dispatcher"))
    await page.fill("#new", NEW_PASSWORD)
    await page.click("#password-form button[type=submit]")
    await page.wait_for_url(f"{server.base_url}/staff/")
    await page.goto(f"{server.base_url}/staff/topics")
    await expect(page.locator("#live")).to_have_class(re.compile(r"(^|\s)on(\s|$)"))
    await expect(page.locator("#topics tbody tr").first).to_be_visible()
    return page


async def test_resident_raises_topic_on_phone_and_dispatcher_sees_it_live(server: Server) -> None:
    problems = Problems()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            staff = await browser.new_context(
                viewport={"width": 1366, "height": 900}, locale="zh-CN"
            )
            staff.set_default_timeout(TIMEOUT_MS)
            staff.on("page", lambda p: problems.watch(p, "dispatcher"))
            console = await _open_dispatcher_console(staff, server)
            await console.evaluate("window.__sameDocument = true")

            # What the room's QR code encodes.
            response = await console.request.get(
                f"{server.base_url}/api/staff/rooms/{server.demo['room_id']}"
            )
            assert response.ok, await response.text()
            public_url = (await response.json())["public_url"]
            assert public_url.startswith(f"{server.base_url}/r/"), public_url

            phone = await browser.new_context(
                viewport={"width": 390, "height": 844},
                device_scale_factor=3,
                is_mobile=True,
                has_touch=True,
                user_agent=PHONE_UA,
                locale="zh-CN",
            )
            phone.set_default_timeout(TIMEOUT_MS)
            phone.on("page", lambda p: problems.watch(p, "resident"))
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
        finally:
            await browser.close()
    assert problems.seen == []
