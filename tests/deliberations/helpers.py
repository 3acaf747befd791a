"""Sessions and key topics made through the real actions, for the scheduling, sign-up and
invitation tests."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal, Role
from server.core.context import Context
from server.deliberations.actions import schedule
from server.deliberations.actions.schedule import DeliberationView
from server.rooms.actions import RoomView
from server.topics import actions as topics
from server.topics.model import TopicStatus
from tests.factories import City, make_staff, submission

_BATCHES = itertools.count(1)


async def county_dispatcher(ctx: Context, city: City) -> Principal:
    return await make_staff(ctx, Role.DISPATCHER, city.county, username="dispatcher")


async def key_topics(
    ctx: Context,
    city: City,
    dispatcher: Principal,
    n: int = 2,
    *,
    room: RoomView | None = None,
    escalate: bool = True,
) -> list[int]:
    """``n`` topics accepted, routed to the town and (by default) escalated to a lead."""
    batch = next(_BATCHES)
    elsewhere = room is not None and room.id == city.other_room.id
    county, town_region = (
        (city.other_county, city.other_county) if elsewhere else (city.county, city.town)
    )
    relay = await accounts.create_unit(
        ctx, None, name=f"中转中心{batch}", kind=UnitKind.RELAY, region_id=county.id
    )
    town = await accounts.create_unit(
        ctx, None, name=f"街道办{batch}", kind=UnitKind.TOWN, region_id=town_region.id
    )
    ids = []
    for i in range(n):
        # Entered by staff (代录): no rate limit, however many a test needs.
        done = await topics.submit_topic(
            ctx,
            submission(title=f"加装电梯第{batch}-{i + 1}件事"),
            [],
            room_id=(room or city.room).id,
            actor=dispatcher,
        )
        await to_town(ctx, dispatcher, done.topic_id, relay.id, town.id, escalate=escalate)
        ids.append(done.topic_id)
    return ids


async def to_town(
    ctx: Context,
    dispatcher: Principal,
    topic_id: int,
    relay_id: int,
    town_id: int,
    *,
    escalate: bool = True,
) -> None:
    """A new topic accepted, routed through the relay to the town and (by default)
    escalated to a lead (提级督办)."""
    await topics.move_topic(ctx, dispatcher, topic_id, TopicStatus.ACCEPTED, version=1)
    await topics.route_topic(ctx, dispatcher, topic_id, version=2, unit_id=relay_id)
    await topics.route_topic(ctx, dispatcher, topic_id, version=3, unit_id=town_id)
    if escalate:
        await topics.move_topic(
            ctx, dispatcher, topic_id, TopicStatus.ESCALATED, version=4, lead="县住建局 王局长"
        )


def fields(ctx: Context, **overrides: Any) -> dict[str, Any]:
    now = ctx.clock.now()
    values: dict[str, Any] = {
        "title": "加装电梯协商议事会",
        "description": "议一议加装电梯的费用怎么分摊",
        "place": "党群服务中心二楼",
        "starts_at": now + timedelta(days=3),
        "ends_at": now + timedelta(days=3, hours=2),
        "capacity": 30,
        "moderation": "post",
        "host_name": "王室长",
        "moderators": "李干事",
    }
    values.update(overrides)
    return values


async def draft(
    ctx: Context, host: Principal, city: City, agenda: list[int], **overrides: Any
) -> DeliberationView:
    return await schedule.create_deliberation(
        ctx, host, room_id=city.room.id, agenda=agenda, **fields(ctx, **overrides)
    )


async def announced(
    ctx: Context, host: Principal, city: City, agenda: list[int], **overrides: Any
) -> DeliberationView:
    created = await draft(ctx, host, city, agenda, **overrides)
    return await schedule.announce(ctx, host, created.id, version=created.version)


async def topic_status(ctx: Context, actor: Principal, topic_id: int) -> TopicStatus:
    return (await topics.topic_detail(ctx, actor, topic_id)).topic.status
