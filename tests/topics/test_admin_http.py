"""The routing admin page (/staff/routing) and the bulk-dispatch controls of the topics list,
through aiohttp's test client."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Role
from server.core.i18n import catalogue
from server.topics import actions as topics
from server.topics.classify import CATEGORIES, SUBJECTS
from server.topics.model import TopicStatus
from tests.factories import City, make_staff, submit
from tests.http_helpers import ctx_of, login, staff


def rows(page: str, table_id: str) -> list[str]:
    """The text of each body row of one table, tags stripped and whitespace collapsed."""
    match = re.search(rf'<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert match, f"no table #{table_id}"
    body = match.group(1).split("<tbody>", 1)[1]
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", tr)).split())
        for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


async def test_admin_sees_units_and_rules(client: TestClient[Any, Any], city: City) -> None:
    ctx = ctx_of(client)
    relay = await accounts.create_unit(
        ctx, None, name="清河区中转中心", kind=UnitKind.RELAY, region_id=city.county.id
    )
    town = await accounts.create_unit(
        ctx, None, name="城南街道办事处", kind=UnitKind.TOWN, region_id=city.town.id
    )
    catch_all = await topics.set_rule(
        ctx, None, region_id=city.county.id, category="", subject="", unit_id=relay.id
    )
    specific = await topics.set_rule(
        ctx,
        None,
        region_id=city.town.id,
        category="petition",
        subject="housing",
        unit_id=town.id,
    )
    admin = await staff(client, Role.ADMIN, city.city)

    response = await admin.get("/staff/routing")
    page = await response.text()
    assert response.status == 200
    assert '<a href="/staff/routing">派单规则</a>' in page
    assert rows(page, "units") == [
        "县区中转 清河区中转中心 清河区",
        "镇街 城南街道办事处 城南街道",
    ]
    assert rows(page, "rules") == [
        "清河区 任意 任意 → 清河区中转中心 删除",
        "城南街道 信访诉求 住房 → 城南街道办事处 删除",
    ]
    assert f'data-delete-rule="{catch_all.id}"' in page
    assert f'data-delete-rule="{specific.id}"' in page
    # The rule form offers every subject and category, and "any" first.
    subjects = re.search(r'<select id="rule-subject"[^>]*>(.*?)</select>', page, re.S)
    assert subjects is not None
    values = re.findall(r'<option value="([^"]*)"', subjects.group(1))
    assert values == ["", *SUBJECTS]
    categories = re.search(r'<select id="rule-category"[^>]*>(.*?)</select>', page, re.S)
    assert categories is not None
    assert re.findall(r'<option value="([^"]*)"', categories.group(1)) == ["", *CATEGORIES]
    # Admins also manage accounts, so they get the add-unit form.
    assert 'id="unit-form"' in page and 'id="rule-form"' in page
    assert '<script src="/static/js/routing.js"></script>' in page

    english = await (await admin.get("/staff/routing?lang=en")).text()
    assert "<h2>Routing table <small>(2)</small></h2>" in english
    assert rows(english, "rules")[0] == "清河区 Any Any → 清河区中转中心 Delete"
    await admin.session.close()


async def test_an_empty_routing_table_says_so(client: TestClient[Any, Any], city: City) -> None:
    admin = await staff(client, Role.ADMIN, city.city)
    page = await (await admin.get("/staff/routing")).text()
    assert "还没有承办单位。" in page and 'id="units"' not in page
    assert re.search(r'<table class="grid" id="rules" hidden>', page)
    assert re.search(r'<p class="muted" id="no-rules">还没有派单规则。</p>', page)
    await admin.session.close()


async def test_units_above_the_admins_region_are_named(
    client: TestClient[Any, Any], city: City
) -> None:
    """A county admin may route to a city-level unit; its region lies outside the county's
    tree but is still shown by name."""
    ctx = ctx_of(client)
    await accounts.create_unit(
        ctx, None, name="市级中转中心", kind=UnitKind.RELAY, region_id=city.city.id
    )
    await accounts.create_unit(
        ctx, None, name="高新园区中转", kind=UnitKind.RELAY, region_id=city.other_county.id
    )
    admin = await staff(client, Role.ADMIN, city.county)
    page = await (await admin.get("/staff/routing")).text()
    assert rows(page, "units") == ["县区中转 市级中转中心 安和市"]
    await admin.session.close()


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.HANDLER, Role.INFO_OFFICER])
async def test_staff_without_manage_routing_are_refused(
    client: TestClient[Any, Any], city: City, role: Role
) -> None:
    member = await staff(client, role, city.county)
    response = await member.get("/staff/routing")
    assert response.status == 403
    page = await response.text()
    assert "没有权限" in page and 'id="rule-form"' not in page
    # Nor is the page offered in their navigation.
    home = await (await member.get("/staff/")).text()
    assert "/staff/routing" not in home
    await member.session.close()


async def test_anonymous_visitors_are_sent_to_log_in(client: TestClient[Any, Any]) -> None:
    response = await client.get("/staff/routing", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/staff/login?next=/staff/routing"


async def test_a_one_time_password_must_be_changed_first(
    client: TestClient[Any, Any], city: City
) -> None:
    made = await accounts.create_user(
        ctx_of(client),
        None,
        username="newadmin",
        display_name="新管理员",
        role=Role.ADMIN,
        region_id=city.city.id,
    )
    newbie = await login(client, "newadmin", made.one_time_password)
    response = await newbie.get("/staff/routing")
    assert response.status == 302 and response.headers["Location"] == "/staff/password"
    await newbie.session.close()


# --- bulk dispatch on the topics list -------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "can_dispatch"),
    [
        (Role.ADMIN, True),
        (Role.DISPATCHER, True),
        (Role.INFO_OFFICER, False),
        (Role.ROOM_CHIEF, False),
        (Role.HANDLER, False),
    ],
)
async def test_bulk_controls_only_for_those_who_dispatch(
    client: TestClient[Any, Any], city: City, role: Role, can_dispatch: bool
) -> None:
    member = await staff(client, role, city.town)
    response = await member.get("/staff/topics")
    page = await response.text()
    assert response.status == 200
    for marker in ('id="bulk-form"', 'id="select-all"', 'data-bulk="1"', "批量派单", "按派单规则"):
        assert (marker in page) is can_dispatch, marker
    await member.session.close()


async def test_bulk_dispatch_reports_each_topic_as_the_page_shows_it(
    client: TestClient[Any, Any], city: City
) -> None:
    """The contract topics.js relies on: per topic, ok with its new status and unit, or
    the error code it translates."""
    ctx = ctx_of(client)
    relay = await accounts.create_unit(
        ctx, None, name="清河区中转中心", kind=UnitKind.RELAY, region_id=city.county.id
    )
    far = await accounts.create_unit(
        ctx, None, name="高新园区中转", kind=UnitKind.RELAY, region_id=city.other_county.id
    )
    boss = await make_staff(ctx, Role.DISPATCHER, city.county, username="boss")
    accepted = []
    for _ in range(2):
        made = await submit(ctx, city.room)
        moved = await topics.move_topic(ctx, boss, made.topic_id, TopicStatus.ACCEPTED, version=1)
        accepted.append(moved)
    fresh = await submit(ctx, city.room)
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    units = await (await dispatcher.get("/api/staff/units")).json()
    assert {u["id"] for u in units["units"]} == {relay.id}

    response = await dispatcher.post(
        "/api/staff/topics/route",
        json={
            "topics": [{"id": t.id, "version": t.version} for t in accepted]
            + [{"id": fresh.topic_id, "version": 1}],
            "unit_id": relay.id,
        },
    )
    assert response.status == 200
    results = (await response.json())["results"]
    assert [(r["id"], r["ok"], r["error"]) for r in results] == [
        (accepted[0].id, True, None),
        (accepted[1].id, True, None),
        (fresh.topic_id, False, "invalid_transition"),
    ]
    assert [(r["topic"]["status"], r["topic"]["unit_id"]) for r in results[:2]] == [
        ("dispatched", relay.id),
        ("dispatched", relay.id),
    ]
    assert results[2]["topic"] is None

    # Without a unit the routing table decides; with none set the UI shows "no rule".
    again = await dispatcher.post(
        "/api/staff/topics/route",
        json={"topics": [{"id": results[0]["id"], "version": results[0]["topic"]["version"]}]},
    )
    assert [r["error"] for r in (await again.json())["results"]] == ["validation_failed"]
    # A unit serving another county is refused topic by topic.
    elsewhere = await dispatcher.post(
        "/api/staff/topics/route",
        json={
            "topics": [{"id": results[1]["id"], "version": results[1]["topic"]["version"]}],
            "unit_id": far.id,
        },
    )
    assert [r["error"] for r in (await elsewhere.json())["results"]] == ["forbidden"]
    await dispatcher.session.close()


def test_every_error_the_bulk_ui_translates_is_in_both_catalogues() -> None:
    codes = ("validation_failed", "forbidden", "not_found", "stale_update", "invalid_transition")
    for lang in ("zh-CN", "en"):
        strings = catalogue(lang)
        for code in (*codes, "other"):
            assert strings.get(f"bulk.error.{code}"), (lang, code)
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert {k for k in zh if k.startswith(("bulk.", "routing."))} == {
        k for k in en if k.startswith(("bulk.", "routing."))
    }
