"""A year of real activity made through the real actions: a resident with a distinctive
name and phone who raised an accepted topic and signed up and checked in to a session in
their room; that session's two key topics deliberated, their outcomes published, carried
out to 100 % (resolved) and rated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal, Role
from server.core.context import Context
from server.deliberations.actions import room, schedule, signup
from server.deliberations.actions.common import staff_identity
from server.deliberations.actions.signup import SignUp
from server.outcomes import actions as outcomes
from server.topics import actions as topics
from server.topics.model import TopicStatus
from tests.deliberations.helpers import announced, county_dispatcher, key_topics
from tests.factories import City, make_staff, submission
from tests.outcomes.helpers import Session, outcome_ids, publish

NAME = "欧阳娜娜"
PHONE = "13912345678"
DEVICE = "dev-ouyang-nana"


@dataclass(frozen=True)
class Seed:
    admin: Principal
    host: Principal
    reviewers: list[Principal]
    resident_topic_id: int
    resident_token: str
    case_ids: list[int]  # key topics deliberated, published, resolved
    deliberation_id: int


async def admin_of(ctx: Context, city: City) -> Principal:
    return await make_staff(ctx, Role.ADMIN, city.city, username="cityadmin")


async def reviewers_of(ctx: Context, city: City, n: int = 2) -> list[Principal]:
    return [
        await make_staff(ctx, Role.DISPATCHER, city.county, username=f"reviewer{i}")
        for i in range(1, n + 1)
    ]


async def seeded_year(ctx: Context, city: City) -> Seed:
    host = await county_dispatcher(ctx, city)
    admin = await admin_of(ctx, city)
    reviewers = await reviewers_of(ctx, city)
    proposed = await topics.submit_topic(
        ctx,
        submission(title="小区门口路灯不亮", name=NAME, phone=PHONE, consent=True),
        [],
        room_code=city.room.code,
        device_id=DEVICE,
        ip="192.0.2.9",
    )
    await topics.move_topic(ctx, host, proposed.topic_id, TopicStatus.ACCEPTED, version=1)
    # A topic in the other room that was not resolved and had no session: no candidate.
    await topics.submit_topic(
        ctx,
        submission(title="智谷路口缺少斑马线"),
        [],
        room_code=city.other_room.code,
        device_id="dev-other",
        ip="192.0.2.10",
    )
    ids = await key_topics(ctx, city, host, 2)
    created = await announced(ctx, host, city, ids)
    signed = await signup.register(
        ctx,
        created.id,
        SignUp(name=NAME, kind="resident", phone=PHONE, consent=True),
        device_id=DEVICE,
        ip="192.0.2.9",
    )
    ctx.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    await schedule.start(ctx, host, created.id)
    await signup.check_in(ctx, host, created.id, registration_id=signed.view.attendee.id)
    who = staff_identity(host, created.id)
    for topic_id in ids:
        await room.goto_topic(ctx, who, topic_id)
        ctx.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    await schedule.end(ctx, host, created.id)
    unit = await accounts.create_unit(
        ctx, None, name="县住建局", kind=UnitKind.DEPARTMENT, region_id=city.county.id
    )
    s = Session(created.id, ids, host, unit.id)
    await publish(ctx, s)
    handler = await make_staff(ctx, Role.HANDLER, city.county, username="zjj", unit_id=unit.id)
    for n, oid in enumerate(await outcome_ids(ctx, s)):
        view = await outcomes.staff_outcome(ctx, handler, oid)
        await outcomes.add_progress(
            ctx, handler, oid, version=view.version, percent=100, note="电梯已安装完成"
        )
        verdicts = ["satisfied", "satisfied"] if n == 0 else ["satisfied", "unsatisfied"]
        for i, verdict in enumerate(verdicts):
            await outcomes.rate_outcome(
                ctx, oid, score=5, verdict=verdict, device_id=f"neighbour-{n}-{i}"
            )
    return Seed(admin, host, reviewers, proposed.topic_id, proposed.tracking_token, ids, created.id)
