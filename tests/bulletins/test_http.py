"""The bulletin over HTTP: public pages, print, CSV and XLSX exports that parse back,
JSON, the administrator's publish action and page, refusals, and no personal data in
any public output."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook  # type: ignore[import-untyped]

from server.bulletins import actions
from server.core.auth import token_digest
from server.core.clock import FakeClock
from tests.bulletins.helpers import RESIDENT_NAME, RESIDENT_PHONE, World, two_quarters
from tests.factories import City
from tests.http_helpers import ctx_of, login

Client = TestClient[Any, Any]


async def world(client: Client, clock: FakeClock, city: City) -> World:
    return await two_quarters(ctx_of(client), clock, city)


async def text(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    body = await response.text()
    assert response.status == status, (path, body[:300])
    return body


async def test_publish_over_http_and_its_refusals(
    client: Client, clock: FakeClock, city: City
) -> None:
    await world(client, clock, city)
    admin = await login(client, "bulletinadmin")
    url = "/api/bulletins/2026-Q2/publish"
    no_csrf = await admin.post(url, json={}, csrf=False)
    assert no_csrf.status == 403
    assert (await client.post(url, json={})).status == 401
    bad = await admin.post("/api/bulletins/2026-Q7/publish", json={})
    assert bad.status == 400
    assert (await bad.json())["error"]["fields"] == {"quarter": "YYYY-Qn, e.g. 2026-Q1."}
    running = await admin.post("/api/bulletins/2026-Q3/publish", json={})
    assert running.status == 400 and "has not ended" in (await running.json())["error"]["message"]
    wrong = await admin.post(url, json={"new_version": "yes"})
    assert wrong.status == 400
    assert (await client.get("/api/bulletins/2026-Q2")).status == 404  # nothing written
    done = await admin.post(url, json={})
    assert done.status == 201, await done.text()
    assert (await done.json())["version"] == 1
    again = await admin.post(url, json={})
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "conflict"
    no_reason = await admin.post(url, json={"new_version": True, "reason": ""})
    assert no_reason.status == 400
    view = await actions.get_bulletin(ctx_of(client), "2026-Q2")
    assert [v["version"] for v in view.versions] == [1]
    v2 = await admin.post(url, json={"new_version": True, "reason": "更正数据口径"})
    assert v2.status == 201 and (await v2.json())["version"] == 2
    dispatcher = await login(client, "citydispatcher")
    assert (await dispatcher.post(url, json={})).status == 403
    # The administrator's page lists the quarters with their buttons; others are refused.
    page = await (await admin.get("/staff/bulletins")).text()
    assert 'data-quarter="2026-Q2"' in page and "bulletin_staff.js" in page
    assert 'data-publish="2026-Q1"' in page  # ended, never published
    assert (await dispatcher.get("/staff/bulletins")).status == 403
    assert (await client.get("/staff/bulletins", allow_redirects=False)).status == 302


async def test_pages_exports_and_json(client: Client, clock: FakeClock, city: City) -> None:
    w = await world(client, clock, city)
    await actions.publish_bulletin(ctx_of(client), w.admin, "2026-Q2")
    listing = await text(client, "/bulletins")
    assert "/bulletins/2026-Q2" in listing and "/bulletins/2026-Q3" in listing
    page = await text(client, "/bulletins/2026-Q2")
    for expected in (
        "幸福里社区协商议事室",
        "智谷社区协商议事室",
        "清河区",
        "高新园区",
        "城南街道",
    ):
        assert expected in page
    assert "20.0%" in page and "66.7%" in page  # room A's resolution, its satisfaction
    assert "满意1 基本满意1 不满意1 共3" in page  # the counts beside the rate
    assert "bulletin.js" in page and "第1版" in page
    assert "临时数据" not in page
    printable = await text(client, "/bulletins/2026-Q2/print")
    assert "bulletin_print.css" in printable and "幸福里社区协商议事室" in printable
    provisional = await text(client, "/bulletins/2026-Q3")
    assert "临时数据" in provisional

    response = await client.get("/bulletins/2026-Q2.csv")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    disposition = response.headers["Content-Disposition"]
    assert 'filename="bulletin-2026-Q2-v1.csv"' in disposition
    assert "filename*=UTF-8''" + quote("季通报-2026-Q2-v1.csv") in disposition
    raw = await response.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["层级", "排名", "名称"]
    assert len(rows) == 1 + 2 + 2 + 2  # header, counties, towns, rooms
    head = rows[0]
    room_a = next(r for r in rows if r[2] == "幸福里社区协商议事室")
    assert room_a[0] == "议事室" and room_a[1] == "1"
    assert room_a[head.index("受理议题")] == "5"
    assert room_a[head.index("办结率")] == "0.2"
    assert room_a[head.index("满意")] == "1" and room_a[head.index("评价总数")] == "3"
    assert room_a[head.index("名次变化")] == "1"

    response = await client.get("/bulletins/2026-Q2.xlsx")
    assert response.status == 200
    assert "bulletin-2026-Q2-v1.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(await response.read()), read_only=True)
    assert book.sheetnames == ["县区（园区）", "镇街", "议事室"]
    rooms = list(book["议事室"].iter_rows(values_only=True))
    assert rooms[0][0] == "排名" and len(rooms) == 3
    assert rooms[1][1] == "幸福里社区协商议事室" and rooms[1][0] == 1 and rooms[1][4] == 5
    rate = rooms[0].index("办结率") + 1
    assert book["议事室"].cell(row=2, column=rate).value == 0.2
    assert book["议事室"].cell(row=2, column=rate).number_format == "0.0%"
    counties = list(book["县区（园区）"].iter_rows(values_only=True))
    assert [r[1] for r in counties[1:]] == ["清河区", "高新园区"]
    book.close()

    data = json.loads(await text(client, "/api/bulletins/2026-Q2"))
    assert data["version"] == 1 and data["provisional"] is False and data["latest"] is True
    assert data["data"]["levels"]["room"][0]["received"] == 5
    listed = json.loads(await text(client, "/api/bulletins"))
    assert [(b["quarter"], b["provisional"]) for b in listed["bulletins"]] == [
        ("2026-Q3", True),
        ("2026-Q2", False),
    ]
    live = json.loads(await text(client, "/api/bulletins/2026-Q3"))
    assert live["provisional"] is True and live["version"] is None
    provisional_csv = await client.get("/bulletins/2026-Q3.csv")
    assert "provisional" in provisional_csv.headers["Content-Disposition"]
    assert provisional_csv.headers["Cache-Control"] == "no-store"
    # Last: ?lang= sets the language cookie for the rest of the session.
    en = await text(client, "/bulletins/2026-Q2?lang=en")
    assert "Resolution rate" in en
    en_csv = await (await client.get("/bulletins/2026-Q2.csv")).read()
    assert en_csv.decode("utf-8-sig").startswith("Level,Rank,Name")


async def test_bad_quarters_and_versions(client: Client, clock: FakeClock, city: City) -> None:
    for path in (
        "/bulletins/2026-Q9",
        "/bulletins/2026Q1.csv",
        "/bulletins/abc.xlsx",
        "/bulletins/2026-Q0/print",
        "/api/bulletins/20-Q1",
    ):
        assert (await client.get(path)).status == 400, path
    error = await (await client.get("/api/bulletins/2026-Q9")).json()
    assert error["error"]["code"] == "validation_failed"
    assert (await client.get("/api/bulletins/2025-Q4")).status == 404  # ended, unpublished
    assert (await client.get("/api/bulletins/2026-Q2")).status == 404  # not started
    assert (await client.get("/api/bulletins/2026-Q1?version=0")).status == 400
    assert (await client.get("/api/bulletins/2026-Q1?version=2")).status == 404


async def test_no_personal_data_in_any_public_output(
    client: Client, clock: FakeClock, city: City
) -> None:
    w = await world(client, clock, city)
    ctx = ctx_of(client)
    await actions.publish_bulletin(ctx, w.admin, "2026-Q2")
    await actions.publish_bulletin(ctx, w.admin, "2026-Q2", new_version=True, reason="更正数据")
    outputs: list[str] = []
    for path in (
        "/bulletins",
        "/api/bulletins",
        "/bulletins/2026-Q2",
        "/bulletins/2026-Q2?version=1",
        "/bulletins/2026-Q2/print",
        "/api/bulletins/2026-Q2",
        "/api/bulletins/2026-Q2?version=1",
        "/bulletins/2026-Q3",
        "/api/bulletins/2026-Q3",
        "/bulletins/2026-Q2.csv",
        "/bulletins/2026-Q3.csv",
    ):
        outputs.append(await text(client, path))
    for path in ("/bulletins/2026-Q2.xlsx", "/bulletins/2026-Q3.xlsx"):
        book = load_workbook(io.BytesIO(await (await client.get(path)).read()))
        cells = [
            str(v)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for v in row
            if v is not None
        ]
        outputs.append(
            "\n".join([*cells, str(book.properties.creator), str(book.properties.title)])
        )
    forbidden = [
        RESIDENT_NAME,
        RESIDENT_PHONE,
        RESIDENT_PHONE[:3] + "****" + RESIDENT_PHONE[-4:],
        w.tracking_token,
        token_digest(w.tracking_token),
        "dev-proposer",
        "dev-x",
        "citydispatcher",
        "bulletinadmin",
        "dispatcher 安和市",
        "admin 安和市",
        "王室长",  # the room chief's name, on the room's own page only
    ]
    assert all(outputs)
    for output in outputs:
        for secret in forbidden:
            assert secret not in output, secret
