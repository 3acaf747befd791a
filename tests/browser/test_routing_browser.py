"""End to end in a real browser: an admin keeps the routing table on /staff/routing, and a
dispatcher ticks topics on /staff/topics and sends them to a unit at once (批量派单).

Like test_intake_browser: Debian's Chromium (/usr/bin/chromium) through Playwright, the real
`mashangyi` command serving the demo city in a subprocess (tests/browser/conftest.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Dialog, Page, expect

from tests.browser.conftest import LogIn, Problems, Server

pytestmark = pytest.mark.browser

SCREENSHOTS = Path("/tmp")
# The demo city's units (server/demo.py).
RELAY = "清河区县区中转中心"
TOWN_UNIT = "城南街道办事处"
NEW_UNIT = "城南街道综合治理中心"
# A refused request shows up in Chrome's console; these are the refusals the tests provoke.
EXPECTED_REFUSAL = re.compile(r"Failed to load resource: the server responded with a status of 400")
NEW_TOPICS = [
    ("小区门口的路灯不亮", "小区东门的两盏路灯坏了一个星期，晚上进出看不清路，希望尽快修好。"),
    ("垃圾清运不及时", "3号楼旁的垃圾桶经常满了两天才清运，夏天气味很大，希望增加清运次数。"),
    ("公园健身器材损坏", "社区公园里的两台健身器材松动了，老人使用时有危险，希望尽快维修。"),
]


async def _option_value(page: Page, select: str, label: str) -> str:
    """The value of a select's option whose text ends with ``label`` (regions are indented)."""
    option = page.locator(f"{select} option", has_text=re.compile(re.escape(label) + "$"))
    await expect(option).to_have_count(1)
    value = await option.get_attribute("value")
    assert value
    return value


async def test_admin_adds_a_unit_and_a_rule_then_deletes_the_rule(
    server: Server, log_in: LogIn, problems: Problems
) -> None:
    problems.expected = EXPECTED_REFUSAL
    page = await log_in("admin")
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
    await expect(page.locator("#rule-unit option", has_text="运河县县区中转中心")).to_be_disabled()
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
    assert problems.seen == []


async def test_dispatcher_bulk_dispatches_ticked_topics(
    server: Server, log_in: LogIn, problems: Problems
) -> None:
    problems.expected = EXPECTED_REFUSAL
    page = await log_in("dispatcher")
    # No routing page for dispatchers.
    assert await page.locator("nav a[href='/staff/routing']").count() == 0
    # Three new topics entered from paper (代录): the demo's own are mostly handled already.
    csrf = await page.get_attribute('meta[name="csrf-token"]', "content")
    assert csrf
    for title, description in NEW_TOPICS:
        entered = await page.request.post(
            f"{server.base_url}/api/staff/topics",
            data={
                "room_id": server.demo["room_id"],
                "title": title,
                "description": description,
                "kind": "demand",
            },
            headers={"X-CSRF-Token": csrf},
        )
        assert entered.ok, await entered.text()
    listed = await page.request.get(f"{server.base_url}/api/staff/topics")
    demo_topics = (await listed.json())["topics"]
    first, second, untouched = demo_topics[:3]
    assert {t["title"] for t in (first, second, untouched)} == {t for t, _ in NEW_TOPICS}
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
    await expect(page.locator("#topics tbody input.pick:checked")).to_have_count(len(demo_topics))
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
    await expect(page.locator("#bulk-result")).to_contain_text("派单完成：成功 0 个，未成功 3 个。")
    await expect(results.filter(has_text="没有匹配的派单规则")).to_have_count(3)

    # To the county relay: the two accepted ones are dispatched, the submitted one is
    # refused with the reason.
    relay = await _option_value(page, "#bulk-unit", RELAY)
    await page.select_option("#bulk-unit", relay)
    await submit.click()
    await expect(page.locator("#bulk-result")).to_contain_text("派单完成：成功 2 个，未成功 1 个。")
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
    await page.select_option("#bulk-unit", await _option_value(page, "#bulk-unit", TOWN_UNIT))
    await submit.click()
    await expect(page.locator("#bulk-result")).to_contain_text("派单完成：成功 2 个，未成功 0 个。")
    for topic in (first, second):
        status = page.locator(f'#topics tbody tr[data-id="{topic["id"]}"] .status-cell')
        await expect(status).to_have_text(f"已交办 → {TOWN_UNIT}")

    # Stored, not just drawn: a fresh load shows the same.
    await page.reload()
    for topic in (first, second):
        status = page.locator(f'#topics tbody tr[data-id="{topic["id"]}"] .status')
        await expect(status).to_have_text("已交办")
    await expect(page.locator(untouched_status)).to_have_text("已提交")
    assert problems.seen == []
