"""The public pages and API of monthly disclosures: no login, the expected topics, the
printable A4 page with its QR, and no personal data anywhere."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from server.core.auth import token_digest
from server.disclosures import actions as disclosures
from server.rooms.qr import qr_svg
from tests.disclosures.helpers import (
    DEVICE,
    NAME,
    PHONE,
    March,
    march,
    staff_display_names,
    to_april,
)
from tests.http_helpers import ctx_of

Client = TestClient[Any, Any]


async def _published(client: Client) -> tuple[March, dict[str, int]]:
    ctx = ctx_of(client)
    m = await march(ctx)
    to_april(ctx)
    await disclosures.publish_disclosures(ctx, "2026-03")
    archive = await disclosures.list_disclosures(ctx, month="2026-03")
    return m, {i.region_name.split(" · ")[-1]: i.id for i in archive.items}


async def _text(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status, (path, await response.text())
    return await response.text()


async def test_pages_and_api_show_the_month(client: Client) -> None:
    m, ids = await _published(client)
    community = ids["幸福里社区"]

    archive = await _text(client, "/disclosures")
    for name in ("城南街道", "幸福里社区", "科创街道", "智谷社区", "2026-03"):
        assert name in archive
    assert f'href="/disclosures/{community}"' in archive
    filtered = await _text(client, f"/disclosures?region_id={m.city.other_county.id}")
    assert "智谷社区" in filtered and "幸福里社区" not in filtered
    assert "智谷社区" not in await _text(client, f"/disclosures?region_id={m.city.town.id}")
    await _text(client, "/disclosures?month=2026-13", 400)
    await _text(client, "/disclosures?region_id=9999", 404)

    page = await _text(client, f"/disclosures/{community}")
    view = await disclosures.get_disclosure(ctx_of(client), community)
    for topic in view.content["topics"]:
        assert topic["number"] in page
    assert "已协调物业修好路灯" in page and "施工队已进场" in page
    assert "按楼层分摊加装电梯费用" in page
    for oid in [*m.session_outcomes, m.resolved_outcome]:
        assert f'href="/outcomes/{oid}"' in page  # where people comment and rate
    assert f'href="/d/{m.session.deliberation_id}"' in page
    assert f'href="/disclosures/{community}/print"' in page
    assert "只受理未派单" not in page
    assert "Topics handled in 2026-03" in await _text(client, f"/disclosures/{community}?lang=en")
    await _text(client, "/disclosures/9999", 404)

    printable = await _text(client, f"/disclosures/{community}/print")
    url = f"http://msy.example.cn/disclosures/{community}"
    assert qr_svg(url) in printable and url in printable  # the QR back to the online page
    assert "/static/css/disclosure_print.css" in printable
    for topic in view.content["topics"]:
        assert topic["number"] in printable and topic["title"] in printable
    assert 'href="/outcomes/' not in printable  # paper has no links; the QR does that
    css = await _text(client, "/static/css/disclosure_print.css")
    assert "@page { size: A4" in css and "break-inside: avoid" in css

    listing = await (await client.get("/api/disclosures?month=2026-03")).json()
    assert listing["total"] == 4 and listing["months"] == ["2026-03"]
    item = next(i for i in listing["disclosures"] if i["id"] == community)
    assert item["region"] == {
        "id": m.city.community.id,
        "level": "community",
        "name": "清河区 · 城南街道 · 幸福里社区",
    }
    assert item["counts"]["topics"] == 4 and item["url"] == url
    one = await (await client.get(f"/api/disclosures/{community}")).json()
    assert one["latest"] is True and [v["version"] for v in one["versions"]] == [1]
    assert {t["id"] for t in one["content"]["topics"]} == {
        m.resolved,
        m.handled,
        *m.session.topic_ids,
    }
    missing = await client.get("/api/disclosures/9999")
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"
    bad = await client.get("/api/disclosures?month=2026-3")
    assert bad.status == 400 and (await bad.json())["error"]["fields"] == {"month": "YYYY-MM."}
    assert (await client.get("/api/disclosures?limit=0")).status == 400


async def test_no_personal_data_in_any_page_or_api(client: Client) -> None:
    m, ids = await _published(client)
    ctx = ctx_of(client)
    await disclosures.publish_disclosures(ctx, "2026-03", new_version_reason="更正：核对进展")
    outputs = [
        await _text(client, "/disclosures"),
        await _text(client, "/disclosures?lang=en"),
        await _text(client, "/api/disclosures"),
    ]
    for item in (await disclosures.list_disclosures(ctx)).items:
        outputs += [
            await _text(client, f"/disclosures/{item.id}"),
            await _text(client, f"/disclosures/{item.id}/print"),
            await _text(client, f"/api/disclosures/{item.id}"),
        ]
    forbidden = [
        NAME,
        PHONE,
        m.resolved_token,
        token_digest(m.resolved_token),
        DEVICE,
        *m.staff_names,
        *staff_display_names(m),
    ]
    for text in outputs:
        for secret in forbidden:
            assert secret not in text, secret
    community = await _text(client, f"/api/disclosures/{ids['幸福里社区']}")
    assert "139****5678" in community and "欧***" in community  # scrubbed, not dropped

    # The first version stays, saying it was corrected and where the correction is.
    first = ids["幸福里社区"]
    newer = (await disclosures.get_disclosure(ctx, first)).versions[1].id
    old_page = await _text(client, f"/disclosures/{first}")
    assert 'id="superseded"' in old_page and f'href="/disclosures/{newer}"' in old_page
    assert "更正：核对进展" not in old_page
    new_page = await _text(client, f"/disclosures/{newer}")
    assert "更正：核对进展" in new_page and 'id="superseded"' not in new_page
