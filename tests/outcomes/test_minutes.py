"""Minutes drafted from the session's log, edited and published with the outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.core.auth import Role
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, StaleUpdate, ValidationFailed
from server.deliberations.actions import schedule
from server.deliberations.model import DeliberationStatus
from server.outcomes import actions as outcomes
from server.outcomes.actions import OutcomeInput
from server.topics import actions as topics
from server.topics.model import TopicStatus
from tests.deliberations.helpers import announced, county_dispatcher, key_topics, topic_status
from tests.factories import make_city, make_staff
from tests.outcomes.helpers import due, ended_session, inputs, outcome_ids, publish


async def test_minutes_are_drafted_from_the_log(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host, n=2, minutes_per_topic=10)
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    assert m.status == "draft" and m.version == 1
    facts = m.facts
    assert [a["topic_id"] for a in facts["agenda"]] == s.topic_ids
    assert [a["seconds"] for a in facts["agenda"]] == [600, 600]
    assert facts["duration_seconds"] == 1200
    assert facts["polls"] == [
        {
            "question": "同意按楼层分摊吗？",
            "kind": "single",
            "topic_number": facts["agenda"][1]["number"],
            "ballots": 0,
            "options": [{"label": "同意", "votes": 0}, {"label": "不同意", "votes": 0}],
        }
    ]
    assert facts["attendance"]["checked_in"] == 0
    assert "讨论 10 分钟" in m.body and facts["agenda"][0]["number"] in m.body
    assert [t["outcome"] for t in m.topics] == [None, None]
    again = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    assert again.version == 1  # drafted once


async def test_minutes_wait_for_the_end_and_stay_in_territory(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    ids = await key_topics(ctx, city, host, 1)
    created = await announced(ctx, host, city, ids)
    with pytest.raises(Conflict, match="announced"):
        await outcomes.get_minutes(ctx, host, created.id)
    with pytest.raises(NotFound):
        await outcomes.get_minutes(ctx, host, 9999)
    outsider = await make_staff(ctx, Role.DISPATCHER, city.other_county, username="outsider")
    ctx.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    await schedule.start(ctx, host, created.id)
    await schedule.end(ctx, host, created.id)
    with pytest.raises(Forbidden):
        await outcomes.get_minutes(ctx, outsider, created.id)


async def test_save_then_publish_moves_everything_together(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host)
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    saved = await outcomes.save_minutes(
        ctx,
        host,
        s.deliberation_id,
        version=m.version,
        body="会议纪要正文",
        outcomes=inputs(ctx, s),
    )
    assert saved.version == 2 and saved.body == "会议纪要正文"
    assert [t["outcome"]["status"] for t in saved.topics] == ["draft", "draft"]
    assert saved.topics[0]["outcome"]["unit_name"].startswith("县住建局")
    # Drafts are not public.
    (first, _second) = await outcome_ids(ctx, s)
    with pytest.raises(NotFound):
        await outcomes.public_outcome(ctx, first)
    with pytest.raises(NotFound):
        await outcomes.public_minutes(ctx, s.deliberation_id)

    published = await outcomes.publish_minutes(ctx, host, s.deliberation_id, version=saved.version)
    assert published.status == "published"
    assert [t["outcome"]["status"] for t in published.topics] == ["published", "published"]
    assert [await topic_status(ctx, host, t) for t in s.topic_ids] == [TopicStatus.IMPLEMENTING] * 2
    detail = await schedule.deliberation_detail(ctx, host, s.deliberation_id)
    assert detail.status is DeliberationStatus.PUBLISHED
    view = await outcomes.public_outcome(ctx, first)
    assert view.decision.startswith("按楼层分摊") and view.flag == "ok" and view.percent == 0
    assert (await outcomes.public_minutes(ctx, s.deliberation_id)).body == "会议纪要正文"
    with pytest.raises(Conflict, match="already published"):
        await outcomes.publish_minutes(ctx, host, s.deliberation_id, version=published.version)
    with pytest.raises(Conflict, match="no longer be edited"):
        await outcomes.save_minutes(
            ctx, host, s.deliberation_id, version=published.version, body="改", outcomes=[]
        )


async def test_bad_outcomes_are_refused_with_every_field_and_nothing_saved(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host)
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    first, second = s.topic_ids
    bad = [
        OutcomeInput(first, "短", s.unit_id, "", due(ctx)),
        OutcomeInput(second, "按楼层分摊费用", None, "", due(ctx, -1)),
    ]
    with pytest.raises(ValidationFailed) as refused:
        await outcomes.save_minutes(
            ctx, host, s.deliberation_id, version=m.version, body="新正文", outcomes=bad
        )
    assert set(refused.value.fields) == {
        f"outcomes.{first}.decision",
        f"outcomes.{second}.unit_id",
        f"outcomes.{second}.due_on",
    }
    with pytest.raises(ValidationFailed) as refused:
        await outcomes.save_minutes(
            ctx,
            host,
            s.deliberation_id,
            version=m.version,
            body="新正文",
            outcomes=[OutcomeInput(first, "按楼层分摊费用", 9999, "", due(ctx))],
        )
    assert refused.value.fields == {f"outcomes.{first}.unit_id": "No such unit."}
    with pytest.raises(ValidationFailed, match="need attention"):
        await outcomes.save_minutes(
            ctx,
            host,
            s.deliberation_id,
            version=m.version,
            body="新正文",
            outcomes=[OutcomeInput(first + 100, "按楼层分摊费用", s.unit_id, "", due(ctx))],
        )
    after = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    assert (after.version, after.body, [t["outcome"] for t in after.topics]) == (
        1,
        m.body,
        [None, None],
    )
    with pytest.raises(StaleUpdate):
        await outcomes.save_minutes(
            ctx, host, s.deliberation_id, version=7, body="x", outcomes=inputs(ctx, s)
        )


async def test_publishing_needs_an_outcome_for_every_agenda_topic(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host)
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    saved = await outcomes.save_minutes(
        ctx, host, s.deliberation_id, version=m.version, body=m.body, outcomes=inputs(ctx, s)[:1]
    )
    with pytest.raises(ValidationFailed, match=saved.topics[1]["number"]):
        await outcomes.publish_minutes(ctx, host, s.deliberation_id, version=saved.version)
    assert [await topic_status(ctx, host, t) for t in s.topic_ids] == [TopicStatus.DELIBERATED] * 2
    assert (await outcomes.get_minutes(ctx, host, s.deliberation_id)).status == "draft"
    detail = await schedule.deliberation_detail(ctx, host, s.deliberation_id)
    assert detail.status is DeliberationStatus.ENDED


async def test_publish_helper_round_trip(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host, n=1)
    view = await publish(ctx, s)
    assert view.status == "published" and len(await outcome_ids(ctx, s)) == 1


async def test_a_published_outcome_takes_over_the_escalated_deadline(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host, n=1)
    before = await topics.topic_detail(ctx, host, s.topic_ids[0])
    (escalated,) = [d for d in before.deadlines if d.stage == "resolve_escalated"]
    assert escalated.closed_at is None
    await publish(ctx, s)
    after = await topics.topic_detail(ctx, host, s.topic_ids[0])
    (closed,) = [d for d in after.deadlines if d.stage == "resolve_escalated"]
    assert (closed.closed_at, closed.outcome) == (ctx.clock.now(), "met")
