"""Open311 GeoReport v2 read endpoints: services, requests with filters, one request,
Open311-shaped errors, merged and rejected topics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient

from server.core.clock import FakeClock
from server.core.web import CTX
from server.topics import actions as topics
from server.topics.model import TopicStatus
from tests.factories import submission
from tests.statistics.helpers import SmallCity, small_city

FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


async def _city(client: TestClient[Any, Any]) -> SmallCity:
    return await small_city(client.app[CTX])


async def _get(client: TestClient[Any, Any], url: str, status: int = 200) -> Any:
    response = await client.get(url)
    assert response.status == status, (url, await response.text())
    assert response.headers["Content-Type"].startswith("application/json")
    return await response.json()


def _error(body: Any, code: int) -> str:
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}
    assert body[0]["code"] == code
    description: str = body[0]["description"]
    return description


async def test_services_list_categories_and_subjects(client: TestClient[Any, Any]) -> None:
    services = await _get(client, "/open311/v2/services.json")
    assert len(services) == 3 * 10 + 1
    housing = next(s for s in services if s["service_code"] == "petition.housing")
    assert housing == {
        "service_code": "petition.housing",
        "service_name": "信访诉求 · 住房",
        "description": "信访诉求：住房方面的议题",
        "metadata": False,
        "type": "realtime",
        "keywords": "petition,housing,信访诉求,住房",
        "group": "信访诉求",
    }
    assert await _get(client, "/api/open311/v2/services.json") == services
    english = await _get(client, "/open311/v2/services.json?lang=en")
    housing_en = next(s for s in english if s["service_code"] == "petition.housing")
    assert (housing_en["group"], housing_en["service_name"]) == ("Petition", "Petition · Housing")


async def test_one_request_has_every_field(client: TestClient[Any, Any]) -> None:
    small = await _city(client)
    number = (
        await topics.topic_detail(client.app[CTX], small.dispatcher, small.resolved.topic_id)
    ).topic.number
    [item] = await _get(client, f"/open311/v2/requests/{number}.json")
    assert set(item) == FIELDS
    assert item["service_request_id"] == number
    assert item["status"] == "closed"
    assert item["service_code"] == "petition.housing"
    assert item["service_name"] == "信访诉求 · 住房"
    assert item["status_notes"] == "已协调物业修好路灯"  # the handler's outcome decision
    assert item["agency_responsible"]  # the unit's name
    assert item["address"] == "安和市清河区城南街道幸福里社区 幸福里社区协商议事室"
    assert item["requested_datetime"].endswith("+08:00")
    assert item["updated_datetime"] >= item["requested_datetime"]
    assert item["expected_datetime"] is not None
    assert (item["zipcode"], item["lat"], item["long"], item["media_url"]) == (None,) * 4

    [waiting] = await _get(client, f"/open311/v2/requests/{small.waiting_number}.json")
    assert waiting["status"] == "open" and waiting["agency_responsible"] is None
    assert waiting["expected_datetime"] is not None  # the acceptance deadline
    assert waiting["address"].startswith("安和市高新园区科创街道智谷社区")


async def test_requests_filter_by_status_service_ids_and_dates(
    client: TestClient[Any, Any], clock: FakeClock
) -> None:
    small = await _city(client)
    every = await _get(client, "/open311/v2/requests.json")
    assert len(every) == 4
    assert every[0]["service_request_id"] == small.waiting_number  # newest first
    open_ = await _get(client, "/open311/v2/requests.json?status=open")
    closed = await _get(client, "/open311/v2/requests.json?status=closed")
    assert len(open_) == 3 and [c["status"] for c in closed] == ["closed"]
    petitions = [r for r in every if r["service_code"].startswith("petition.")]
    assert len(await _get(client, "/open311/v2/requests.json?service_code=petition")) == len(
        petitions
    )
    petition = await _get(client, "/open311/v2/requests.json?service_code=petition.housing")
    assert [p["service_code"] for p in petition] == ["petition.housing"]
    ids = ",".join(r["service_request_id"] for r in every[:2])
    assert [
        r["service_request_id"]
        for r in await _get(
            client, f"/open311/v2/requests.json?service_request_id={ids}&status=closed"
        )
    ] == [r["service_request_id"] for r in every[:2]]  # ids override the other filters

    page = await _get(client, "/open311/v2/requests.json?page_size=3&page=2")
    assert [p["service_request_id"] for p in page] == [every[3]["service_request_id"]]

    # Dates: W3C datetimes, with "+" as sent in a query or decoded to a space.
    now = clock.now()
    later = quote((now + timedelta(days=1)).isoformat())
    assert await _get(client, f"/open311/v2/requests.json?start_date={later}") == []
    earlier = (now - timedelta(days=30)).astimezone().isoformat().replace("+", " ")
    assert len(await _get(client, f"/open311/v2/requests.json?start_date={earlier}")) == 4
    assert len(await _get(client, "/open311/v2/requests.json?end_date=2026-01-01")) == 0
    # By default only the last 90 days.
    clock.advance(timedelta(days=120))
    assert await _get(client, "/open311/v2/requests.json") == []


async def test_bad_parameters_answer_open311_errors(client: TestClient[Any, Any]) -> None:
    await _city(client)
    cases = {
        "start_date=yesterday": "start_date",
        "end_date=2026-13-01": "end_date",
        "status=pending": "status",
        "service_code=nonsense": "service_code",
        "service_code=petition.weather": "service_code",
        "start_date=2026-03-02&end_date=2026-03-01": "start_date",
        "page=0": "page",
        "page_size=1001": "page_size",
    }
    for query, field in cases.items():
        body = await _get(client, f"/open311/v2/requests.json?{query}", 400)
        assert field in _error(body, 400), query
    assert "No service request" in _error(
        await _get(client, "/open311/v2/requests/XX2026-999999.json", 404), 404
    )
    for url in (
        "/open311/v2/services.xml",
        "/open311/v2/requests.xml",
        "/open311/v2/requests/A1.xml",
    ):
        assert "JSON only" in _error(await _get(client, url, 400), 400), url
    assert "No Open311 resource" in _error(await _get(client, "/open311/v2/discovery", 404), 404)
    assert "JSON only" in _error(await _get(client, "/api/open311/v2/services.xml", 400), 400)


async def test_merged_and_rejected_topics_are_closed_with_a_note(
    client: TestClient[Any, Any],
) -> None:
    small = await _city(client)
    ctx = client.app[CTX]
    survivor = await topics.submit_topic(
        ctx,
        submission(title="幸福里路灯不亮"),
        [],
        room_id=small.city.room.id,
        actor=small.dispatcher,
    )
    dup = await topics.submit_topic(
        ctx,
        submission(title="智谷社区路灯又不亮"),
        [],
        room_id=small.city.room.id,
        actor=small.dispatcher,
    )
    spam = await topics.submit_topic(
        ctx,
        submission(title="无关内容测试一下"),
        [],
        room_id=small.city.room.id,
        actor=small.dispatcher,
    )
    await topics.merge_topic(ctx, small.dispatcher, dup.topic_id, survivor.topic_id, version=1)
    await topics.move_topic(
        ctx, small.dispatcher, spam.topic_id, TopicStatus.REJECTED, version=1, note="与社区事务无关"
    )
    [merged] = await _get(client, f"/open311/v2/requests/{dup.number}.json")
    assert merged["status"] == "closed"
    assert merged["status_notes"] == f"已合并至 {survivor.number} 一并办理"
    [rejected] = await _get(client, f"/open311/v2/requests/{spam.number}.json")
    assert (rejected["status"], rejected["status_notes"]) == ("closed", "与社区事务无关")
