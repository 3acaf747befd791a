"""Open data over HTTP: the figures and the published outcomes as JSON and CSV, and no
personal data in any public output of the statistics feature."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp.test_utils import TestClient

from server.core.web import CTX
from server.topics import actions as topics
from tests.statistics.helpers import NAME, PHONE, SmallCity, small_city

PUBLIC_GETS = (
    "/dashboard",
    "/api/dashboard",
    "/api/open/figures.json",
    "/api/open/figures.csv",
    "/api/open/outcomes.json",
    "/api/open/outcomes.csv",
    "/open311/v2/services.json",
    "/open311/v2/requests.json",
)


async def _city(client: TestClient[Any, Any]) -> SmallCity:
    return await small_city(client.app[CTX])


def _csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "a UTF-8 BOM for spreadsheet programs"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


async def test_figures_json_overall_and_per_county_and_town(client: TestClient[Any, Any]) -> None:
    small = await _city(client)
    response = await client.get("/api/open/figures.json")
    assert response.status == 200
    data = await response.json()
    overall = data["overall"]
    assert (overall["topics_collected"], overall["sessions_held"]) == (4, 1)
    assert (overall["petition_risks_defused"], overall["livelihood_solved"]) == (1, 1)
    assert overall["satisfaction"] == {
        "satisfied": 1,
        "basically_satisfied": 1,
        "unsatisfied": 1,
        "total": 3,
        "rate": 0.6667,
    }
    counties = {c["name"]: c for c in data["counties"]}
    assert set(counties) == {"清河区", "高新园区"}
    assert counties["清河区"]["topics_collected"] == 3
    assert counties["清河区"]["region_id"] == small.city.county.id
    assert counties["高新园区"]["level"] == "park"
    assert counties["高新园区"]["satisfaction"]["rate"] is None
    towns = {t["name"]: t for t in data["towns"]}
    assert towns["城南街道"]["parent"] == "清河区"
    assert towns["城南街道"]["livelihood_solved"] == 1
    assert towns["科创街道"]["topics_collected"] == 1


async def test_figures_csv_has_the_same_numbers(client: TestClient[Any, Any]) -> None:
    await _city(client)
    response = await client.get("/api/open/figures.csv")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = _csv(await response.read())
    assert rows[0]["level"] == "overall" and rows[0]["topics_collected"] == "4"
    assert rows[0]["satisfaction_rate"] == "0.6667"
    town = next(r for r in rows if r["name"] == "城南街道")
    assert (town["level"], town["parent"], town["petition_risks_defused"]) == (
        "town",
        "清河区",
        "1",
    )


async def test_outcomes_json_pages_published_outcomes(client: TestClient[Any, Any]) -> None:
    small = await _city(client)
    first = await (await client.get("/api/open/outcomes.json?page_size=2")).json()
    assert (first["total"], first["page"], len(first["items"])) == (3, 1, 2)
    second = await (await client.get("/api/open/outcomes.json?page=2&page_size=2")).json()
    assert len(second["items"]) == 1
    items = first["items"] + second["items"]
    handler = next(i for i in items if i["category"] == "petition")
    assert handler["town"] == "城南街道" and handler["community"] == "幸福里社区"
    assert handler["county"] == "清河区" and handler["city"] == "安和市"
    assert handler["percent"] == 100 and handler["flag"] == "done"
    assert handler["satisfaction"]["total"] == 2
    session = [i for i in items if i is not handler]
    assert {i["lead"] for i in session} == {"县住建局 王局长"}
    assert {i["responsible_unit"] for i in session} == {f"县住建局{small.session.deliberation_id}"}
    assert all(i["decision"] and i["due_on"] and i["topic_number"] for i in items)


async def test_outcomes_json_refuses_bad_paging(client: TestClient[Any, Any]) -> None:
    for query in ("page=0", "page=x", "page_size=501", "page_size=0"):
        response = await client.get(f"/api/open/outcomes.json?{query}")
        assert response.status == 400, query
        assert (await response.json())["error"]["code"] == "bad_request"


async def test_outcomes_csv_streams_every_published_outcome(client: TestClient[Any, Any]) -> None:
    await _city(client)
    response = await client.get("/api/open/outcomes.csv")
    assert response.status == 200
    rows = _csv(await response.read())
    assert len(rows) == 3
    assert {r["flag"] for r in rows} <= {"ok", "near", "overdue", "done"}
    assert sum(int(r["evaluations"]) for r in rows) == 3


async def test_no_personal_data_in_any_public_output(client: TestClient[Any, Any]) -> None:
    small = await _city(client)
    ctx = client.app[CTX]
    topic = await topics.topic_detail(ctx, small.dispatcher, small.resolved.topic_id)
    assert topic.topic.submitter_name == NAME  # the seed is really there
    secrets = {
        NAME,
        PHONE,
        PHONE[:3] + "****" + PHONE[-4:],
        small.resolved.tracking_token,
        "dev-proposer",
        "dev-other",
        small.dispatcher.username,
        small.resolved.handler.username,
        small.resolved.handler.display_name,
        small.dispatcher.display_name,
        "王室长",  # the room chief's name
    }
    numbers = ",".join([small.waiting_number])
    urls = [
        *PUBLIC_GETS,
        f"/api/dashboard?region={small.city.county.id}",
        f"/dashboard?region={small.city.town.id}",
        f"/open311/v2/requests.json?service_request_id={numbers}",
        f"/open311/v2/requests/{small.waiting_number}.json",
    ]
    for url in urls:
        response = await client.get(url)
        assert response.status == 200, url
        body = (await response.read()).decode("utf-8-sig")
        for secret in secrets:
            assert secret not in body, (url, secret)
