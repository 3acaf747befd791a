"""Publishing a month: what each town's and community's disclosure says, drawn from the
real actions' events and rows, and the month's boundaries in local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal
from server.core.clock import FakeClock
from server.core.context import Context
from server.disclosures import actions as disclosures
from server.outcomes import actions as outcomes
from server.topics import actions as topics
from server.topics.model import TopicStatus
from tests.deliberations.helpers import county_dispatcher
from tests.disclosures.helpers import March, march, to_april
from tests.factories import PASSWORD, make_city, submission


async def _by_region(ctx: Context, month: str) -> dict[str, dict[str, Any]]:
    archive = await disclosures.list_disclosures(ctx, month=month)
    out = {}
    for item in archive.items:
        view = await disclosures.get_disclosure(ctx, item.id)
        out[view.content["region"]["name"]] = view.content
    return out


def _topic(content: dict[str, Any], topic_id: int) -> dict[str, Any]:
    (found,) = [t for t in content["topics"] if t["id"] == topic_id]
    return found


async def test_a_month_is_published_for_every_town_and_community(ctx: Context) -> None:
    m = await march(ctx)
    to_april(ctx)
    result = await disclosures.publish_disclosures(ctx, "2026-03")
    assert (result.month, result.version, result.new_version) == ("2026-03", 1, False)
    assert (result.disclosures, result.towns, result.communities) == (4, 2, 2)
    assert result.topics == 5  # resolved, handled, two deliberated, elsewhere

    by_region = await _by_region(ctx, "2026-03")
    assert set(by_region) == {"城南街道", "幸福里社区", "科创街道", "智谷社区"}
    community, town = by_region["幸福里社区"], by_region["城南街道"]
    ours = {m.resolved, m.handled, *m.session.topic_ids}
    assert {t["id"] for t in community["topics"]} == ours
    assert {t["id"] for t in town["topics"]} == ours  # the town includes its communities
    assert {t["id"] for t in by_region["智谷社区"]["topics"]} == {m.elsewhere}
    assert m.intake_only not in {t["id"] for c in by_region.values() for t in c["topics"]}
    assert community["region"]["chain"] == ["清河区", "城南街道", "幸福里社区"]
    assert community["period"] == {
        "start": "2026-03-01T00:00+08:00",
        "end": "2026-04-01T00:00+08:00",
        "last_day": "2026-03-31",
    }

    # A one-person topic resolved by its handler: its process and its result.
    resolved = _topic(community, m.resolved)
    assert resolved["status"] == "resolved"
    assert [e["status"] for e in resolved["timeline"]] == [
        "submitted",
        "accepted",
        "dispatched",
        "assigned",
        "handling",
        "resolved",
    ]
    assert resolved["timeline"][3]["note"] == "→ 城南街道环卫所"  # dispatched to which unit
    assert resolved["result"] == {"kind": "decision", "text": "已协调物业修好路灯"}
    assert resolved["outcome"]["id"] == m.resolved_outcome
    assert (resolved["outcome"]["percent"], resolved["outcome"]["flag"]) == (100, "done")
    assert resolved["unit"] == "城南街道环卫所"
    assert "resolved" in resolved["in_month"] and "assigned" in resolved["in_month"]

    # Contacted, with a public progress note, not resolved: no result yet.
    handled = _topic(community, m.handled)
    assert handled["status"] == "handling" and handled["result"] is None
    kinds = [(e["kind"], e["note"]) for e in handled["timeline"] if e["kind"] != "move"]
    assert kinds[0] == ("contact", "phone")  # only the method: the note stays with staff
    assert kinds[1][0] == "progress" and "约定周五清运" in kinds[1][1]

    # Key topics: escalated, deliberated in the session, outcome published, progress.
    first, second = (_topic(community, t) for t in m.session.topic_ids)
    assert first["status"] == "implementing"
    assert [s["id"] for s in first["sessions"]] == [m.session.deliberation_id]
    assert {"escalated", "scheduled", "deliberated", "implementing"} <= set(first["in_month"])
    assert first["lead"] == "县住建局 王局长"
    o = first["outcome"]
    assert o["id"] == m.session_outcomes[0]
    assert o["decision"] == "按楼层分摊加装电梯费用，住建局牵头施工"
    assert (o["percent"], o["flag"], o["lead"]) == (40, "ok", "县住建局 王局长")
    assert o["latest_update"]["note"] == "施工队已进场"
    assert o["due_on"] == first["outcome"]["due_on"]
    assert second["outcome"]["percent"] == 0 and second["outcome"]["latest_update"] is None

    assert community["counts"] == {
        "topics": 4,
        "dispatched": 4,
        "escalated": 2,
        "deliberated": 2,
        "resolved": 1,
        "reopened": 0,
        "petition_resolved": int(resolved["category"] == "petition"),  # as classified
        "in_progress": 3,
        "outcomes": 3,
        "overdue": 0,
        "sessions": 1,
    }
    assert [s["id"] for s in community["sessions"]] == [m.session.deliberation_id]
    assert by_region["科创街道"]["counts"]["sessions"] == 0


async def test_facts_are_as_of_the_end_of_the_month(ctx: Context) -> None:
    m = await march(ctx)
    to_april(ctx)
    # In April: the outcome reaches 80 % and is overdue-checked against March's last day.
    zjj = await topics_handler(ctx, m)
    view = await outcomes.staff_outcome(ctx, zjj, m.session_outcomes[0])
    await outcomes.add_progress(
        ctx, zjj, m.session_outcomes[0], version=view.version, percent=80, note="主体完工"
    )
    await disclosures.publish_disclosures(ctx, "2026-03")
    first = _topic((await _by_region(ctx, "2026-03"))["幸福里社区"], m.session.topic_ids[0])
    assert first["outcome"]["percent"] == 40
    assert first["outcome"]["latest_update"]["note"] == "施工队已进场"


async def topics_handler(ctx: Context, m: March) -> Principal:
    """The department handler the March scenario made, logged in again."""
    return (await accounts.login(ctx, username="zjj", password=PASSWORD, ip="10.0.0.1")).principal


async def test_month_boundaries_are_local_time(ctx: Context) -> None:
    clock = ctx.clock
    assert isinstance(clock, FakeClock)
    city = await make_city(ctx)
    dispatcher = await county_dispatcher(ctx, city)
    relay = await accounts.create_unit(
        ctx, None, name="中转", kind=UnitKind.RELAY, region_id=city.county.id
    )
    ids = []
    for title in ("三月底派单的议题", "四月初派单的议题"):
        done = await topics.submit_topic(
            ctx, submission(title=title), [], room_id=city.room.id, actor=dispatcher
        )
        await topics.move_topic(ctx, dispatcher, done.topic_id, TopicStatus.ACCEPTED, version=1)
        ids.append(done.topic_id)
    march_end = datetime(2026, 3, 31, 15, 59, tzinfo=UTC)  # 23:59 local, 31 March
    clock.advance(march_end - clock.now())
    await topics.route_topic(ctx, dispatcher, ids[0], version=2, unit_id=relay.id)
    clock.advance(timedelta(minutes=2))  # 16:01 UTC: still 31 March in UTC, April locally
    await topics.route_topic(ctx, dispatcher, ids[1], version=2, unit_id=relay.id)

    await disclosures.publish_disclosures(ctx, "2026-03")
    in_march = {t["id"] for t in (await _by_region(ctx, "2026-03"))["幸福里社区"]["topics"]}
    assert in_march == {ids[0]}

    clock.advance(datetime(2026, 4, 30, 16, 0, tzinfo=UTC) - clock.now())  # 1 May local
    await disclosures.publish_disclosures(ctx, "2026-04")
    in_april = {t["id"] for t in (await _by_region(ctx, "2026-04"))["幸福里社区"]["topics"]}
    assert in_april == {ids[1]}
