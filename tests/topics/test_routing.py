"""Routing (派单): units, the routing table, dispatch and the handler's queue."""

from __future__ import annotations

import pytest

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Role
from server.core.context import Context
from server.core.errors import Forbidden, ValidationFailed
from server.topics import actions
from server.topics.model import TopicStatus
from tests.factories import City, make_city, make_staff, submit


async def accepted_topic(ctx: Context, city: City, **overrides: object) -> int:
    done = await submit(ctx, city.room, **overrides)
    admin = await make_staff(ctx, Role.ADMIN, city.city, username=f"admin{done.topic_id}")
    await actions.move_topic(ctx, admin, done.topic_id, TopicStatus.ACCEPTED, version=1)
    return done.topic_id


async def test_routing_table_suggests_and_dispatcher_can_override(ctx: Context) -> None:
    city = await make_city(ctx)
    relay = await accounts.create_unit(
        ctx, None, name="清河区中转", kind=UnitKind.RELAY, region_id=city.county.id
    )
    town = await accounts.create_unit(
        ctx, None, name="城南街道办", kind=UnitKind.TOWN, region_id=city.town.id
    )
    await actions.set_rule(
        ctx, None, region_id=city.county.id, category="", subject="", unit_id=relay.id
    )
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    topic_id = await accepted_topic(ctx, city)
    assert (await actions.suggest_unit(ctx, dispatcher, topic_id)) == relay
    dispatched = await actions.route_topic(ctx, dispatcher, topic_id, version=2)
    assert dispatched.status is TopicStatus.DISPATCHED
    assigned = await actions.route_topic(
        ctx, dispatcher, topic_id, version=3, unit_id=town.id, note="交城南街道办理"
    )
    assert assigned.status is TopicStatus.ASSIGNED
    detail = await actions.topic_detail(ctx, dispatcher, topic_id)
    assert [e.note for e in detail.events][-2:] == ["→ 清河区中转", "交城南街道办理"]


async def test_routing_refusals_change_nothing(ctx: Context) -> None:
    city = await make_city(ctx)
    park_relay = await accounts.create_unit(
        ctx, None, name="园区中转", kind=UnitKind.RELAY, region_id=city.other_county.id
    )
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    topic_id = await accepted_topic(ctx, city)
    with pytest.raises(ValidationFailed, match="No routing rule"):
        await actions.route_topic(ctx, dispatcher, topic_id, version=2)
    with pytest.raises(Forbidden):  # a unit outside the territory
        await actions.route_topic(ctx, dispatcher, topic_id, version=2, unit_id=park_relay.id)
    with pytest.raises(ValidationFailed):
        await actions.route_topic(ctx, dispatcher, topic_id, version=2, unit_id=9999)
    with pytest.raises(ValidationFailed, match="does not serve"):
        await actions.set_rule(
            ctx, None, region_id=city.county.id, category="", subject="", unit_id=park_relay.id
        )
    with pytest.raises(ValidationFailed):
        await actions.set_rule(
            ctx, None, region_id=city.county.id, category="crime", subject="", unit_id=park_relay.id
        )
    with pytest.raises(Forbidden):
        await actions.set_rule(
            ctx,
            dispatcher,
            region_id=city.county.id,
            category="",
            subject="",
            unit_id=park_relay.id,
        )
    detail = await actions.topic_detail(ctx, dispatcher, topic_id)
    assert detail.topic.status is TopicStatus.ACCEPTED and detail.topic.version == 2


async def test_bulk_dispatch_reports_each_topic(ctx: Context) -> None:
    city = await make_city(ctx)
    relay = await accounts.create_unit(
        ctx, None, name="清河区中转", kind=UnitKind.RELAY, region_id=city.county.id
    )
    await actions.set_rule(
        ctx, None, region_id=city.county.id, category="", subject="", unit_id=relay.id
    )
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    ready = [await accepted_topic(ctx, city, title=f"议题标题{i}") for i in range(3)]
    fresh = await submit(ctx, city.room)  # still submitted: cannot be dispatched
    outcomes = await actions.route_topics(
        ctx, dispatcher, [(t, 2) for t in ready] + [(fresh.topic_id, 1), (ready[0], 2)]
    )
    assert [o.ok for o in outcomes] == [True, True, True, False, False]
    assert [o.error for o in outcomes][3:] == ["invalid_transition", "stale_update"]
    with pytest.raises(ValidationFailed):
        await actions.route_topics(ctx, dispatcher, [])


async def test_handlers_work_only_their_units_topics(ctx: Context) -> None:
    city = await make_city(ctx)
    town = await accounts.create_unit(
        ctx, None, name="城南街道办", kind=UnitKind.TOWN, region_id=city.town.id
    )
    other = await accounts.create_unit(
        ctx, None, name="另一个办", kind=UnitKind.TOWN, region_id=city.town.id
    )
    relay = await accounts.create_unit(
        ctx, None, name="清河区中转", kind=UnitKind.RELAY, region_id=city.county.id
    )
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    mine = await accepted_topic(ctx, city, title="分给我的议题")
    theirs = await accepted_topic(ctx, city, title="分给别人议题")
    for topic_id, unit in ((mine, town), (theirs, other)):
        await actions.route_topic(ctx, dispatcher, topic_id, version=2, unit_id=relay.id)
        await actions.route_topic(ctx, dispatcher, topic_id, version=3, unit_id=unit.id)
    handler = await make_staff(ctx, Role.HANDLER, city.town, unit_id=town.id)
    queue = await actions.list_topics(ctx, handler)
    assert [t.id for t in queue.topics] == [mine]
    detail = await actions.topic_detail(ctx, handler, mine)
    assert detail.moves == [TopicStatus.ESCALATED, TopicStatus.HANDLING]
    with pytest.raises(Forbidden):
        await actions.topic_detail(ctx, handler, theirs)
    with pytest.raises(Forbidden):
        await actions.move_topic(ctx, handler, theirs, TopicStatus.HANDLING, version=4)
    with pytest.raises(Forbidden):  # a dispatcher's move, not a handler's
        await actions.move_topic(ctx, handler, mine, TopicStatus.REJECTED, version=4, note="不办")
    handling = await actions.move_topic(ctx, handler, mine, TopicStatus.HANDLING, version=4)
    resolved = await actions.move_topic(
        ctx, handler, mine, TopicStatus.RESOLVED, version=handling.version, note="已修复路灯"
    )
    assert resolved.status is TopicStatus.RESOLVED
