"""Outcomes made through the real actions: an ended session with its log, its minutes
published, a one-person topic resolved by its handler. Other features' tests use these
to get published outcomes and evaluations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal, Role
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.deliberations.actions import room, schedule
from server.deliberations.actions.common import staff_identity
from server.outcomes import actions as outcomes
from server.outcomes.actions import MinutesView, OutcomeInput
from server.rooms.actions import RoomView
from server.topics import actions as topics
from server.topics.actions import handling
from server.topics.model import TopicStatus
from tests.deliberations.helpers import announced, key_topics
from tests.factories import City, make_staff, submission


@dataclass(frozen=True)
class Session:
    deliberation_id: int
    topic_ids: list[int]
    host: Principal
    unit_id: int  # the unit the outcomes name as responsible


async def ended_session(
    ctx: Context,
    city: City,
    host: Principal,
    *,
    n: int = 2,
    minutes_per_topic: int = 10,
    room_view: RoomView | None = None,
) -> Session:
    """``n`` key topics deliberated in a session that went live, moved through its agenda
    (``minutes_per_topic`` each on the fake clock), ran one poll and ended."""
    ids = await key_topics(ctx, city, host, n, room=room_view)
    created = await announced(ctx, host, city, ids)
    ctx.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    await schedule.start(ctx, host, created.id)
    who = staff_identity(host, created.id)
    for topic_id in ids:
        await room.goto_topic(ctx, who, topic_id)
        ctx.clock.advance(timedelta(minutes=minutes_per_topic))  # type: ignore[attr-defined]
    poll = await room.create_poll(
        ctx, who, question="同意按楼层分摊吗？", options=["同意", "不同意"]
    )
    await room.open_poll(ctx, who, poll.id)
    await schedule.end(ctx, host, created.id)
    unit = await accounts.create_unit(
        ctx, None, name=f"县住建局{created.id}", kind=UnitKind.DEPARTMENT, region_id=city.county.id
    )
    return Session(created.id, ids, host, unit.id)


def due(ctx: Context, days: int = 30) -> date:
    return (ctx.clock.now().astimezone(LOCAL_TZ) + timedelta(days=days)).date()


def inputs(ctx: Context, s: Session, **overrides: object) -> list[OutcomeInput]:
    values: dict[str, object] = {
        "decision": "按楼层分摊加装电梯费用，住建局牵头施工",
        "unit_id": s.unit_id,
        "lead": "县住建局 王局长",
        "due_on": due(ctx),
    }
    values.update(overrides)
    return [OutcomeInput(topic_id=t, **values) for t in s.topic_ids]  # type: ignore[arg-type]


async def published_session(ctx: Context, city: City, host: Principal, **kw: object) -> Session:
    """An ended session whose minutes and outcomes are published."""
    s = await ended_session(ctx, city, host, **kw)  # type: ignore[arg-type]
    await publish(ctx, s)
    return s


async def publish(ctx: Context, s: Session) -> MinutesView:
    m = await outcomes.get_minutes(ctx, s.host, s.deliberation_id)
    m = await outcomes.save_minutes(
        ctx, s.host, s.deliberation_id, version=m.version, body=m.body, outcomes=inputs(ctx, s)
    )
    return await outcomes.publish_minutes(ctx, s.host, s.deliberation_id, version=m.version)


async def outcome_ids(ctx: Context, s: Session) -> list[int]:
    m = await outcomes.get_minutes(ctx, s.host, s.deliberation_id)
    return [t["outcome"]["id"] for t in m.topics]


@dataclass(frozen=True)
class Resolved:
    topic_id: int
    outcome_id: int
    tracking_token: str
    handler: Principal


async def resolved_by_handler(
    ctx: Context, city: City, dispatcher: Principal, **overrides: object
) -> Resolved:
    """A resident's one-person topic (submitted by QR with a tracking token) assigned to
    a town unit and resolved by its handler: its outcome is the handler's."""
    done = await topics.submit_topic(
        ctx, submission(**overrides), [], room_code=city.room.code, device_id="dev-proposer"
    )
    unit = await accounts.create_unit(
        ctx, None, name=f"城南街道办事处{done.topic_id}", kind=UnitKind.TOWN, region_id=city.town.id
    )
    relay = await accounts.create_unit(
        ctx, None, name=f"县区中转{done.topic_id}", kind=UnitKind.RELAY, region_id=city.county.id
    )
    handler = await make_staff(
        ctx, Role.HANDLER, city.town, username=f"handler{done.topic_id}", unit_id=unit.id
    )
    await topics.move_topic(ctx, dispatcher, done.topic_id, TopicStatus.ACCEPTED, version=1)
    await topics.route_topic(ctx, dispatcher, done.topic_id, version=2, unit_id=relay.id)
    await topics.route_topic(ctx, dispatcher, done.topic_id, version=3, unit_id=unit.id)
    await topics.move_topic(ctx, handler, done.topic_id, TopicStatus.HANDLING, version=4)
    await handling.resolve_topic(
        ctx, handler, done.topic_id, version=5, result="已协调物业修好路灯"
    )
    oid = await outcomes.outcome_for_topic(ctx, done.topic_id)
    assert oid is not None
    return Resolved(done.topic_id, oid, done.tracking_token, handler)
