"""A small city with two quarters of work done through the real actions, and the exact
figures the bulletin must show for it.

The fake clock starts on Monday 2026-03-02 09:00 (China time), so 2026-Q1 is the
previous quarter and 2026-Q2 the bulletin's. Room A (幸福里, 清河区 · 城南街道) and room
B (智谷, 高新园区 · 科创街道). Working days are Monday to Friday (no holidays set), and
the accept stage allows one working day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal, Role
from server.core.clock import LOCAL_TZ, FakeClock
from server.core.context import Context
from server.outcomes import actions as outcomes
from server.rooms.actions import RoomView
from server.topics import actions as topics
from server.topics.actions import handling
from server.topics.model import TopicStatus
from tests.factories import City, make_city, make_staff, submission
from tests.outcomes.helpers import outcome_ids, published_session, resolved_by_handler

# Personal data seeded on purpose: no public output may carry any of it.
RESIDENT_NAME = "鲍秀兰"
RESIDENT_PHONE = "13912345678"


def set_local(
    clock: FakeClock, year: int, month: int, day: int, hour: int, minute: int = 0
) -> None:
    """Move the fake clock forward to a local (China) time."""
    target = datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)
    assert target >= clock.now(), "the clock only moves forward"
    clock.advance(target - clock.now())


@dataclass
class World:
    city: City
    dispatcher: Principal
    admin: Principal
    tracking_token: str = ""
    ids: dict[str, int] = field(default_factory=dict)


async def enter(ctx: Context, dispatcher: Principal, room: RoomView, title: str) -> int:
    """A topic entered by staff (代录): not rate-limited; its accept stage starts now."""
    done = await topics.submit_topic(
        ctx, submission(title=title), [], room_id=room.id, actor=dispatcher
    )
    return done.topic_id


async def accept(ctx: Context, dispatcher: Principal, topic_id: int) -> None:
    await topics.move_topic(ctx, dispatcher, topic_id, TopicStatus.ACCEPTED, version=1)


async def reject(ctx: Context, dispatcher: Principal, topic_id: int) -> None:
    await topics.move_topic(
        ctx, dispatcher, topic_id, TopicStatus.REJECTED, version=1, note="不属于议事范围"
    )


async def resolve_in_park(ctx: Context, w: World, topic_id: int) -> None:
    """An accepted topic of room B routed to a park unit and resolved by its handler."""
    city = w.city
    n = topic_id
    relay = await accounts.create_unit(
        ctx, None, name=f"园区中转{n}", kind=UnitKind.RELAY, region_id=city.other_county.id
    )
    unit = await accounts.create_unit(
        ctx, None, name=f"园区办{n}", kind=UnitKind.TOWN, region_id=city.other_county.id
    )
    handler = await make_staff(
        ctx, Role.HANDLER, city.other_county, username=f"parkhandler{n}", unit_id=unit.id
    )
    await topics.route_topic(ctx, w.dispatcher, topic_id, version=2, unit_id=relay.id)
    await topics.route_topic(ctx, w.dispatcher, topic_id, version=3, unit_id=unit.id)
    await topics.move_topic(ctx, handler, topic_id, TopicStatus.HANDLING, version=4)
    await handling.resolve_topic(ctx, handler, topic_id, version=5, result="已协调园区物业修好路灯")


async def two_quarters(ctx: Context, clock: FakeClock, city: City | None = None) -> World:
    """Q1 and Q2 of 2026 as the module docstring tells; the clock ends on 2026-07-01
    10:00, after Q2 (and before anything of Q3 happens)."""
    city = city or await make_city(ctx)
    w = World(
        city,
        await make_staff(ctx, Role.DISPATCHER, city.city, username="citydispatcher"),
        await make_staff(ctx, Role.ADMIN, city.city, username="bulletinadmin"),
    )
    a, b = city.room, city.other_room
    # --- Q1: Monday 2 March -------------------------------------------------------------
    w.ids["p1"] = await enter(ctx, w.dispatcher, a, "Q1 A 接受")
    await accept(ctx, w.dispatcher, w.ids["p1"])
    w.ids["p2"] = await enter(ctx, w.dispatcher, a, "Q1 A 驳回")
    await reject(ctx, w.dispatcher, w.ids["p2"])
    for i in (1, 2, 3):
        w.ids[f"q{i}"] = await enter(ctx, w.dispatcher, b, f"Q1 B 第{i}件")
        await accept(ctx, w.dispatcher, w.ids[f"q{i}"])
    await resolve_in_park(ctx, w, w.ids["q1"])
    # Tuesday 31 March, 23:30 local (15:30 UTC): still Q1. Its accept stage falls due on
    # Wednesday 1 April 23:59:59, so at the end of Q1 it is pending.
    set_local(clock, 2026, 3, 31, 23, 30)
    w.ids["b1"] = await enter(ctx, w.dispatcher, a, "季末最后一件")
    # --- Q2 -----------------------------------------------------------------------------
    # 1 April 00:30 local is still 31 March in UTC: Q2 all the same.
    set_local(clock, 2026, 4, 1, 0, 30)
    w.ids["b2"] = await enter(ctx, w.dispatcher, a, "季初第一件")
    set_local(clock, 2026, 4, 1, 10)
    await accept(ctx, w.dispatcher, w.ids["b1"])  # met (due 1 April 23:59:59)
    await accept(ctx, w.dispatcher, w.ids["b2"])  # met
    w.ids["c1"] = await enter(ctx, w.dispatcher, a, "受理超时")  # due Thursday 2 April
    for i in (1, 2, 3):
        w.ids[f"d{i}"] = await enter(ctx, w.dispatcher, b, f"Q2 B 第{i}件")
    await accept(ctx, w.dispatcher, w.ids["d2"])
    await accept(ctx, w.dispatcher, w.ids["d3"])
    # d1 is never accepted: open and overdue at the end of Q2.
    # A resident's topic (with a name and phone) resolved by its handler the same day,
    # then rated by its proposer and two other devices.
    done = await resolved_by_handler(
        ctx,
        city,
        w.dispatcher,
        title="路灯不亮",
        name=RESIDENT_NAME,
        phone=RESIDENT_PHONE,
        consent=True,
    )
    w.ids["h1"], w.ids["h1_outcome"] = done.topic_id, done.outcome_id
    w.tracking_token = done.tracking_token
    await outcomes.rate_outcome(
        ctx, done.outcome_id, score=5, verdict="satisfied", token=done.tracking_token
    )
    await outcomes.rate_outcome(
        ctx, done.outcome_id, score=4, verdict="basically_satisfied", device_id="dev-x"
    )
    await outcomes.rate_outcome(
        ctx, done.outcome_id, score=2, verdict="unsatisfied", device_id="dev-y"
    )
    # Monday 6 April: c1 accepted late.
    set_local(clock, 2026, 4, 6, 10)
    await accept(ctx, w.dispatcher, w.ids["c1"])
    # Tuesday 7 April: two key topics of room A deliberated in a session that goes live on
    # Friday 10 April; outcomes published, due 30 days later, never progressed.
    set_local(clock, 2026, 4, 7, 10)
    s = await published_session(ctx, city, w.dispatcher)
    w.ids["k1"], w.ids["k2"] = s.topic_ids
    w.ids["session"] = s.deliberation_id
    oids = await outcome_ids(ctx, s)
    w.ids["k1_outcome"], w.ids["k2_outcome"] = oids
    set_local(clock, 2026, 7, 1, 10)
    return w


def expected_q2_room_a() -> dict[str, object]:
    """Room A's Q2 figures, by hand. Received: b2, c1, h1, k1, k2 (b1 is Q1's). None
    rejected or merged; resolved: h1 -> 1/5. Accept stage: b2, h1, k1, k2 met, c1 late ->
    4/5. Evaluations of h1: 1 satisfied, 1 basically, 1 unsatisfied -> 2/3. Sessions: 1
    (live on 10 April). Overdue deadlines falling due in Q2 and missed: c1's accept
    (due 2 April, closed 6 April); k1's and k2's first contact (3 working days from
    7 April: due 10 April, never recorded) -> 3 (k1's and k2's escalated resolution closed,
    met, when their outcomes were published on 10 April: the outcome's due date supervises
    from then). Overdue outcomes: k1's and k2's, due 10 May (30 days after publication on
    10 April), at 0 % -> 2."""
    return {
        "received": 5,
        "resolution": {"resolved": 1, "rejected_or_merged": 0, "base": 5, "rate": 0.2},
        "acceptance": {
            "on_time": 4,
            "late": 1,
            "overdue_open": 0,
            "pending": 0,
            "base": 5,
            "rate": 0.8,
        },
        "satisfaction": {
            "satisfied": 1,
            "basically_satisfied": 1,
            "unsatisfied": 1,
            "total": 3,
            "rate": 0.6667,
        },
        "sessions": 1,
        "overdue": {"deadlines": 3, "outcomes": 2, "total": 5},
    }
