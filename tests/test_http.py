"""The HTTP surface through aiohttp's test client: pages, public API, staff API, errors."""

from __future__ import annotations

import io
import re
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from server.core.auth import Role
from server.rooms import actions as rooms
from server.settings import Settings
from tests.conftest import files_under
from tests.factories import City, jpeg_with_gps
from tests.http_helpers import ctx_of, login, staff

TOPIC = {
    "title": "楼道灯坏了",
    "description": "三号楼二单元楼道灯坏了一个星期，晚上很黑。",
    "kind": "demand",
}


def form(fields: dict[str, str], photos: list[tuple[str, bytes, str]] = ()) -> aiohttp.FormData:  # type: ignore[assignment]
    data = aiohttp.FormData()
    for key, value in fields.items():
        data.add_field(key, value)
    for name, content, ctype in photos:
        data.add_field("photos", content, filename=name, content_type=ctype)
    return data


async def error_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    body = await response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    error: dict[str, Any] = body["error"]
    return error


# --- the resident's room page and intake -------------------------------------------------------


async def test_room_page_in_chinese_with_an_english_switch(
    resident: aiohttp.ClientSession, city: City
) -> None:
    page = await resident.get(f"/r/{city.room.code}")
    html = await page.text()
    assert page.status == 200 and "我要提议题" in html and city.room.name in html
    assert "msy_device" in page.cookies
    english = await resident.get(f"/r/{city.room.code}?lang=en")
    assert '<html lang="en">' in await english.text()
    assert "<h2>Raise a matter</h2>" in await english.text()
    # The choice is remembered by a cookie.
    assert '<html lang="en">' in await (await resident.get(f"/r/{city.room.code}")).text()
    back = await resident.get(f"/r/{city.room.code}?lang=zh-CN")
    assert "<h2>我要提议题</h2>" in await back.text()


async def test_unknown_retired_and_revoked_codes(
    resident: aiohttp.ClientSession, client: TestClient[Any, Any], city: City
) -> None:
    unknown = await resident.get("/r/ZZZZZZ")
    assert unknown.status == 404 and "没有找到这个议事室" in await unknown.text()
    assert (await resident.get("/r/<script>")).status == 404
    old = city.room.code
    rotated = await rooms.rotate_room_code(ctx_of(client), None, city.room.id)
    moved = await resident.get(f"/r/{old}", allow_redirects=False)
    assert moved.status == 302 and moved.headers["Location"] == f"/r/{rotated.code}"
    await rooms.revoke_room_code(ctx_of(client), None, old)
    revoked = await resident.get(f"/r/{old}")
    assert revoked.status == 410 and "此二维码已停用" in await revoked.text()
    api = await resident.post(f"/api/rooms/{old}/topics", json=TOPIC)
    assert api.status == 410 and (await error_of(api))["code"] == "gone"
    assert (await error_of(await resident.get("/api/rooms/ZZZZZZ")))["code"] == "not_found"


async def test_submit_with_a_photo_then_follow_the_tracking_link(
    resident: aiohttp.ClientSession, city: City, web_settings: Settings
) -> None:
    await resident.get(f"/r/{city.room.code}")
    response = await resident.post(
        f"/api/rooms/{city.room.code}/topics",
        data=form(
            {**TOPIC, "phone": "138 1234 1234", "name": "张三", "consent": "true"},
            [("IMG_0001.jpg", jpeg_with_gps(), "image/jpeg")],
        ),
    )
    assert response.status == 201, await response.text()
    created = await response.json()
    assert re.fullmatch(r"HA\d{4}-\d{6}", created["number"])
    token = created["tracking_token"]
    assert created["tracking_url"] == f"http://msy.example.cn/t/{token}"
    page = await resident.get(f"/t/{token}")
    html = await page.text()
    assert page.status == 200 and created["number"] in html and TOPIC["title"] in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    tracked = await (await resident.get(f"/api/track/{token}")).json()
    [photo_id] = tracked["photo_ids"]
    photo = await resident.get(f"/api/track/{token}/photos/{photo_id}")
    data = await photo.read()
    assert photo.content_type == "image/jpeg" and Image.open(io.BytesIO(data)).size == (64, 48)
    assert b"PhoneMaker" not in data
    assert len(files_under(web_settings.uploads_dir)) == 1
    assert (await resident.get("/t/not-a-real-token")).status == 404


@pytest.mark.parametrize(
    ("body", "content_type", "code", "fields"),
    [
        (
            {"title": "", "description": "短", "kind": "x"},
            "json",
            "validation_failed",
            {"title", "description", "kind"},
        ),
        ({**TOPIC, "title": 5}, "json", "validation_failed", {"title"}),
        ({**TOPIC, "consent": "yes please"}, "json", "validation_failed", {"consent"}),
        ("not json", "text", "bad_request", set()),
        ("[1, 2]", "json-raw", "bad_request", set()),
        ("{broken", "json-raw", "bad_request", set()),
    ],
)
async def test_bad_submissions_get_field_errors_and_store_nothing(
    resident: aiohttp.ClientSession,
    city: City,
    client: TestClient[Any, Any],
    body: Any,
    content_type: str,
    code: str,
    fields: set[str],
) -> None:
    url = f"/api/rooms/{city.room.code}/topics"
    if content_type == "json":
        response = await resident.post(url, json=body)
    else:
        ctype = "application/json" if content_type == "json-raw" else "text/plain"
        response = await resident.post(url, data=body, headers={"Content-Type": ctype})
    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == code and set(error["fields"]) == fields
    listing = await (await resident.get(f"/api/rooms/{city.room.code}")).json()
    assert listing["topics"] == []


async def test_a_fake_image_is_refused_and_nothing_is_kept(
    resident: aiohttp.ClientSession, city: City, web_settings: Settings
) -> None:
    response = await resident.post(
        f"/api/rooms/{city.room.code}/topics",
        data=form(
            TOPIC,
            [
                ("ok.jpg", jpeg_with_gps(), "image/jpeg"),
                ("evil.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"),
            ],
        ),
    )
    assert response.status == 400 and (await error_of(response))["code"] == "invalid_image"
    assert files_under(web_settings.uploads_dir) == []
    assert (await (await resident.get(f"/api/rooms/{city.room.code}")).json())["topics"] == []


async def test_oversized_photo_and_body(
    resident: aiohttp.ClientSession, city: City, web_settings: Settings
) -> None:
    big = b"\xff\xd8" + b"0" * web_settings.max_photo_bytes
    one = await resident.post(
        f"/api/rooms/{city.room.code}/topics", data=form(TOPIC, [("big.jpg", big, "image/jpeg")])
    )
    assert one.status == 400 and "photos" in (await error_of(one))["fields"]
    huge = await resident.post(
        f"/api/rooms/{city.room.code}/topics",
        data=io.BytesIO(b"x" * (web_settings.max_body_bytes + 1)),
        headers={"Content-Type": "application/json"},
    )
    assert huge.status == 413 and (await error_of(huge))["code"] == "payload_too_large"
    assert files_under(web_settings.uploads_dir) == []


async def test_markup_is_stored_as_given_and_escaped_everywhere(
    resident: aiohttp.ClientSession, city: City, client: TestClient[Any, Any]
) -> None:
    evil = "<script>alert('x')</script>"
    created = await (
        await resident.post(
            f"/api/rooms/{city.room.code}/topics",
            json={
                **TOPIC,
                "title": evil + "灯",
                "description": f"<img src=x onerror=alert(1)> {evil}",
            },
        )
    ).json()
    for path in (f"/r/{city.room.code}", f"/t/{created['tracking_token']}"):
        html = await (await resident.get(path)).text()
        assert "&lt;script&gt;alert(" in html
        assert evil not in html and "<img src=x" not in html
    stored = await (await resident.get(f"/api/track/{created['tracking_token']}")).json()
    assert stored["title"] == evil + "灯"


async def test_phone_numbers_are_never_shown_whole(
    resident: aiohttp.ClientSession, city: City, client: TestClient[Any, Any]
) -> None:
    created = await (
        await resident.post(
            f"/api/rooms/{city.room.code}/topics",
            json={**TOPIC, "phone": "13812341234", "name": "张三", "consent": True},
        )
    ).json()
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    outputs = [
        await (await resident.get(f"/r/{city.room.code}")).text(),
        await (await resident.get(f"/api/rooms/{city.room.code}")).text(),
        await (await resident.get(f"/t/{created['tracking_token']}")).text(),
        await (await resident.get(f"/api/track/{created['tracking_token']}")).text(),
        await (await dispatcher.get("/api/staff/topics")).text(),
        await (await dispatcher.get("/staff/topics")).text(),
    ]
    assert all("13812341234" not in out and "1234 1234" not in out for out in outputs)
    assert "138****1234" in outputs[4]
    await dispatcher.session.close()


async def test_floods_get_429_with_retry_after(resident: aiohttp.ClientSession, city: City) -> None:
    await resident.get(f"/r/{city.room.code}")
    for _ in range(3):
        assert (
            await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)
        ).status == 201
    refused = await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)
    assert refused.status == 429 and (await error_of(refused))["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert len((await (await resident.get(f"/api/rooms/{city.room.code}")).json())["topics"]) == 3


# --- staff -------------------------------------------------------------------------------------


async def test_staff_api_needs_a_session_and_csrf(client: TestClient[Any, Any], city: City) -> None:
    anonymous = await client.get("/api/staff/topics")
    assert anonymous.status == 401 and (await error_of(anonymous))["code"] == "not_authenticated"
    page = await client.get("/staff/topics", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"].startswith("/staff/login?next=")
    admin = await staff(client, Role.ADMIN, city.city)
    body = {"parent_id": city.town.id, "level": "community", "name": "新社区"}
    forged = await admin.post("/api/staff/regions", csrf=False, json=body)
    assert forged.status == 403 and (await error_of(forged))["code"] == "csrf_failed"
    made = await admin.post("/api/staff/regions", json=body)
    assert made.status == 201 and (await made.json())["name"] == "新社区"
    await admin.session.close()


async def test_role_and_region_are_enforced(client: TestClient[Any, Any], city: City) -> None:
    handler = await staff(client, Role.HANDLER, city.town)
    assert (await (await handler.get("/api/staff/topics")).json())["total"] == 0
    officer = await staff(client, Role.INFO_OFFICER, city.town)
    outside = await officer.post("/api/staff/topics", json={**TOPIC, "room_id": city.other_room.id})
    assert outside.status == 403
    inside = await officer.post(
        "/api/staff/topics", data=form({**TOPIC, "room_id": str(city.room.id)})
    )
    assert inside.status == 201
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    assert (
        await dispatcher.patch(f"/api/staff/rooms/{city.room.id}", json={"name": "x"})
    ).status == 403
    assert (await dispatcher.get(f"/api/staff/rooms/{city.other_room.id}")).status == 403
    assert (await dispatcher.get("/staff/users")).status == 403
    for s in (handler, officer, dispatcher):
        await s.session.close()


async def test_one_time_password_blocks_the_api_until_changed(
    client: TestClient[Any, Any], city: City
) -> None:
    from server.accounts import actions as accounts

    made = await accounts.create_user(
        ctx_of(client),
        None,
        username="newbie",
        display_name="新人",
        role=Role.DISPATCHER,
        region_id=city.county.id,
    )
    newbie = await login(client, "newbie", made.one_time_password)
    assert (await newbie.get("/api/staff/topics")).status == 403
    assert (await newbie.get("/staff/topics")).headers["Location"] == "/staff/password"
    changed = await newbie.post(
        "/api/auth/password",
        json={"current": made.one_time_password, "new": "a much better secret"},
    )
    assert changed.status == 200
    assert (await newbie.get("/api/staff/topics")).status == 200
    out = await newbie.post("/api/auth/logout")
    assert out.status == 200
    assert (await newbie.get("/api/auth/me")).status == 401
    await newbie.session.close()


async def test_admin_manages_rooms_codes_posters_import_and_users(
    client: TestClient[Any, Any], city: City
) -> None:
    admin = await staff(client, Role.ADMIN, city.city)
    listing = await (await admin.get("/api/staff/rooms?q=幸福")).json()
    assert listing["total"] == 1 and listing["rooms"][0]["code"] == city.room.code
    bad = await admin.patch(f"/api/staff/rooms/{city.room.id}", json={"name": ""})
    assert bad.status == 400 and "name" in (await error_of(bad))["fields"]
    rotated = await (await admin.post(f"/api/staff/rooms/{city.room.id}/rotate-code")).json()
    assert rotated["code"] != city.room.code
    revoked = await admin.post(f"/api/staff/room-codes/{city.room.code}/revoke")
    assert revoked.status == 200 and (await revoked.json())["status"] == "revoked"
    active = await admin.post(f"/api/staff/room-codes/{rotated['code']}/revoke")
    assert active.status == 409
    png = await admin.get(f"/api/staff/rooms/{city.room.id}/qr.png")
    assert png.content_type == "image/png"
    assert min(Image.open(io.BytesIO(await png.read())).size) >= 1000
    svg = await admin.get(f"/api/staff/rooms/{city.room.id}/qr.svg")
    assert svg.content_type == "image/svg+xml" and "<svg" in await svg.text()
    poster = await (await admin.get(f"/staff/rooms/{city.room.id}/poster")).text()
    assert rotated["code"] in poster and "<svg" in poster and "扫一扫" in poster
    bulk = await (await admin.get(f"/staff/regions/{city.city.id}/posters")).text()
    assert bulk.count('class="poster"') == 2
    csv_text = "县区,镇街,村社区,议事室名称\n清河区,城南街道,书香苑社区,书香苑议事室\n"
    data = aiohttp.FormData()
    data.add_field("file", csv_text.encode(), filename="rooms.csv", content_type="text/csv")
    imported = await (await admin.post("/api/staff/rooms/import", data=data)).json()
    assert imported["rooms_created"] == 1
    bad_csv = await admin.post(
        "/api/staff/rooms/import",
        data=io.BytesIO("县区\n".encode()),
        headers={"Content-Type": "text/csv"},
    )
    assert bad_csv.status == 400
    export = await admin.get("/api/staff/rooms/export.csv")
    raw = await export.read()
    assert raw.startswith("\ufeff".encode()) and "书香苑议事室" in raw.decode("utf-8-sig")
    made = await admin.post(
        "/api/staff/users",
        json={
            "username": "info.new",
            "display_name": "新信息员",
            "role": "info_officer",
            "region_id": city.town.id,
        },
    )
    assert made.status == 201 and len((await made.json())["one_time_password"]) == 19
    bad_role = await admin.post(
        "/api/staff/users",
        json={"username": "x.y", "display_name": "x", "role": "king", "region_id": city.town.id},
    )
    assert bad_role.status == 400
    audit = await (await admin.get("/api/staff/audit?limit=5")).json()
    assert audit["entries"][0]["action"] == "staff.create"
    for path in (
        "/staff/",
        "/staff/rooms",
        f"/staff/rooms/{city.room.id}",
        "/staff/regions",
        "/staff/import",
        "/staff/users",
        "/staff/audit",
        "/staff/topics",
        "/staff/intake",
    ):
        assert (await admin.get(path)).status == 200, path
    await admin.session.close()


async def test_errors_are_json_under_api_and_pages_elsewhere(client: TestClient[Any, Any]) -> None:
    api = await client.get("/api/nothing-here")
    assert api.status == 404 and (await error_of(api))["code"] == "not_found"
    wrong_method = await client.delete("/api/auth/login")
    assert (
        wrong_method.status == 405
        and (await error_of(wrong_method))["code"] == "method_not_allowed"
    )
    page = await client.get("/nothing-here")
    assert page.status == 404 and "页面不存在" in await page.text()
    bad_int = await client.get("/api/staff/audit?limit=abc")
    assert bad_int.status == 401  # authentication is checked before parsing


async def test_security_headers_and_secure_cookies(
    client: TestClient[Any, Any], city: City, web_settings: Settings
) -> None:
    home = await client.get("/")
    assert home.status == 200
    for header in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"):
        assert header in home.headers
    assert "script-src 'self'" in home.headers["Content-Security-Policy"]
    assert web_settings.secure_cookies is False
    from dataclasses import replace

    assert replace(web_settings, public_base_url="https://msy.example.cn").secure_cookies


async def test_regions_are_renamed_within_territory(
    client: TestClient[Any, Any], city: City
) -> None:
    county_admin = await staff(client, Role.ADMIN, city.county)
    renamed = await county_admin.patch(
        f"/api/staff/regions/{city.town.id}", json={"name": "城南新区"}
    )
    assert renamed.status == 200 and (await renamed.json())["name"] == "城南新区"
    page = await (await county_admin.get("/staff/regions")).text()
    assert "城南新区" in page and 'data-rename="' in page
    outside = await county_admin.patch(
        f"/api/staff/regions/{city.other_community.id}", json={"name": "别人的社区"}
    )
    assert outside.status == 403
    clash = await county_admin.patch(
        f"/api/staff/regions/{city.community.id}", json={"name": "幸福里社区"}
    )
    assert clash.status == 200  # renaming to its own name is not a clash
    sibling = await county_admin.post(
        "/api/staff/regions",
        json={"parent_id": city.county.id, "level": "town", "name": "书香街道"},
    )
    assert sibling.status == 201
    taken = await county_admin.patch(
        f"/api/staff/regions/{city.town.id}", json={"name": "书香街道"}
    )
    assert taken.status == 409 and (await error_of(taken))["code"] == "conflict"
    await county_admin.session.close()


async def test_moves_over_http_refuse_with_the_current_state(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession
) -> None:
    created = await (await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)).json()
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    url = f"/api/staff/topics/{created['id']}/moves"
    assert (
        await dispatcher.post(url, csrf=False, json={"to": "accepted", "version": 1})
    ).status == 403
    bad = await dispatcher.post(url, json={"to": "finished", "version": 1})
    assert bad.status == 400 and "to" in (await error_of(bad))["fields"]
    illegal = await dispatcher.post(url, json={"to": "resolved", "version": 1})
    error = await error_of(illegal)
    assert illegal.status == 409 and error["code"] == "invalid_transition"
    assert error["fields"] == {"status": "submitted"}
    ok = await dispatcher.post(url, json={"to": "accepted", "version": 1, "note": "受理"})
    assert ok.status == 200 and (await ok.json())["version"] == 2
    stale = await dispatcher.post(url, json={"to": "rejected", "version": 1, "note": "重复"})
    assert stale.status == 409 and (await error_of(stale))["code"] == "stale_update"
    timeline = await (await resident.get(f"/api/track/{created['tracking_token']}")).json()
    assert [e["status"] for e in timeline["timeline"]] == ["submitted", "accepted"]
    await dispatcher.session.close()


async def test_staff_topic_page_offers_the_moves_the_workflow_allows(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession
) -> None:
    created = await (
        await resident.post(
            f"/api/rooms/{city.room.code}/topics",
            json={**TOPIC, "phone": "13812341234", "consent": True},
        )
    ).json()
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    detail = await (await dispatcher.get(f"/api/staff/topics/{created['id']}")).json()
    assert detail["moves"] == ["accepted", "rejected"]
    assert [e["to"] for e in detail["events"]] == ["submitted"]
    page = await (await dispatcher.get(f"/staff/topics/{created['id']}")).text()
    assert 'value="accepted"' in page and "138****1234" in page and "13812341234" not in page
    chief = await staff(client, Role.ROOM_CHIEF, city.community)
    seen_by_chief = await (await chief.get(f"/api/staff/topics/{created['id']}")).json()
    assert seen_by_chief["moves"] == []
    outsider = await staff(client, Role.DISPATCHER, city.other_county)
    assert (await outsider.get(f"/api/staff/topics/{created['id']}")).status == 403
    assert (await dispatcher.get("/api/staff/topics/99999")).status == 404
    for s in (dispatcher, chief, outsider):
        await s.session.close()


async def test_merge_over_http_and_the_duplicates_tracking_page(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession
) -> None:
    first = await (await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)).json()
    second = await (await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)).json()
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    url = f"/api/staff/topics/{second['id']}/merge"
    itself = await dispatcher.post(url, json={"into_id": second["id"], "version": 1})
    assert itself.status == 400 and "into_id" in (await error_of(itself))["fields"]
    assert (await dispatcher.post(url, json={"into_id": "x", "version": 1})).status == 400
    done = await dispatcher.post(url, json={"into_id": first["id"], "version": 1})
    assert done.status == 200 and (await done.json())["status"] == "merged"
    again = await dispatcher.post(url, json={"into_id": first["id"], "version": 2})
    assert again.status == 409 and (await error_of(again))["code"] == "invalid_transition"
    page = await (await resident.get(f"/t/{second['tracking_token']}")).text()
    assert first["number"] in page and "合并办理" in page
    api = await (await resident.get(f"/api/track/{second['tracking_token']}")).json()
    assert api["followed"]["number"] == first["number"]
    await dispatcher.session.close()


async def test_dispatch_over_http(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession
) -> None:
    admin = await staff(client, Role.ADMIN, city.city)
    relay = await admin.post(
        "/api/staff/units",
        json={"name": "清河区中转", "kind": "relay", "region_id": city.county.id},
    )
    assert relay.status == 201
    relay_id = (await relay.json())["id"]
    bad_kind = await admin.post(
        "/api/staff/units", json={"name": "x", "kind": "ministry", "region_id": city.county.id}
    )
    assert bad_kind.status == 400
    rule = await admin.post(
        "/api/staff/routing-rules",
        json={"region_id": city.county.id, "category": "", "subject": "", "unit_id": relay_id},
    )
    assert rule.status == 200
    rules = await (await admin.get("/api/staff/routing-rules")).json()
    assert [r["unit_id"] for r in rules["rules"]] == [relay_id]
    created = [
        await (await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)).json()
        for _ in range(2)
    ]
    for topic in created:
        moved = await admin.post(
            f"/api/staff/topics/{topic['id']}/moves", json={"to": "accepted", "version": 1}
        )
        assert moved.status == 200
    page = await (await admin.get(f"/staff/topics/{created[0]['id']}")).text()
    assert 'id="route-form"' in page and "清河区中转" in page and "按派单规则" in page
    one = await admin.post(f"/api/staff/topics/{created[0]['id']}/route", json={"version": 2})
    assert one.status == 200 and (await one.json())["status"] == "dispatched"
    bulk = await admin.post(
        "/api/staff/topics/route",
        json={
            "topics": [
                {"id": created[0]["id"], "version": 2},
                {"id": created[1]["id"], "version": 2},
            ]
        },
    )
    results = (await bulk.json())["results"]
    assert [(r["ok"], r["error"]) for r in results] == [(False, "stale_update"), (True, None)]
    malformed = await admin.post("/api/staff/topics/route", json={"topics": [{"id": "x"}]})
    assert malformed.status == 400
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    refused = await dispatcher.post(
        "/api/staff/routing-rules",
        json={"region_id": city.county.id, "category": "", "subject": "", "unit_id": relay_id},
    )
    assert refused.status == 403
    rule_id = rules["rules"][0]["id"]
    assert (
        await dispatcher.session.delete(
            dispatcher.url(f"/api/staff/routing-rules/{rule_id}"),
            headers={"X-CSRF-Token": dispatcher.csrf},
        )
    ).status == 403
    deleted = await admin.session.delete(
        admin.url(f"/api/staff/routing-rules/{rule_id}"), headers={"X-CSRF-Token": admin.csrf}
    )
    assert deleted.status == 200
    for s in (admin, dispatcher):
        await s.session.close()


async def test_classification_over_http(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession
) -> None:
    created = await (await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)).json()
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    detail = await (await dispatcher.get(f"/api/staff/topics/{created['id']}")).json()
    assert detail["classification"]["category"] in ("petition", "legal", "opinion")
    page = await (await dispatcher.get(f"/staff/topics/{created['id']}")).text()
    assert 'id="classify-form"' in page and "<mark>" in page
    url = f"/api/staff/topics/{created['id']}/classification"
    bad = await dispatcher.post(url, json={"version": 1, "subject": "weather"})
    assert bad.status == 400 and "subject" in (await error_of(bad))["fields"]
    fixed = await dispatcher.post(url, json={"version": 1, "subject": "public_safety"})
    assert fixed.status == 200
    assert (await fixed.json())["classification"]["subject"] == "public_safety"
    await dispatcher.session.close()


async def test_a_handlers_queue_page_lists_its_units_topics(
    client: TestClient[Any, Any], city: City
) -> None:
    handler = await staff(client, Role.HANDLER, city.town)
    page = await handler.get("/staff/topics")
    assert page.status == 200 and 'href="/staff/topics"' in await page.text()
    assert (await (await handler.get("/api/staff/topics")).json())["topics"] == []
    await handler.session.close()
