"""End to end in a real browser: an admin keeps the routing table on /staff/routing, and a
dispatcher ticks topics on /staff/topics and sends them to a unit at once (批量派单).

Like test_intake_browser: Debian's Chromium (/usr/bin/chromium) through Playwright, the real
`mashangyi` command serving the demo city in a subprocess. Skips when Chromium or Playwright
is missing, unless MASHANGYI_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

from __future__ import annotations

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
        ConsoleMessage,
        Dialog,
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
NEW_PASSWORD = "Qinghe-Paidan-2026!"
TIMEOUT_MS = 15_000
SCREENSHOTS = Path("/tmp")
# The demo city's units (server/demo.py).
RELAY = "清河区县区中转中心"
TOWN_UNIT = "城南街道办事处"
NEW_UNIT = "城南街道综合治理中心"
# A refused request shows up in Chrome's console; these are the refusals the tests provoke.
EXPECTED_REFUSAL = re.compile(r"Failed to load resource: the server responded with a status of 400")


@dataclass
class Server:
    base_url: str
    demo: dict[str, object]

    def password_of(self, username: str) -> str:
        logins = self.demo["logins"]
        assert isinstance(logins, list)
        for login in logins:
            if login["username"] == username:
                return str(login["password"])
        raise AssertionError(f"no demo login {username!r}")


@dataclass
class Problems:
    """Console errors and uncaught exceptions, from every watched page."""

    seen: list[str] = field(default_factory=list)

    def watch(self, page: Page, label: str) -> None:
        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error" and not EXPECTED_REFUSAL.search(msg.text):
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real `mashangyi` command: migrate, demo, serve on a free loopback port. Shared by
    this module's tests, which log in as different demo users and touch different data."""
    tmp_path = tmp_path_factory.mktemp("routing-server")
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
        yield Server(base_url, demo)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


async def _log_in(browser: Browser, server: Server, username: str, problems: Problems) -> Page:
    """A staff browser, logged in; the demo's one-time password is replaced first."""
    context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    context.on("page", lambda p: problems.watch(p, username))
    page = await context.new_page()
    await page.goto(f"{server.base_url}/staff/login")
    await page.fill("#username", username)
    await page.fill("#password", server.password_of(username))
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url(f"{server.base_url}/staff/password")
    await page.fill("#current", server.password_of(username))
    await page.fill("#new", NEW_PASSWORD)
    await page.click("#password-form button[type=submit]")
    await page.wait_for_url(f"{server.base_url}/staff/")
    return page


async def _option_value(page: Page, select: str, label: str) -> str:
    """The value of a select's option whose text ends with ``label`` (regions are indented)."""
    option = page.locator(f"{select} option", has_text=re.compile(re.escape(label) + "$"))
    await expect(option).to_have_count(1)
    value = await option.get_attribute("value")
    assert value
    return value


async def test_admin_adds_a_unit_and_a_rule_then_deletes_the_rule(server: Server) -> None:
    problems = Problems()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await _log_in(browser, server, "admin", problems)
            await page.click("nav a[href='/staff/routing']")
            await page.wait_for_url(f"{server.base_url}/staff/routing")
            await expect(page.locator("main h1")).to_have_text("派单规则")
            units = page.locator("#units tbody tr")
            await expect(units.filter(has_text=RELAY)).to_contain_text("县区中转")
            await expect(page.locator("#no-rules")).to_be_visible()

            # A name of blanks passes the browser's `required`; the server's refusal is
            # shown next to the field.
            await page.select_option("#unit-kind", "town")
            town = await _option_value(page, "#unit-region", "城南街道")
            await page.select_option("#unit-region", town)
            await page.fill("#unit-name", "   ")
            await page.click("#unit-form button[type=submit]")
            name_error = page.locator('#unit-form .field-error[data-for="name"]')
            await expect(name_error).to_have_text("A unit needs a name.")
            await expect(page.locator("#unit-name")).to_have_class(re.compile(r"\binvalid\b"))
            await expect(page.locator("#unit-form .form-error")).to_have_text("请检查标红的内容。")
            assert await units.filter(has_text=NEW_UNIT).count() == 0

            await page.fill("#unit-name", NEW_UNIT)
            await page.click("#unit-form button[type=submit]")
            added = units.filter(has_text=NEW_UNIT)
            await expect(added).to_have_count(1)
            await expect(added).to_contain_text("镇街")
            await expect(added).to_contain_text("城南街道")

            # The unit list of the rule form follows the chosen region: a unit of another
            # county cannot serve 城南街道.
            await page.select_option("#rule-region", town)
            await page.select_option("#rule-category", "petition")
            await page.select_option("#rule-subject", "housing")
            await expect(
                page.locator("#rule-unit option", has_text="运河县县区中转中心")
            ).to_be_disabled()
            new_unit = await _option_value(page, "#rule-unit", f"{NEW_UNIT} · 镇街")
            await page.select_option("#rule-unit", new_unit)
            await page.click("#rule-form button[type=submit]")
            rule = page.locator("#rules tbody tr")
            await expect(rule).to_have_count(1)
            await expect(rule).to_have_text(
                re.compile(rf"^\s*城南街道\s+信访诉求\s+住房\s+→ {NEW_UNIT}\s+删除\s*$")
            )
            await expect(page.locator("#no-rules")).to_be_hidden()
            await page.screenshot(path=str(SCREENSHOTS / "browser-routing.png"), full_page=True)

            # Saving the same region, category and subject replaces the unit.
            await page.select_option("#rule-region", town)
            await page.select_option("#rule-category", "petition")
            await page.select_option("#rule-subject", "housing")
            await page.select_option(
                "#rule-unit", await _option_value(page, "#rule-unit", f"{TOWN_UNIT} · 镇街")
            )
            await page.click("#rule-form button[type=submit]")
            await expect(rule).to_have_count(1)
            await expect(rule).to_contain_text(f"→ {TOWN_UNIT}")

            api = await page.request.get(f"{server.base_url}/api/staff/routing-rules")
            [stored] = (await api.json())["rules"]
            assert (stored["region"]["name"], stored["category"], stored["subject"]) == (
                "城南街道",
                "petition",
                "housing",
            )

            async def accept(dialog: Dialog) -> None:
                assert dialog.message == "确定删除这条派单规则吗？"
                await dialog.accept()

            page.once("dialog", accept)
            await rule.locator("button[data-delete-rule]").click()
            await expect(rule).to_have_count(0)
            await expect(page.locator("#no-rules")).to_be_visible()
            api = await page.request.get(f"{server.base_url}/api/staff/routing-rules")
            assert (await api.json())["rules"] == []
            await page.reload()
            await expect(page.locator("#rules tbody tr")).to_have_count(0)
            await expect(units.filter(has_text=NEW_UNIT)).to_have_count(1)
        finally:
            await browser.close()
    assert problems.seen == []


async def test_dispatcher_bulk_dispatches_ticked_topics(server: Server) -> None:
    problems = Problems()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await _log_in(browser, server, "dispatcher", problems)
            # No routing page for dispatchers.
            assert await page.locator("nav a[href='/staff/routing']").count() == 0
            listed = await page.request.get(f"{server.base_url}/api/staff/topics")
            demo_topics = (await listed.json())["topics"]
            assert len(demo_topics) >= 3
            first, second, untouched = demo_topics[:3]
            # Accept two of them on their own pages; the third stays submitted.
            for topic in (first, second):
                await page.goto(f"{server.base_url}/staff/topics/{topic['id']}")
                await page.click("#move-form button.move-accepted")
                await expect(page.locator("main .status").first).to_have_text("已受理")

            await page.goto(f"{server.base_url}/staff/topics")
            await expect(page.locator("#live")).to_have_class(re.compile(r"(^|\s)on(\s|$)"))
            rows = page.locator("#topics tbody tr")
            await expect(rows).to_have_count(len(demo_topics))
            await expect(page.locator("#bulk-unit optgroup")).to_have_count(3)
            submit = page.locator("#bulk-submit")
            await expect(submit).to_be_disabled()

            # Select all ticks every row; clicking it again clears them.
            await page.check("#select-all")
            await expect(page.locator("#bulk-count")).to_have_text(f"已选 {len(demo_topics)} 项")
            await expect(page.locator("#topics tbody input.pick:checked")).to_have_count(
                len(demo_topics)
            )
            await page.uncheck("#select-all")
            await expect(page.locator("#bulk-count")).to_have_text("已选 0 项")
            await expect(submit).to_be_disabled()

            for topic in (first, second, untouched):
                await page.check(f'#topics tbody tr[data-id="{topic["id"]}"] input.pick')
            await expect(page.locator("#bulk-count")).to_have_text("已选 3 项")
            await expect(page.locator("#select-all")).to_have_js_property("indeterminate", True)

            # By the routing table: the demo has no rules, so every topic is refused.
            await page.select_option("#bulk-unit", "")
            await submit.click()
            results = page.locator("#bulk-results li")
            await expect(page.locator("#bulk-result")).to_contain_text(
                "派单完成：成功 0 个，未成功 3 个。"
            )
            await expect(results.filter(has_text="没有匹配的派单规则")).to_have_count(3)

            # To the county relay: the two accepted ones are dispatched, the submitted one is
            # refused with the reason.
            relay = await _option_value(page, "#bulk-unit", RELAY)
            await page.select_option("#bulk-unit", relay)
            await submit.click()
            await expect(page.locator("#bulk-result")).to_contain_text(
                "派单完成：成功 2 个，未成功 1 个。"
            )
            await page.screenshot(path=str(SCREENSHOTS / "browser-bulk.png"), full_page=True)
            for topic in (first, second):
                line = page.locator(f'#bulk-results li[data-id="{topic["id"]}"]')
                await expect(line).to_have_text(f"{topic['number']} 已派单 → {RELAY}")
                status = page.locator(f'#topics tbody tr[data-id="{topic["id"]}"] .status-cell')
                await expect(status).to_have_text(f"已派单 → {RELAY}")
            refused = page.locator(f'#bulk-results li[data-id="{untouched["id"]}"]')
            await expect(refused).to_contain_text("当前为「已提交」，不能这样派单")
            untouched_status = f'#topics tbody tr[data-id="{untouched["id"]}"] .status'
            await expect(page.locator(untouched_status)).to_have_text("已提交")
            # Dispatched topics leave the selection; the refused one stays ticked.
            await expect(page.locator("#bulk-count")).to_have_text("已选 1 项")
            await expect(page.locator("#topics tbody input.pick:checked")).to_have_count(1)

            # From the relay on to the town office: assigned (已交办).
            await page.uncheck(f'#topics tbody tr[data-id="{untouched["id"]}"] input.pick')
            for topic in (first, second):
                await page.check(f'#topics tbody tr[data-id="{topic["id"]}"] input.pick')
            await page.select_option(
                "#bulk-unit", await _option_value(page, "#bulk-unit", TOWN_UNIT)
            )
            await submit.click()
            await expect(page.locator("#bulk-result")).to_contain_text(
                "派单完成：成功 2 个，未成功 0 个。"
            )
            for topic in (first, second):
                status = page.locator(f'#topics tbody tr[data-id="{topic["id"]}"] .status-cell')
                await expect(status).to_have_text(f"已交办 → {TOWN_UNIT}")

            # Stored, not just drawn: a fresh load shows the same.
            await page.reload()
            for topic in (first, second):
                status = page.locator(f'#topics tbody tr[data-id="{topic["id"]}"] .status')
                await expect(status).to_have_text("已交办")
            await expect(page.locator(untouched_status)).to_have_text("已提交")
        finally:
            await browser.close()
    assert problems.seen == []
