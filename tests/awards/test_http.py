"""The awards over HTTP: the staff flow from opening a year to publishing it, its refusals,
the staff and public pages, and no name, phone, token or device in any public output."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from server.core.auth import Role, token_digest
from tests.awards.helpers import DEVICE, NAME, PHONE, seeded_year
from tests.factories import City, make_staff
from tests.http_helpers import Staff, ctx_of, login

Client = TestClient[Any, Any]
OTHER_NAME = "慕容雪雪"
OTHER_PHONE = "13766668888"


async def put(staff: Staff, path: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
    return await staff.session.put(staff.url(path), json=body, headers={"X-CSRF-Token": staff.csrf})


async def error(response: aiohttp.ClientResponse) -> dict[str, Any]:
    data: dict[str, Any] = (await response.json())["error"]
    return data


async def test_a_year_from_opening_to_publication(client: Client, city: City) -> None:
    seed = await seeded_year(ctx_of(client), city)
    admin = await login(client, "cityadmin")
    one = await login(client, "reviewer1")
    two = await login(client, "reviewer2")

    assert (await client.post("/api/staff/awards", json={"year": 2026})).status == 401
    assert (await admin.post("/api/staff/awards", json={"year": 2026}, csrf=False)).status == 403
    assert (await one.post("/api/staff/awards", json={"year": 2026})).status == 403
    future = await admin.post("/api/staff/awards", json={"year": 2027})
    assert future.status == 400 and "year" in (await error(future))["fields"]
    opened = await admin.post("/api/staff/awards", json={"year": 2026, "excellent": 3, "best": 1})
    assert opened.status == 201, await opened.text()
    assert (await opened.json())["status"] == "open"
    again = await admin.post("/api/staff/awards", json={"year": 2026})
    assert again.status == 409

    page = await admin.get("/staff/awards")
    assert page.status == 200 and 'data-year="2026"' in await page.text()

    generated = await admin.post("/api/staff/awards/2026/generate", json={})
    assert (await generated.json())["candidates"] == {"room": 1, "case": 2, "resident": 1}
    assert (await admin.post("/api/staff/awards/2026/generate", json={})).status == 409
    appointed = await admin.post("/api/staff/awards/2026/reviewers", json={"username": "reviewer1"})
    assert appointed.status == 201
    unknown = await admin.post("/api/staff/awards/2026/reviewers", json={"username": "nobody"})
    assert unknown.status == 400

    nominated = await client.post(
        "/api/awards/2026/nominations",
        json={
            "name": OTHER_NAME,
            "phone": OTHER_PHONE,
            "room_code": city.room.code,
            "reasons": "每次议事活动都主动报名，帮助邻里反映问题。",
        },
    )
    assert nominated.status == 201, await nominated.text()
    body = await nominated.json()
    assert body["status"] == "pending" and OTHER_PHONE not in json.dumps(body)
    duplicate = await client.post(
        "/api/awards/2026/nominations",
        json={
            "name": OTHER_NAME,
            "phone": OTHER_PHONE,
            "room_code": city.room.code,
            "reasons": "每次议事活动都主动报名，帮助邻里反映问题。",
        },
    )
    assert duplicate.status == 409
    bad = await client.post("/api/awards/2026/nominations", json={"name": "", "phone": "1"})
    assert bad.status == 400
    assert set((await error(bad))["fields"]) == {"name", "phone", "room_code", "reasons"}
    accepted = await admin.post(f"/api/staff/awards/2026/nominations/{body['id']}/accept", json={})
    assert accepted.status == 200, await accepted.text()

    detail = await (await one.get("/api/staff/awards/2026")).json()
    assert detail["reviewer"] and not detail["manager"]
    candidates = [c for kind in detail["candidates"].values() for c in kind]
    assert len(candidates) == 5
    staff_text = json.dumps(detail, ensure_ascii=False)
    assert NAME not in staff_text and PHONE not in staff_text and OTHER_PHONE not in staff_text
    assert "139****5678" in staff_text  # staff see the masked phone at most
    first = candidates[0]["id"]
    out_of_range = await put(
        one, f"/api/staff/awards/2026/candidates/{first}/score", {"score": 101}
    )
    assert out_of_range.status == 400
    not_reviewer = await put(two, f"/api/staff/awards/2026/candidates/{first}/score", {"score": 50})
    assert not_reviewer.status == 403
    assert (await two.get("/api/staff/awards/2026")).status == 403
    assert (await two.get("/staff/awards/2026")).status == 403
    for n, c in enumerate(candidates):
        scored = await put(
            one, f"/api/staff/awards/2026/candidates/{c['id']}/score", {"score": 90 - n}
        )
        assert scored.status == 200, await scored.text()

    for who in (admin, one):
        page = await who.get("/staff/awards/2026")
        html = await page.text()
        assert page.status == 200 and "欧***" in html
        assert NAME not in html and PHONE not in html and OTHER_NAME not in html

    early = await admin.post("/api/staff/awards/2026/publish", json={})
    assert early.status == 409 and "Close the review" in (await error(early))["message"]
    assert (await admin.post("/api/staff/awards/2026/close", json={})).status == 200
    late = await put(one, f"/api/staff/awards/2026/candidates/{first}/score", {"score": 10})
    assert late.status == 409
    published = await admin.post("/api/staff/awards/2026/publish", json={})
    assert published.status == 201, await published.text()
    assert (await published.json())["url"] == "/awards/2026"
    assert (await admin.post("/api/staff/awards/2026/publish", json={})).status == 409
    wrong = await admin.post("/api/staff/awards/2026/publish", json={"new_version": "yes"})
    assert wrong.status == 400

    listing = await (await client.get("/api/awards")).json()
    assert [a["year"] for a in listing["awards"]] == [2026]
    data = await (await client.get("/api/awards/2026")).json()
    residents = data["data"]["kinds"]["resident"]["excellent"]
    assert [e["title"] for e in residents] == ["欧***", "慕***"][: len(residents)]
    assert all(e["room"] == city.room.name and e["figures"] == {} for e in residents)
    rooms = data["data"]["kinds"]["room"]
    assert rooms["short"] and rooms["excellent"][0]["best"]

    outputs = [
        await (await client.get(path)).text()
        for path in ("/awards", "/awards/2026", "/api/awards", "/api/awards/2026")
    ]
    forbidden = [
        NAME,
        PHONE,
        OTHER_NAME,
        OTHER_PHONE,
        "5678",
        seed.resident_token,
        token_digest(seed.resident_token),
        DEVICE,
        "cityadmin",
        "reviewer1",
        "admin 安和市",
        "dispatcher 清河区",
    ]
    for text in outputs:
        assert "欧***" in text or text.startswith('{"awards"') or "/awards/2026" in text
        for secret in forbidden:
            assert secret not in text, secret


async def test_public_pages_and_refusals(client: Client, city: City) -> None:
    empty = await client.get("/awards")
    assert empty.status == 200 and 'id="award-none"' in await empty.text()
    assert (await client.get("/awards/2025")).status == 404
    assert (await client.get("/api/awards/2025")).status == 404
    assert (await client.get("/api/awards/abcd")).status == 400
    form = await client.get("/awards/2026/nominate")
    assert form.status == 200 and 'id="award-nominate"' in await form.text()
    not_open = await client.post(
        "/api/awards/2026/nominations",
        json={
            "name": OTHER_NAME,
            "phone": OTHER_PHONE,
            "room_code": city.room.code,
            "reasons": "每次议事活动都主动报名，帮助邻里反映问题。",
        },
    )
    assert not_open.status == 404
    assert (await client.get("/staff/awards", allow_redirects=False)).status == 302


async def test_staff_nominations_withdrawals_and_lists_over_http(
    client: Client, city: City
) -> None:
    ctx = ctx_of(client)
    await make_staff(ctx, Role.ADMIN, city.city, username="cityadmin")
    await make_staff(ctx, Role.ROOM_CHIEF, city.community, username="chief")
    admin = await login(client, "cityadmin")
    chief = await login(client, "chief")
    await admin.post("/api/staff/awards", json={"year": 2026, "excellent": 3, "best": 1})
    reasons = "议事室每月开展协商活动，群众参与度高。"
    base = "/api/staff/awards/2026"
    no_org = await chief.post(
        f"{base}/nominations", json={"kind": "room", "room_id": city.room.id, "reasons": reasons}
    )
    assert no_org.status == 400 and set((await error(no_org))["fields"]) == {"organisation"}
    made = await chief.post(
        f"{base}/nominations",
        json={
            "kind": "room",
            "room_id": city.room.id,
            "organisation": "城南街道",
            "reasons": reasons,
        },
    )
    assert made.status == 201, await made.text()
    room_nomination = (await made.json())["id"]
    other = await chief.post(
        f"{base}/nominations",
        json={
            "kind": "room",
            "room_id": city.other_room.id,
            "organisation": "科创街道",
            "reasons": reasons,
        },
    )
    other_id = (await other.json())["id"]
    # A room chief nominates but does not decide.
    assert (await chief.post(f"{base}/nominations/{room_nomination}/accept", json={})).status == 403
    short = await admin.post(f"{base}/nominations/{other_id}/decline", json={"reason": "否"})
    assert short.status == 400 and set((await error(short))["fields"]) == {"reason"}
    declined = await admin.post(
        f"{base}/nominations/{other_id}/decline", json={"reason": "年内未开展活动"}
    )
    assert declined.status == 200
    accepted = await admin.post(f"{base}/nominations/{room_nomination}/accept", json={})
    candidate = (await accepted.json())["candidate_id"]
    assert (await admin.post(f"{base}/nominations/9999/accept", json={})).status == 404
    no_reason = await admin.post(f"{base}/candidates/{candidate}/withdraw", json={})
    assert no_reason.status == 400
    withdrawn = await admin.post(
        f"{base}/candidates/{candidate}/withdraw", json={"reason": "推荐材料有误"}
    )
    assert withdrawn.status == 200
    page = await (await admin.get("/staff/awards/2026")).text()
    assert "推荐材料有误" in page and "年内未开展活动" in page and 'data-form="nominate"' in page
    mine = await (await chief.get("/api/staff/awards")).json()
    assert mine == {"rounds": []}  # not a reviewer
    every = await (await admin.get("/api/staff/awards")).json()
    assert [r["year"] for r in every["rounds"]] == [2026]
    chief_page = await (await chief.get("/staff/awards")).text()
    assert 'id="award-open"' not in chief_page
