"""The dashboard over HTTP: the public page, its JSON (with refusals), the ECharts file."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from server.core.web import CTX
from tests.statistics.helpers import small_city


async def test_dashboard_page_is_public_and_loads_echarts(client: TestClient[Any, Any]) -> None:
    response = await client.get("/dashboard")
    assert response.status == 200
    html = await response.text()
    assert '<script src="/vendor/echarts.min.js"></script>' in html
    assert 'id="fig-petition_risks_defused"' in html and "化解信访隐患" in html
    region_page = await client.get("/dashboard?region=7")
    assert 'data-region="7"' in await region_page.text()
    vendor = await client.get("/vendor/echarts.min.js")
    assert vendor.status == 200
    assert len(await vendor.read()) > 100_000


async def test_dashboard_json_for_the_city_and_a_region(client: TestClient[Any, Any]) -> None:
    small = await small_city(client.app[CTX])
    whole = await client.get("/api/dashboard")
    assert whole.status == 200
    assert whole.headers["Cache-Control"] == "public, max-age=5"
    assert (await whole.json())["figures"]["topics_collected"] == 4
    park = await (await client.get(f"/api/dashboard?region={small.city.other_county.id}")).json()
    assert park["figures"]["topics_collected"] == 1
    assert park["region"]["name"] == "高新园区"


async def test_dashboard_json_refuses_bad_and_unknown_regions(
    client: TestClient[Any, Any],
) -> None:
    await small_city(client.app[CTX])
    for query, status, code in (
        ("region=x", 400, "bad_request"),
        ("region=0", 400, "bad_request"),
        ("region=999999", 404, "not_found"),
    ):
        response = await client.get(f"/api/dashboard?{query}")
        assert response.status == status, query
        assert (await response.json())["error"]["code"] == code
    assert (await client.get("/dashboard?region=x")).status == 400
