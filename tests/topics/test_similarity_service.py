"""The server's similar-topic index: lookups, territory, catching up, clusters."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from server.core.auth import Role
from server.core.clock import FakeClock
from server.core.context import Context
from server.core.errors import Forbidden, ValidationFailed
from server.rooms import actions as rooms
from server.rooms.actions import RoomView
from server.rooms.model import RoomFields
from server.settings import Settings
from server.topics import actions
from server.topics.actions import similarity
from server.topics.model import TopicStatus
from tests.conftest import context_for
from tests.factories import City, make_city, make_staff, submit

BUS = {
    "title": "12路公交车站太远",
    "description": "12路公交车的站点离小区太远，老人每天要走二十分钟才能坐上车，希望增设站点。",
}
BUS_AGAIN = {
    "title": "希望12路公交增设站点",
    "description": "小区老人坐12路公交车要走二十分钟到站点，希望在小区门口增设一个站点。",
}
DOGS = {
    "title": "小区里遛狗不牵绳",
    "description": "每天晚上有人在小区花园遛狗不牵绳，孩子们很害怕，请物业加强管理。",
}


async def more_rooms(ctx: Context, city: City, n: int) -> list[RoomView]:
    return [
        await rooms.create_room(
            ctx,
            None,
            region_id=city.community.id,
            fields=RoomFields(f"第{i}议事室", "室长", f"幸福里{i}号", ""),
        )
        for i in range(n)
    ]


def later(clock: FakeClock) -> None:
    """Past the index's catch-up interval."""
    clock.advance(timedelta(seconds=similarity.SYNC_SECONDS + 0.1))


async def test_similar_topics_across_rooms_and_only_open_ones(
    ctx: Context, clock: FakeClock
) -> None:
    city = await make_city(ctx)
    (second,) = await more_rooms(ctx, city, 1)
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    first = await submit(ctx, city.room, **BUS)
    other = await submit(ctx, second, **BUS_AGAIN)
    dogs = await submit(ctx, second, **DOGS)
    found = await actions.similar_for_topic(ctx, admin, first.topic_id)
    assert [m.topic.id for m in found] == [other.topic_id]
    assert found[0].score >= ctx.settings.similar_threshold
    assert any("公交" in term or "站点" in term for term in found[0].shared)
    assert dogs.topic_id not in {m.topic.id for m in found}
    # Rejected topics leave the index once it catches up with the change.
    await actions.move_topic(
        ctx, admin, other.topic_id, TopicStatus.REJECTED, version=1, note="重复提交"
    )
    later(clock)
    assert await actions.similar_for_topic(ctx, admin, first.topic_id) == []


async def test_matches_outside_the_actors_territory_are_not_shown(
    ctx: Context, clock: FakeClock
) -> None:
    city = await make_city(ctx)
    here = await submit(ctx, city.room, **BUS)
    there = await submit(ctx, city.other_room, **BUS_AGAIN)
    county = await make_staff(ctx, Role.DISPATCHER, city.county)
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    assert await actions.similar_for_topic(ctx, county, here.topic_id) == []
    assert [m.topic.id for m in await actions.similar_for_topic(ctx, admin, here.topic_id)] == [
        there.topic_id
    ]
    with pytest.raises(Forbidden):
        await actions.similar_for_topic(ctx, county, there.topic_id)


async def test_another_process_catches_up_with_changes(
    ctx: Context, settings: Settings, clock: FakeClock
) -> None:
    city = await make_city(ctx)
    (second,) = await more_rooms(ctx, city, 1)
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    first = await submit(ctx, city.room, **BUS)
    async with context_for(settings, clock) as other:
        assert await actions.similar_for_topic(other, admin, first.topic_id) == []
        # Raised through this process, looked up in the other one.
        twin = await submit(ctx, second, **BUS_AGAIN)
        later(clock)
        found = await actions.similar_for_topic(other, admin, first.topic_id)
        assert [m.topic.id for m in found] == [twin.topic_id]
        await actions.merge_topic(ctx, admin, twin.topic_id, first.topic_id, version=1)
        later(clock)
        assert await actions.similar_for_topic(other, admin, first.topic_id) == []


async def test_concurrent_lookups_share_one_build(ctx: Context) -> None:
    city = await make_city(ctx)
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    first = await submit(ctx, city.room, **BUS)
    await submit(ctx, city.room, **BUS_AGAIN)
    results = await asyncio.gather(
        *(actions.similar_for_topic(ctx, admin, first.topic_id) for _ in range(5))
    )
    assert all(len(r) == 1 for r in results)
    assert similarity.start_building(ctx).done()


async def test_clusters_of_a_matter_raised_in_several_rooms(ctx: Context, clock: FakeClock) -> None:
    city = await make_city(ctx)
    extra = await more_rooms(ctx, city, 3)
    county = await make_staff(ctx, Role.DISPATCHER, city.county)
    park = await make_staff(ctx, Role.DISPATCHER, city.other_county)
    handler = await make_staff(ctx, Role.HANDLER, city.town)
    variants = [BUS, BUS_AGAIN] * 3
    ids = [
        (await submit(ctx, room, **v)).topic_id for room, v in zip(extra * 2, variants, strict=True)
    ]
    await submit(ctx, extra[0], **DOGS)
    query = similarity.cluster_query(ctx, min_topics=5, min_rooms=3, threshold=0.2)
    (cluster,) = await actions.topic_clusters(ctx, county, query)
    assert sorted(t.id for t in cluster.topics) == sorted(ids)
    assert cluster.room_count == 3 and cluster.top_terms
    strict = similarity.cluster_query(ctx, min_topics=5, min_rooms=4, threshold=0.2)
    assert await actions.topic_clusters(ctx, county, strict) == []
    assert await actions.topic_clusters(ctx, park, query) == []  # not their territory
    with pytest.raises(Forbidden):
        await actions.topic_clusters(ctx, handler, query)
    # Thirty days on, the window no longer holds them.
    clock.advance(timedelta(days=31))
    assert await actions.topic_clusters(ctx, county, query) == []
    wide = similarity.cluster_query(ctx, days=60, min_topics=5, min_rooms=3, threshold=0.2)
    assert len(await actions.topic_clusters(ctx, county, wide)) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"days": 0}, "days"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"min_topics": 1}, "min_topics"),
        ({"min_rooms": 0}, "min_rooms"),
    ],
)
def test_cluster_thresholds_are_checked(
    ctx: Context, overrides: dict[str, float], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        similarity.cluster_query(ctx, **overrides)  # type: ignore[arg-type]
    assert field in refused.value.fields


def test_cluster_thresholds_default_to_the_settings(ctx: Context) -> None:
    q = similarity.cluster_query(ctx)
    s = ctx.settings
    assert (q.days, q.threshold, q.min_topics, q.min_rooms) == (
        s.cluster_days,
        s.cluster_threshold,
        s.cluster_min_topics,
        s.cluster_min_rooms,
    )
