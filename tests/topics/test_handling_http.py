"""Handling, supervision, similar topics, clusters and notifications over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Role
from server.core.clock import FakeClock
from server.topics.actions import deadlines
from tests.factories import City, jpeg_with_gps, make_staff
from tests.http_helpers import Staff, ctx_of, login, staff

TOPIC = {
    "title": "12路公交车站太远",
    "description": "12路公交车的站点离小区太远，老人每天要走二十分钟才能坐上车，希望增设站点。",
    "kind": "demand",
}
TWIN = {
    "title": "希望12路公交增设站点",
    "description": "小区老人坐12路公交车要走二十分钟到站点，希望在小区门口增设一个站点。",
    "kind": "demand",
}


def dispatcher_name(city: City) -> str:
    return f"dispatcher{city.county.id}"  # as tests.factories.make_staff names them


async def error_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    error: dict[str, Any] = (await response.json())["error"]
    return error


async def assigned_over_http(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession
) -> tuple[dict[str, Any], Staff, Staff]:
    """A resident's topic accepted and sent via the relay to a town unit; (topic, the
    county dispatcher, the unit's handler)."""
    ctx = ctx_of(client)
    relay = await accounts.create_unit(
        ctx, None, name="清河区中转", kind=UnitKind.RELAY, region_id=city.county.id
    )
    unit = await accounts.create_unit(
        ctx, None, name="城南街道办", kind=UnitKind.TOWN, region_id=city.town.id
    )
    await make_staff(ctx, Role.HANDLER, city.town, username="handler", unit_id=unit.id)
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    handler = await login(client, "handler")
    topic = await (await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)).json()
    base = f"/api/staff/topics/{topic['id']}"
    for body in (
        {"path": "/moves", "json": {"to": "accepted", "version": 1}},
        {"path": "/route", "json": {"version": 2, "unit_id": relay.id}},
        {"path": "/route", "json": {"version": 3, "unit_id": unit.id}},
    ):
        response = await dispatcher.post(base + body["path"], json=body["json"])
        assert response.status == 200, await response.text()
    return topic, dispatcher, handler


async def test_the_handlers_records_over_http(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession
) -> None:
    topic, dispatcher, handler = await assigned_over_http(client, city, resident)
    base = f"/api/staff/topics/{topic['id']}"
    assert (
        await handler.post(base + "/contact", csrf=False, json={"method": "phone"})
    ).status == 403
    bad = await handler.post(base + "/contact", json={"method": "fax"})
    assert bad.status == 400 and "method" in (await error_of(bad))["fields"]
    ok = await handler.post(base + "/contact", json={"method": "phone", "note": "约周三上门"})
    assert ok.status == 200 and (await ok.json())["version"] == 4
    bad_public = await handler.post(base + "/progress", json={"note": "进展", "public": "yes"})
    assert bad_public.status == 400
    assert (await handler.post(base + "/progress", json={"note": "已约供电公司"})).status == 200
    assert (await handler.post(base + "/pause", json={"reason": ""})).status == 400
    paused = await handler.post(base + "/pause", json={"reason": "等待居民提供材料"})
    assert (await paused.json())["deadline"]["flag"] == "paused"
    again = await handler.post(base + "/pause", json={"reason": "再停一次"})
    assert again.status == 409
    assert (await handler.post(base + "/resume")).status == 200
    too_long = await handler.post(base + "/extensions", json={"days": 99, "reason": "人手不够"})
    assert too_long.status == 400 and "days" in (await error_of(too_long))["fields"]
    not_int = await handler.post(base + "/extensions", json={"days": "3", "reason": "人手不够"})
    assert not_int.status == 400
    asked = await handler.post(base + "/extensions", json={"days": 3, "reason": "需协调供电"})
    assert asked.status == 201
    detail = await (await dispatcher.get(base)).json()
    (ext,) = [e for d in detail["deadlines"] for e in d["extensions"]]
    assert detail["may_supervise"] is True and ext["status"] == "requested"
    decision = f"{base}/extensions/{ext['id']}/decision"
    assert (await handler.post(decision, json={"approve": True})).status == 403
    assert (await dispatcher.post(decision, json={"approve": "yes"})).status == 400
    assert (await dispatcher.post(decision, json={"approve": True, "note": "同意"})).status == 200
    assert (await dispatcher.post(decision, json={"approve": False})).status == 409
    missing = await dispatcher.post(f"{base}/extensions/9999/decision", json={"approve": True})
    assert missing.status == 404
    timeline = await (await resident.get(f"/api/track/{topic['tracking_token']}")).json()
    kinds = [(e["kind"], e["note"]) for e in timeline["timeline"]]
    assert ("contact", "phone") in kinds and ("progress", "已约供电公司") in kinds
    assert all("周三" not in note for _, note in kinds)  # contact notes stay with the staff
    assert not any(kind == "extension" for kind, _ in kinds)


async def test_resolving_over_http_with_a_photo(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession
) -> None:
    topic, _dispatcher, handler = await assigned_over_http(client, city, resident)
    base = f"/api/staff/topics/{topic['id']}"
    handling = await handler.post(base + "/moves", json={"to": "handling", "version": 4})
    assert handling.status == 200
    empty = aiohttp.FormData({"version": "5", "result": ""})
    refused = await handler.post(base + "/resolve", data=empty)
    assert refused.status == 400 and "result" in (await error_of(refused))["fields"]
    no_version = await handler.post(base + "/resolve", json={"result": "已修好路灯。"})
    assert no_version.status == 400 and "version" in (await error_of(no_version))["fields"]
    form = aiohttp.FormData()
    form.add_field("version", "5")
    form.add_field("result", "已协调公交公司，下月起增设站点。")
    form.add_field("photos", jpeg_with_gps(), filename="a.jpg", content_type="image/jpeg")
    resolved = await handler.post(base + "/resolve", data=form)
    assert resolved.status == 200, await resolved.text()
    assert (await resolved.json())["status"] == "resolved"
    tracking = await resident.get(f"/t/{topic['tracking_token']}")
    page = await tracking.text()
    assert "已协调公交公司，下月起增设站点。" in page
    data = await (await resident.get(f"/api/track/{topic['tracking_token']}")).json()
    (photo_id,) = data["timeline"][-1]["photo_ids"]
    photo = await resident.get(f"/api/track/{topic['tracking_token']}/photos/{photo_id}")
    assert photo.status == 200 and photo.content_type == "image/jpeg"
    assert f"/api/track/{topic['tracking_token']}/photos/{photo_id}" in page


async def test_similar_topics_clusters_and_merging_over_http(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession, clock: FakeClock
) -> None:
    admin = await staff(client, Role.ADMIN, city.city)
    first = await (await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)).json()
    twin = await (
        await resident.post(f"/api/rooms/{city.other_room.code}/topics", json=TWIN)
    ).json()
    clock.advance(timedelta(seconds=1))  # past the index's catch-up interval
    found = await (await admin.get(f"/api/staff/topics/{first['id']}/similar")).json()
    assert [m["topic"]["number"] for m in found["similar"]] == [twin["number"]]
    assert found["similar"][0]["shared"]
    county = await staff(client, Role.DISPATCHER, city.county)
    mine = await (await county.get(f"/api/staff/topics/{first['id']}/similar")).json()
    assert mine["similar"] == []  # the twin is in the park, outside the county
    assert (await county.get(f"/api/staff/topics/{twin['id']}/similar")).status == 403
    assert (await admin.get("/api/staff/topics/99999/similar")).status == 404
    wide = await admin.get("/api/staff/clusters?min_topics=2&min_rooms=2&threshold=0.2")
    (cluster,) = (await wide.json())["clusters"]
    assert cluster["topic_count"] == 2 and cluster["room_count"] == 2
    page = await (await admin.get("/staff/clusters?min_topics=2&min_rooms=2&threshold=0.2")).text()
    assert first["number"] in page and twin["number"] in page
    bad = await admin.get("/api/staff/clusters?threshold=abc")
    assert bad.status == 400 and "threshold" in (await error_of(bad))["fields"]
    assert (await admin.get("/api/staff/clusters?min_rooms=0")).status == 400
    topic_page = await (await admin.get(f"/staff/topics/{first['id']}")).text()
    assert 'id="similar"' in topic_page and 'data-can-merge="1"' in topic_page
    merged = await admin.post(
        f"/api/staff/topics/{twin['id']}/merge", json={"into_id": first["id"], "version": 1}
    )
    assert merged.status == 200
    clock.advance(timedelta(seconds=1))
    after = await (await admin.get(f"/api/staff/topics/{first['id']}/similar")).json()
    assert after["similar"] == []


async def test_notifications_over_http(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession, clock: FakeClock
) -> None:
    await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    other = await staff(client, Role.DISPATCHER, city.other_county)
    assert await deadlines.run_reminders(ctx_of(client)) == 1
    listed = await (await dispatcher.get("/api/staff/notifications")).json()
    assert listed["unread"] == 1 and listed["notifications"][0]["kind"] == "deadline.near"
    assert (await (await other.get("/api/staff/notifications")).json())["unread"] == 0
    page = await (await dispatcher.get("/staff/notifications")).text()
    assert "办理时限临期" in page and TOPIC["title"] in page
    assert (
        await dispatcher.post("/api/staff/notifications/read", json={"ids": ["1"]})
    ).status == 400
    theirs = listed["notifications"][0]["id"]
    nothing = await other.post("/api/staff/notifications/read", json={"ids": [theirs]})
    assert (await nothing.json())["marked"] == 0
    marked = await dispatcher.post("/api/staff/notifications/read", json={})
    assert (await marked.json())["marked"] == 1
    assert (await (await dispatcher.get("/api/staff/notifications?unread=1")).json()) == {
        "notifications": [],
        "unread": 0,
    }


async def test_queue_filters_by_deadline_flag_and_subject(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession, clock: FakeClock
) -> None:
    created = await (await resident.post(f"/api/rooms/{city.room.code}/topics", json=TOPIC)).json()
    dispatcher = await staff(client, Role.DISPATCHER, city.county)
    near = await (await dispatcher.get("/api/staff/topics?flag=near")).json()
    assert [t["id"] for t in near["topics"]] == [created["id"]]
    assert near["topics"][0]["deadline"]["flag"] == "near"
    assert (await (await dispatcher.get("/api/staff/topics?flag=overdue")).json())["total"] == 0
    clock.advance(timedelta(days=3))
    dispatcher = await login(client, dispatcher_name(city))  # the session expired meanwhile
    overdue = await (await dispatcher.get("/api/staff/topics?flag=overdue")).json()
    assert [t["id"] for t in overdue["topics"]] == [created["id"]]
    assert (await dispatcher.get("/api/staff/topics?flag=purple")).status == 400
    subject = overdue["topics"][0]["classification"]["subject"]
    same = await (await dispatcher.get(f"/api/staff/topics?subject={subject}")).json()
    assert same["total"] == 1
    other = "education" if subject != "education" else "housing"
    assert (await (await dispatcher.get(f"/api/staff/topics?subject={other}")).json())["total"] == 0


async def test_escalating_names_a_lead_over_http(
    client: TestClient[Any, Any], city: City, resident: aiohttp.ClientSession
) -> None:
    topic, dispatcher, _handler = await assigned_over_http(client, city, resident)
    housing = await accounts.create_unit(
        ctx_of(client),
        None,
        name="清河区住建局",
        kind=UnitKind.DEPARTMENT,
        region_id=city.county.id,
    )
    base = f"/api/staff/topics/{topic['id']}"
    page = await (await dispatcher.get(f"/staff/topics/{topic['id']}")).text()
    assert 'id="lead"' in page and "清河区住建局" in page
    nameless = await dispatcher.post(base + "/moves", json={"to": "escalated", "version": 4})
    assert nameless.status == 400 and "lead" in (await error_of(nameless))["fields"]
    escalated = await dispatcher.post(
        base + "/moves",
        json={"to": "escalated", "version": 4, "lead": "区住建局 王局长", "unit_id": housing.id},
    )
    assert escalated.status == 200
    body = await escalated.json()
    assert (body["status"], body["lead"], body["unit_id"]) == (
        "escalated",
        "区住建局 王局长",
        housing.id,
    )
    assert "区住建局 王局长" in await (await dispatcher.get(f"/staff/topics/{topic['id']}")).text()
