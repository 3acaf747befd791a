"""What the browser tests share: the real `mashangyi` command serving the demo city in a
subprocess, Debian's Chromium driven by Playwright, staff logins, and a watch on every
page's console errors and uncaught exceptions.

Playwright never downloads a browser here: it drives /usr/bin/chromium. The whole
directory skips when Chromium or Playwright is missing, unless MASHANGYI_REQUIRE_BROWSER=1
(CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.processes import free_port, stop, wait_healthy

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
        Browser,
        BrowserContext,
        ConsoleMessage,
        Error,
        Page,
        async_playwright,
    )
except ImportError as exc:  # pragma: no cover - dev extras not installed
    if REQUIRE_BROWSER:
        pytest.fail(f"playwright is not installed: {exc}", pytrace=False)
    pytest.skip(f"browser test: playwright is not installed ({exc})", allow_module_level=True)

BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Camera and microphone: Chromium's synthetic devices, allowed without a prompt.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
# What every demo login's one-time password is replaced with.
NEW_PASSWORD = "Qinghe-Paidan-2026!"
TIMEOUT_MS = 15_000
STAFF_VIEWPORT = {"width": 1366, "height": 900}


@dataclass
class Server:
    base_url: str
    data_dir: Path
    demo: dict[str, Any]
    # Demo users whose one-time password was replaced (by log_in) with NEW_PASSWORD.
    changed: set[str] = field(default_factory=set)

    def password_of(self, username: str) -> str:
        """The demo's one-time password of ``username``."""
        logins = self.demo["logins"]
        assert isinstance(logins, list)
        for login in logins:
            if login["username"] == username:
                return str(login["password"])
        raise AssertionError(f"no demo login {username!r} in {self.data_dir / 'demo.json'}")


@dataclass
class Problems:
    """Console errors and uncaught exceptions, from every watched page. Console errors
    matching ``expected`` (refusals a test provokes on purpose, say) are not problems."""

    seen: list[str] = field(default_factory=list)
    expected: re.Pattern[str] | None = None

    def watch(self, page: Page, label: str) -> None:
        def on_console(msg: ConsoleMessage) -> None:
            if msg.type != "error":
                return
            if self.expected is not None and self.expected.search(msg.text):
                return
            self.seen.append(f"[{label}] console.error: {msg.text} ({msg.location})")

        def on_pageerror(error: Error) -> None:
            self.seen.append(f"[{label}] page error: {error}")

        page.on("console", on_console)
        page.on("pageerror", on_pageerror)


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


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Extra MASHANGYI_* settings for the module's server; a module may override this."""
    return {}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    server_env: dict[str, str],
) -> Iterator[Server]:
    """The real `mashangyi` command: migrate, demo, serve on a free loopback port. One per
    test module, shared by its tests (which log in as different demo users or touch
    different data)."""
    tmp_path = tmp_path_factory.mktemp(f"{request.module.__name__.rsplit('.', 1)[-1]}-server")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASHANGYI_")}
    env.update(
        MASHANGYI_DATA_DIR=str(data_dir),
        MASHANGYI_RECORDINGS_DIR=str(tmp_path / "recordings"),
        MASHANGYI_PUBLIC_BASE_URL=base_url,
        MASHANGYI_LOG_LEVEL="WARNING",
    )
    env.update(server_env)
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
        wait_healthy(base_url, proc, log)
        yield Server(base_url, data_dir, demo)
    finally:
        stop(proc)


@pytest.fixture
def problems() -> Problems:
    """The test's record of console errors; it asserts ``problems.seen == []`` itself."""
    return Problems()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, closed (with its contexts) after the test."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


NewContext = Callable[..., Awaitable[BrowserContext]]
LogIn = Callable[..., Awaitable[Page]]


@pytest.fixture
def new_context(browser: Browser, problems: Problems) -> NewContext:
    """``await new_context(label, **options)``: a browser context (a desk-sized zh-CN one
    unless ``options`` say otherwise) with the test's timeout, whose pages are watched
    for problems under ``label``."""

    async def make(label: str, **options: Any) -> BrowserContext:
        context = await browser.new_context(
            **{"viewport": STAFF_VIEWPORT, "locale": "zh-CN", **options}
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.on("page", lambda p: problems.watch(p, label))
        return context

    return make


@pytest.fixture
def log_in(server: Server, new_context: NewContext) -> LogIn:
    """``await log_in(username)``: a page of a new staff context, logged in as that demo
    user and on /staff/. The demo's one-time password is replaced first, the first time."""

    async def go(username: str) -> Page:
        context = await new_context(username)
        page = await context.new_page()
        first = username not in server.changed
        password = server.password_of(username) if first else NEW_PASSWORD
        await page.goto(f"{server.base_url}/staff/login")
        await page.fill("#username", username)
        await page.fill("#password", password)
        await page.click("#login-form button[type=submit]")
        if first:
            # A one-time password must be replaced before anything else.
            await page.wait_for_url(f"{server.base_url}/staff/password")
            await page.fill("#current", password)
            await page.fill("#new", NEW_PASSWORD)
            await page.click("#password-form button[type=submit]")
            server.changed.add(username)
        await page.wait_for_url(f"{server.base_url}/staff/")
        return page

    return go
