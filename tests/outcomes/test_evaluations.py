"""Public evaluation (评题): one per identity, moderation, satisfaction, follow-up."""

from __future__ import annotations

import asyncio

import pytest

from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from server.outcomes import actions as outcomes
from server.outcomes.model import Satisfaction
from server.topics import actions as topics
from server.topics.model import TopicStatus
from tests.deliberations.helpers import county_dispatcher, topic_status
from tests.factories import make_city
from tests.outcomes.helpers import ended_session, inputs, outcome_ids, resolved_by_handler


async def test_ratings_count_once_per_identity(ctx: Context) -> None:
    city = await make_city(ctx)
    dispatcher = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, dispatcher)
    first = await outcomes.rate_outcome(
        ctx, r.outcome_id, score=5, verdict="satisfied", comment="修得很快", device_id="dev-a"
    )
    assert first.satisfaction == Satisfaction(1, 0, 0) and not first.reopened
    assert first.evaluation["proposer"] is False
    await outcomes.rate_outcome(
        ctx, r.outcome_id, score=3, verdict="basically_satisfied", device_id="dev-b"
    )
    with pytest.raises(Conflict, match="already rated"):
        await outcomes.rate_outcome(
            ctx, r.outcome_id, score=1, verdict="unsatisfied", device_id="dev-a"
        )
    view = await outcomes.public_outcome(ctx, r.outcome_id)
    assert view.satisfaction.as_dict() == {
        "satisfied": 1,
        "basically_satisfied": 1,
        "unsatisfied": 0,
        "total": 2,
        "rate": 1.0,
    }
    assert view.score_average == 4.0
    assert [c["comment"] for c in view.public()["comments"]] == ["修得很快"]


async def test_the_same_identity_at_once_counts_once(ctx: Context) -> None:
    city = await make_city(ctx)
    dispatcher = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, dispatcher)
    results = await asyncio.gather(
        *(
            outcomes.rate_outcome(
                ctx, r.outcome_id, score=4, verdict="satisfied", device_id="dev-x"
            )
            for _ in range(4)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(x, BaseException) for x in results) == 1
    assert all(isinstance(x, Conflict) for x in results if isinstance(x, BaseException))
    assert (await outcomes.public_outcome(ctx, r.outcome_id)).satisfaction.total == 1


async def test_bad_ratings_are_refused_and_change_nothing(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, host)
    for score, verdict, comment, field in [
        (0, "satisfied", None, "score"),
        (6, "satisfied", None, "score"),
        ("5", "satisfied", None, "score"),
        (True, "satisfied", None, "score"),
        (5, "delighted", None, "verdict"),
        (5, "satisfied", "长" * 301, "comment"),
        (5, "satisfied", 42, "comment"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            await outcomes.rate_outcome(
                ctx, r.outcome_id, score=score, verdict=verdict, comment=comment, device_id="d1"
            )
        assert field in refused.value.fields
    with pytest.raises(NotFound):
        await outcomes.rate_outcome(ctx, 9999, score=5, verdict="satisfied", device_id="d1")
    with pytest.raises(Forbidden, match="another topic"):
        await outcomes.rate_outcome(
            ctx, r.outcome_id, score=5, verdict="satisfied", token="not-the-token"
        )
    # An unpublished (draft) outcome cannot be rated.
    s = await ended_session(ctx, city, host, n=1)
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    await outcomes.save_minutes(
        ctx, host, s.deliberation_id, version=m.version, body=m.body, outcomes=inputs(ctx, s)
    )
    (draft_id,) = await outcome_ids(ctx, s)
    with pytest.raises(Conflict, match="not published"):
        await outcomes.rate_outcome(ctx, draft_id, score=5, verdict="satisfied", device_id="d1")
    assert (await outcomes.public_outcome(ctx, r.outcome_id)).satisfaction.total == 0
    assert (await outcomes.staff_outcome(ctx, host, draft_id)).satisfaction.total == 0


async def test_public_ratings_are_rate_limited(ctx: Context) -> None:
    city = await make_city(ctx)
    dispatcher = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, dispatcher)
    limit = ctx.settings.rate_limit_device.count
    for _ in range(limit):
        with pytest.raises(ValidationFailed):
            await outcomes.rate_outcome(ctx, r.outcome_id, score=9, verdict="x", device_id="spam")
    with pytest.raises(RateLimited):
        await outcomes.rate_outcome(
            ctx, r.outcome_id, score=5, verdict="satisfied", device_id="spam"
        )


async def test_an_unsatisfied_proposer_reopens_the_topic(ctx: Context) -> None:
    city = await make_city(ctx)
    dispatcher = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, dispatcher)
    # Someone else's unsatisfied rating does not reopen it.
    await outcomes.rate_outcome(ctx, r.outcome_id, score=1, verdict="unsatisfied", device_id="nb")
    assert await topic_status(ctx, dispatcher, r.topic_id) is TopicStatus.RESOLVED
    rated = await outcomes.rate_outcome(
        ctx,
        r.outcome_id,
        score=1,
        verdict="unsatisfied",
        comment="灯又坏了",
        token=r.tracking_token,
    )
    assert rated.reopened and rated.evaluation["proposer"] is True
    assert await topic_status(ctx, dispatcher, r.topic_id) is TopicStatus.REOPENED
    detail = await topics.topic_detail(ctx, dispatcher, r.topic_id)
    last = detail.events[-1]
    assert (last.to_status, last.actor_id) == (TopicStatus.REOPENED, None)
    assert "灯又坏了" in last.note
    # The proposer's device is the same identity as the tracking token.
    with pytest.raises(Conflict, match="already rated"):
        await outcomes.rate_outcome(
            ctx, r.outcome_id, score=5, verdict="satisfied", device_id="dev-proposer"
        )
    view = await outcomes.public_outcome(ctx, r.outcome_id)
    assert view.satisfaction == Satisfaction(0, 0, 2)


async def test_sensitive_comments_are_held_and_moderated(ctx: Context) -> None:
    city = await make_city(ctx)
    dispatcher = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, dispatcher)
    word = ctx.settings.sensitive_words[0]
    rated = await outcomes.rate_outcome(
        ctx, r.outcome_id, score=2, verdict="unsatisfied", comment=f"这是{word}", device_id="d"
    )
    assert rated.evaluation["status"] == "held" and rated.evaluation["comment"] == ""
    assert (await outcomes.public_outcome(ctx, r.outcome_id)).public()["comments"] == []
    (held,) = await outcomes.held_comments(ctx, dispatcher)
    assert held["comment_text"] == f"这是{word}"
    with pytest.raises(ValidationFailed):
        await outcomes.moderate_evaluation(ctx, dispatcher, held["id"], visible=False)
    hidden = await outcomes.moderate_evaluation(
        ctx, dispatcher, held["id"], visible=False, reason="含不当用语"
    )
    assert (hidden["status"], hidden["reason"]) == ("hidden", "含不当用语")
    assert await outcomes.held_comments(ctx, dispatcher) == []
    # The rating still counts; only the comment is hidden, and its record stays.
    view = await outcomes.staff_outcome(ctx, dispatcher, r.outcome_id)
    assert view.satisfaction.total == 1 and view.comments[0]["status"] == "hidden"
