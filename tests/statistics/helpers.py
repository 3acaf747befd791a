"""A small city with known figures, made through the real actions, for the dashboard,
open data and Open311 tests."""

from __future__ import annotations

from dataclasses import dataclass

from server.core.auth import Principal, Role
from server.core.context import Context
from server.deliberations.actions import schedule
from server.outcomes import actions as outcomes
from server.topics import actions as topics
from tests.deliberations.helpers import announced, key_topics
from tests.factories import City, make_city, make_staff, submission
from tests.outcomes.helpers import (
    Resolved,
    Session,
    outcome_ids,
    published_session,
    resolved_by_handler,
)

# Personal data seeded into the city: no public output may contain any of it.
NAME = "欧阳测试"
PHONE = "13987654321"


@dataclass
class SmallCity:
    city: City
    dispatcher: Principal
    resolved: Resolved  # a resident's topic, resolved by its handler, corrected to petition
    session: Session  # two key topics deliberated in a held session, outcomes published
    waiting_id: int  # a topic in the other county, still submitted
    waiting_number: str


async def small_city(ctx: Context) -> SmallCity:
    """Four topics: one petition resolved (by a resident with name and phone), two
    deliberated in one held session, one waiting in the other county. Three evaluations:
    satisfied and unsatisfied on the handler's outcome, basically satisfied on a session's."""
    city = await make_city(ctx)
    # A distinctive username, so the scan for personal data can look for it.
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county, username="ouyang.paidan")
    resolved = await resolved_by_handler(
        ctx, city, dispatcher, name=NAME, phone=PHONE, consent=True
    )
    detail = await topics.topic_detail(ctx, dispatcher, resolved.topic_id)
    await topics.correct_classification(
        ctx,
        dispatcher,
        resolved.topic_id,
        version=detail.topic.version,
        category="petition",
        subject="housing",
    )
    session = await published_session(ctx, city, dispatcher)
    waiting = await topics.submit_topic(
        ctx,
        submission(title="智谷社区路灯不亮", name=NAME, phone=PHONE, consent=True),
        [],
        room_code=city.other_room.code,
        device_id="dev-other",
        ip="192.0.2.9",
    )
    await outcomes.rate_outcome(
        ctx, resolved.outcome_id, score=5, verdict="satisfied", device_id="dev-a"
    )
    await outcomes.rate_outcome(
        ctx, resolved.outcome_id, score=1, verdict="unsatisfied", device_id="dev-b"
    )
    first = (await outcome_ids(ctx, session))[0]
    await outcomes.rate_outcome(
        ctx, first, score=4, verdict="basically_satisfied", device_id="dev-c"
    )
    return SmallCity(city, dispatcher, resolved, session, waiting.topic_id, waiting.number)


async def live_session(ctx: Context, small: SmallCity) -> int:
    """Another session in the first county, live now."""
    ids = await key_topics(ctx, small.city, small.dispatcher, 1)
    created = await announced(ctx, small.dispatcher, small.city, ids)
    await schedule.start(ctx, small.dispatcher, created.id)
    return created.id
