"""The dashboard's snapshot: each figure exact on a small city, region filtering, the cache."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from server.core.clock import FakeClock
from server.core.context import Context
from server.core.errors import NotFound
from server.outcomes.model import Flag
from server.statistics import actions, store
from tests.statistics.helpers import live_session, small_city


async def test_headline_figures_are_exact(ctx: Context) -> None:
    small = await small_city(ctx)
    snap = await actions.build_snapshot(ctx, None)
    assert snap["region"]["id"] == small.city.city.id  # the only root is the default
    assert snap["figures"] == {
        "topics_collected": 4,
        "sessions_held": 1,
        "petition_risks_defused": 1,
        "livelihood_solved": 1,
    }
    assert snap["satisfaction"] == {
        "satisfied": 1,
        "basically_satisfied": 1,
        "unsatisfied": 1,
        "total": 3,
        "rate": 0.6667,
    }
    assert snap["breadcrumbs"] == [{"id": small.city.city.id, "name": "安和市", "level": "city"}]
    months = snap["trend"]["months"]
    assert len(months) == 12 and months[-1] == "2026-03" and months[0] == "2025-04"
    assert snap["trend"]["received"] == [0] * 11 + [4]
    assert snap["trend"]["resolved"] == [0] * 11 + [1]
    assert snap["trend"]["sessions"] == [0] * 11 + [1]
    assert sum(c["topics"] for c in snap["categories"]) == 4
    petition = next(c for c in snap["categories"] if c["category"] == "petition")
    assert petition["resolved"] == 1
    assert sum(s["topics"] for s in snap["subjects"]) == 4
    assert snap["live"] == []


async def test_children_roll_up_their_subtrees(ctx: Context) -> None:
    small = await small_city(ctx)
    snap = await actions.build_snapshot(ctx, None)
    by_name = {c["name"]: c for c in snap["children"]}
    assert set(by_name) == {"清河区", "高新园区"}
    county = by_name["清河区"]
    assert (county["topics"], county["resolved"], county["petition_resolved"]) == (3, 1, 1)
    assert county["sessions"] == 1
    assert county["satisfaction"]["total"] == 3
    park = by_name["高新园区"]
    assert (park["topics"], park["sessions"], park["satisfaction"]["rate"]) == (1, 0, None)
    assert county["id"] == small.city.county.id


async def test_a_region_filters_every_panel_to_its_subtree(ctx: Context) -> None:
    small = await small_city(ctx)
    park = await actions.build_snapshot(ctx, small.city.other_county.id)
    assert park["figures"] == {
        "topics_collected": 1,
        "sessions_held": 0,
        "petition_risks_defused": 0,
        "livelihood_solved": 0,
    }
    assert park["satisfaction"]["total"] == 0
    assert park["trend"]["received"][-1] == 1 and sum(park["trend"]["resolved"]) == 0
    assert [b["name"] for b in park["breadcrumbs"]] == ["安和市", "高新园区"]
    assert [c["name"] for c in park["children"]] == ["科创街道"]

    town = await actions.build_snapshot(ctx, small.city.town.id)
    assert town["figures"]["topics_collected"] == 3
    assert town["figures"]["livelihood_solved"] == 1
    assert [b["name"] for b in town["breadcrumbs"]] == ["安和市", "清河区", "城南街道"]
    assert [c["name"] for c in town["children"]] == ["幸福里社区"]
    assert town["children"][0]["topics"] == 3


async def test_live_sessions_now_link_to_their_watch_page(ctx: Context) -> None:
    small = await small_city(ctx)
    live_id = await live_session(ctx, small)
    snap = await actions.build_snapshot(ctx, small.city.county.id)
    assert [(s["id"], s["url"]) for s in snap["live"]] == [(live_id, f"/watch/{live_id}")]
    assert snap["figures"]["sessions_held"] == 2  # a live session counts as held
    assert (await actions.build_snapshot(ctx, small.city.other_county.id))["live"] == []


async def test_overdue_deadlines_and_outcomes(ctx: Context, clock: FakeClock) -> None:
    small = await small_city(ctx)
    before = await actions.build_snapshot(ctx, None)
    assert before["overdue"]["outcomes"] == 0
    clock.advance(timedelta(days=45))  # past every due date set at publication (30 days)
    after = await actions.build_snapshot(ctx, None)
    flags = after["overdue"]["outcome_flags"]
    # The handler's outcome is complete; the session's two are not, and are past due.
    assert flags[Flag.OVERDUE] == after["overdue"]["outcomes"] == 2
    assert flags[Flag.DONE] == 1
    # The waiting topic's acceptance deadline is long past.
    assert after["overdue"]["deadlines_by_stage"].get("accept") == 1
    park = await actions.build_snapshot(ctx, small.city.other_county.id)
    assert park["overdue"] == {
        "deadlines": 1,
        "deadlines_by_stage": {"accept": 1},
        "outcomes": 0,
        "outcome_flags": {"ok": 0, "near": 0, "overdue": 0, "done": 0},
    }


async def test_unknown_region_is_refused(ctx: Context) -> None:
    await small_city(ctx)
    with pytest.raises(NotFound):
        await actions.build_snapshot(ctx, 999_999)


async def test_the_cache_computes_once_per_region_per_period(
    ctx: Context, clock: FakeClock
) -> None:
    small = await small_city(ctx)
    cache = actions.Snapshots(ctx, seconds=5)
    first = await asyncio.gather(*(cache.get(None) for _ in range(20)))
    assert cache.computed == 1 and all(s is first[0] for s in first)
    await cache.get(small.city.county.id)
    assert cache.computed == 2
    # A new topic is not seen until the period is over, then it is.
    from tests.factories import submit

    await submit(ctx, small.city.room, title="新提交的一个议题")
    clock.advance(timedelta(seconds=4))
    assert (await cache.get(None))["figures"]["topics_collected"] == 4
    clock.advance(timedelta(seconds=1))
    fresh = await cache.get(None)
    assert fresh["figures"]["topics_collected"] == 5 and cache.computed == 3
    assert fresh["version"] != first[0]["version"]
    # The shared cache is one per process (per database handle).
    assert actions.snapshots(ctx) is actions.snapshots(ctx)


async def test_the_version_changes_only_with_the_figures(ctx: Context, clock: FakeClock) -> None:
    await small_city(ctx)
    a = await actions.build_snapshot(ctx, None)
    clock.advance(timedelta(minutes=1))
    b = await actions.build_snapshot(ctx, None)
    assert a["version"] == b["version"] and a["generated_at"] != b["generated_at"]


async def test_each_query_is_one_statement(ctx: Context) -> None:
    """The benchmark's queries answer on an empty city too."""
    async with ctx.db.read() as session:
        assert (await store.headline_figures(session, None)).topics_collected == 0
        assert await store.category_counts(session, "/1/") == []
        assert await store.counts_by_region(session, None) == []
