"""Reviewers' scores, closing the review, and publishing the 百优 and 十佳 of each kind."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from server.awards import actions as awards
from server.awards.tables import AwardPublication, AwardScore
from server.core.auth import Principal, Role
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.awards.rounds import YEAR, review_of
from tests.factories import City, make_city, make_staff


async def _scores(ctx: Context) -> list[tuple[int, int, int]]:
    async with ctx.db.read() as s:
        rows = await s.execute(
            select(AwardScore.candidate_id, AwardScore.reviewer_id, AwardScore.score).order_by(
                AwardScore.id
            )
        )
        return [(r[0], r[1], r[2]) for r in rows.all()]


async def _publications(ctx: Context) -> int:
    async with ctx.db.read() as s:
        return int(await s.scalar(select(func.count(AwardPublication.id))) or 0)


async def test_one_editable_score_per_reviewer_and_candidate(ctx: Context) -> None:
    city = await make_city(ctx)
    r = await review_of(ctx, city, rooms_n=2)
    one, two = r.reviewers
    first, second = r.candidate_ids
    assert await awards.score_candidate(ctx, one, YEAR, first, score=80) == 80
    assert await awards.score_candidate(ctx, one, YEAR, first, score=85) == 85  # edited
    await awards.score_candidate(ctx, two, YEAR, first, score=70)
    assert await _scores(ctx) == [(first, one.user_id, 85), (first, two.user_id, 70)]
    detail = await awards.round_detail(ctx, one, YEAR)
    mine = {c["id"]: c["my_score"] for c in detail["candidates"]["room"]}
    assert mine == {first: 85, second: None} and detail["manager"] is False
    admin_view = await awards.round_detail(ctx, r.admin, YEAR)
    ranked = admin_view["candidates"]["room"]
    assert [(c["id"], c["mean_score"], c["scores"], c["rank"]) for c in ranked] == [
        (first, 77.5, 2, 1),
        (second, None, 0, 2),
    ]


@pytest.mark.parametrize("bad", [-1, 101, 50.5, "90", True, None])
async def test_scores_out_of_range_are_refused(ctx: Context, bad: object) -> None:
    city = await make_city(ctx)
    r = await review_of(ctx, city, rooms_n=1)
    with pytest.raises(ValidationFailed) as refused:
        await awards.score_candidate(ctx, r.reviewers[0], YEAR, r.candidate_ids[0], score=bad)
    assert set(refused.value.fields) == {"score"}
    assert await _scores(ctx) == []


async def test_who_and_when_may_score(ctx: Context) -> None:
    city = await make_city(ctx)
    r = await review_of(ctx, city, rooms_n=1)
    (candidate,) = r.candidate_ids
    reviewer = r.reviewers[0]
    await awards.score_candidate(ctx, reviewer, YEAR, candidate, score=60)
    with pytest.raises(Forbidden, match="not a reviewer"):
        await awards.score_candidate(ctx, r.admin, YEAR, candidate, score=90)
    with pytest.raises(Forbidden):
        await awards.round_detail(ctx, await _stranger(ctx, city), YEAR)
    with pytest.raises(NotFound):
        await awards.score_candidate(ctx, reviewer, YEAR, 9999, score=90)
    with pytest.raises(NotFound):
        await awards.score_candidate(ctx, reviewer, 2025, candidate, score=90)
    with pytest.raises(ValidationFailed):
        await awards.score_candidate(ctx, reviewer, 2099, candidate, score=90)
    await awards.close_review(ctx, r.admin, YEAR)
    with pytest.raises(Conflict, match="closed"):
        await awards.score_candidate(ctx, reviewer, YEAR, candidate, score=99)
    with pytest.raises(Conflict, match="closed"):
        await awards.close_review(ctx, r.admin, YEAR)
    with pytest.raises(Conflict, match="closed"):
        await awards.appoint_reviewer(ctx, r.admin, YEAR, username="cityadmin")
    assert await _scores(ctx) == [(candidate, reviewer.user_id, 60)]


async def _stranger(ctx: Context, city: City) -> Principal:
    return await make_staff(ctx, Role.ROOM_CHIEF, city.community, username="chief")


async def test_opening_and_appointing_refusals(ctx: Context) -> None:
    city = await make_city(ctx)
    r = await review_of(ctx, city, rooms_n=1)
    with pytest.raises(Conflict, match="already open"):
        await awards.open_round(ctx, r.admin, YEAR)
    with pytest.raises(ValidationFailed) as future:
        await awards.open_round(ctx, r.admin, 2027)
    assert set(future.value.fields) == {"year"}
    for bad in ("twenty", 1999, True):
        with pytest.raises(ValidationFailed):
            await awards.open_round(ctx, r.admin, bad)
    with pytest.raises(ValidationFailed) as sizes:
        await awards.open_round(ctx, r.admin, 2025, excellent=2, best=3)
    assert set(sizes.value.fields) == {"best"}
    with pytest.raises(Forbidden):
        await awards.open_round(ctx, r.reviewers[0], 2025)
    with pytest.raises(Conflict, match="already a reviewer"):
        await awards.appoint_reviewer(ctx, r.admin, YEAR, username=r.reviewers[0].username)
    with pytest.raises(ValidationFailed):
        await awards.appoint_reviewer(ctx, r.admin, YEAR, username="nobody")
    assert [v.year for v in await awards.list_rounds(ctx, r.admin)] == [YEAR]
    assert [v.year for v in await awards.list_rounds(ctx, r.reviewers[0])] == [YEAR]


async def test_publication_takes_the_best_by_mean_score(ctx: Context) -> None:
    city = await make_city(ctx)
    r = await review_of(ctx, city, rooms_n=5, excellent=3, best=1)
    one, two = r.reviewers
    for points, candidate in zip([70, 95, 60, 88, 40], r.candidate_ids, strict=True):
        await awards.score_candidate(ctx, one, YEAR, candidate, score=points)
        await awards.score_candidate(ctx, two, YEAR, candidate, score=points - 10)
    await awards.close_review(ctx, r.admin, YEAR)
    done = await awards.publish_awards(ctx, r.admin, YEAR)
    assert done.version == 1
    view = await awards.published_awards(ctx, YEAR)
    rooms = view.data["kinds"]["room"]
    assert rooms["candidates"] == 5 and not rooms["short"] and rooms["best_count"] == 1
    assert [(e["rank"], e["best"], e["mean_score"]) for e in rooms["excellent"]] == [
        (1, True, 90.0),
        (2, False, 83.0),
        (3, False, 65.0),
    ]
    assert rooms["excellent"][1]["title"] == "幸福里第3议事室"
    assert rooms["excellent"][1]["region"] == city.community.name
    # Fewer candidates than the cut: as many as there are, and said so.
    for kind in ("resident", "case"):
        assert view.data["kinds"][kind] == {
            "candidates": 0,
            "excellent": [],
            "best_count": 0,
            "short": True,
        }
    assert [p["year"] for p in await awards.list_published(ctx)] == [YEAR]


async def test_publishing_refusals_write_nothing(ctx: Context) -> None:
    city = await make_city(ctx)
    r = await review_of(ctx, city, rooms_n=3)
    first, second, third = r.candidate_ids
    await awards.score_candidate(ctx, r.reviewers[0], YEAR, first, score=90)
    await awards.score_candidate(ctx, r.reviewers[0], YEAR, second, score=80)
    with pytest.raises(Conflict, match="Close the review"):
        await awards.publish_awards(ctx, r.admin, YEAR)
    await awards.close_review(ctx, r.admin, YEAR)
    with pytest.raises(Forbidden):
        await awards.publish_awards(ctx, r.reviewers[0], YEAR)
    with pytest.raises(Conflict, match="unscored: room: 1"):
        await awards.publish_awards(ctx, r.admin, YEAR)
    with pytest.raises(ValidationFailed):
        await awards.withdraw_candidate(ctx, r.admin, YEAR, third, reason="")
    with pytest.raises(Conflict, match="never published"):
        await awards.publish_awards(ctx, r.admin, YEAR, new_version=True, reason="更正排名")
    assert await _publications(ctx) == 0
    await awards.withdraw_candidate(ctx, r.admin, YEAR, third, reason="材料不实，撤回候选")
    with pytest.raises(Conflict, match="withdrawn"):
        await awards.withdraw_candidate(ctx, r.admin, YEAR, third, reason="再次撤回")
    await awards.publish_awards(ctx, r.admin, YEAR)
    with pytest.raises(Conflict, match="already published"):
        await awards.publish_awards(ctx, r.admin, YEAR)
    with pytest.raises(ValidationFailed) as no_reason:
        await awards.publish_awards(ctx, r.admin, YEAR, new_version=True, reason="  ")
    assert set(no_reason.value.fields) == {"reason"}
    assert await _publications(ctx) == 1
    with pytest.raises(NotFound):
        await awards.published_awards(ctx, 2025)
    with pytest.raises(NotFound):
        await awards.published_awards(ctx, YEAR, 2)


async def test_a_correction_is_a_new_version_with_its_reason(ctx: Context) -> None:
    city = await make_city(ctx)
    r = await review_of(ctx, city, rooms_n=2, excellent=2, best=1)
    first, second = r.candidate_ids
    await awards.score_candidate(ctx, r.reviewers[0], YEAR, first, score=90)
    await awards.score_candidate(ctx, r.reviewers[0], YEAR, second, score=80)
    await awards.close_review(ctx, r.admin, YEAR)
    await awards.publish_awards(ctx, r.admin, YEAR)
    await awards.withdraw_candidate(ctx, r.admin, YEAR, first, reason="经核查存在问题，撤销")
    # Withdrawing changes nothing published until a new version says so.
    assert len((await awards.published_awards(ctx, YEAR)).data["kinds"]["room"]["excellent"]) == 2
    done = await awards.publish_awards(
        ctx, r.admin, YEAR, new_version=True, reason="撤销一个议事室的称号"
    )
    assert (done.version, done.reason) == (2, "撤销一个议事室的称号")
    latest = await awards.published_awards(ctx, YEAR)
    assert latest.latest and [e["rank"] for e in latest.data["kinds"]["room"]["excellent"]] == [1]
    assert [v["version"] for v in latest.versions] == [2, 1]
    first_version = await awards.published_awards(ctx, YEAR, 1)
    assert not first_version.latest
    assert len(first_version.data["kinds"]["room"]["excellent"]) == 2


async def test_the_same_reviewer_scoring_at_once_keeps_one_score(ctx: Context) -> None:
    city = await make_city(ctx)
    r = await review_of(ctx, city, rooms_n=1)
    (candidate,) = r.candidate_ids
    reviewer = r.reviewers[0]
    results = await asyncio.gather(
        *(awards.score_candidate(ctx, reviewer, YEAR, candidate, score=s) for s in (60, 70, 80)),
        return_exceptions=True,
    )
    assert not [x for x in results if isinstance(x, BaseException)]
    (kept,) = await _scores(ctx)
    assert kept[:2] == (candidate, reviewer.user_id) and kept[2] in (60, 70, 80)
