"""A month of activity made through the real actions, for the disclosure tests.

The FakeClock starts on 2026-03-02 09:00 China time; everything below happens in March
2026 (local), so "2026-03" can be published from 2026-04-01 00:00 local (03-31 16:00 UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal, Role
from server.core.clock import FakeClock
from server.core.context import Context
from server.outcomes import actions as outcomes
from server.topics import actions as topics
from server.topics.actions import handling
from server.topics.model import TopicStatus
from tests.deliberations.helpers import key_topics
from tests.factories import City, make_city, make_staff, submission
from tests.outcomes.helpers import Session, outcome_ids, published_session

# Personal data seeded on purpose: none of it may appear in any disclosure.
NAME = "欧阳娜娜"
PHONE = "13912345678"
DEVICE = "dev-proposer"
APRIL = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # 2026-04-01 00:00 local


@dataclass
class March:
    city: City
    dispatcher: Principal
    city_dispatcher: Principal
    resolved: int  # a one-person topic resolved by its handler (name, phone, token)
    resolved_outcome: int
    resolved_token: str
    handled: int  # a one-person topic contacted, with a public progress note, not resolved
    session: Session  # two key topics deliberated, outcomes published
    session_outcomes: list[int]
    intake_only: int  # accepted, never dispatched: not disclosed
    elsewhere: int  # dispatched in the other county's community
    staff_names: list[str]  # usernames and display names of every staff member used


async def march(ctx: Context) -> March:
    city = await make_city(ctx)
    # Distinctive usernames: the pages' embedded catalogue says "dispatcher" as a role.
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county, username="qhdesk")
    city_dispatcher = await make_staff(ctx, Role.DISPATCHER, city.city, username="citydesk")
    personal = {"name": NAME, "phone": PHONE, "consent": True}

    relay = await accounts.create_unit(
        ctx, None, name="清河区中转中心", kind=UnitKind.RELAY, region_id=city.county.id
    )
    town = await accounts.create_unit(
        ctx, None, name="城南街道环卫所", kind=UnitKind.TOWN, region_id=city.town.id
    )
    handler = await make_staff(ctx, Role.HANDLER, city.town, username="hjs", unit_id=town.id)

    async def one_person(title: str, description: str) -> topics.SubmittedTopic:
        """A resident's topic (by QR, with name and phone) handled by the town unit."""
        done = await topics.submit_topic(
            ctx,
            submission(title=title, description=description, **personal),
            [],
            room_code=city.room.code,
            device_id=DEVICE,
        )
        await topics.move_topic(ctx, dispatcher, done.topic_id, TopicStatus.ACCEPTED, version=1)
        await topics.route_topic(ctx, dispatcher, done.topic_id, version=2, unit_id=relay.id)
        await topics.route_topic(ctx, dispatcher, done.topic_id, version=3, unit_id=town.id)
        await topics.move_topic(ctx, handler, done.topic_id, TopicStatus.HANDLING, version=4)
        return done

    r = await one_person(f"{NAME}家门口路灯不亮", "小区东门路灯坏了一个月，晚上很黑。")
    await handling.resolve_topic(ctx, handler, r.topic_id, version=5, result="已协调物业修好路灯")
    resolved_outcome = await outcomes.outcome_for_topic(ctx, r.topic_id)
    assert resolved_outcome is not None

    done = await one_person("垃圾清运不及时", f"请联系我 {PHONE}，垃圾站三天没清运。")
    await handling.record_contact(
        ctx, handler, done.topic_id, method="phone", note=f"打给{NAME} {PHONE}"
    )
    await handling.add_progress(
        ctx, handler, done.topic_id, note=f"已联系{NAME}（{PHONE}），约定周五清运"
    )

    s = await published_session(ctx, city, dispatcher, n=2)
    oids = await outcome_ids(ctx, s)
    zjj = await make_staff(ctx, Role.HANDLER, city.county, username="zjj", unit_id=s.unit_id)
    view = await outcomes.staff_outcome(ctx, zjj, oids[0])
    await outcomes.add_progress(
        ctx, zjj, oids[0], version=view.version, percent=40, note="施工队已进场"
    )

    intake = await topics.submit_topic(
        ctx, submission(title="只受理未派单"), [], room_id=city.room.id, actor=dispatcher
    )
    await topics.move_topic(ctx, dispatcher, intake.topic_id, TopicStatus.ACCEPTED, version=1)

    (elsewhere,) = await key_topics(
        ctx, city, city_dispatcher, 1, room=city.other_room, escalate=False
    )
    names = ["qhdesk", "citydesk", "hjs", "zjj"]
    return March(
        city,
        dispatcher,
        city_dispatcher,
        r.topic_id,
        resolved_outcome,
        r.tracking_token,
        done.topic_id,
        s,
        oids,
        intake.topic_id,
        elsewhere,
        names,
    )


def staff_display_names(m: March) -> list[str]:
    """What tests.factories.make_staff named them ("{role} {region}")."""
    return [
        f"dispatcher {m.city.county.name}",
        f"dispatcher {m.city.city.name}",
        f"handler {m.city.town.name}",
        f"handler {m.city.county.name}",
    ]


def to_april(ctx: Context) -> None:
    clock = ctx.clock
    assert isinstance(clock, FakeClock)
    assert clock.now() < APRIL, "the March scenario ran past March"
    clock.advance(APRIL - clock.now() + timedelta(minutes=5))
