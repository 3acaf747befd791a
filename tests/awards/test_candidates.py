"""Candidates proposed from a year's real figures: rooms, cases and residents."""

from __future__ import annotations

import pytest

from server.awards import actions as awards
from server.awards.model import case_score, resident_score, room_score
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound
from tests.awards.helpers import NAME, PHONE, seeded_year
from tests.factories import make_city


async def test_candidates_come_from_the_years_figures(ctx: Context) -> None:
    city = await make_city(ctx)
    seed = await seeded_year(ctx, city)
    await awards.open_round(ctx, seed.admin, 2026, excellent=3, best=1)
    counts = await awards.generate_candidates(ctx, seed.admin, 2026)
    assert counts == {"room": 1, "case": 2, "resident": 1}
    detail = await awards.round_detail(ctx, seed.admin, 2026)
    (room,) = detail["candidates"]["room"]
    assert room["title"] == city.room.name
    # 1 session; the resident's topic is accepted, not resolved: 2 resolved of 3 received.
    assert room["figures"]["sessions"] == 1
    assert (room["figures"]["received"], room["figures"]["resolved"]) == (3, 2)
    assert room["figures"]["satisfaction"]["total"] == 4
    assert room["figures"]["satisfaction"]["rate"] == 0.75
    assert room["composite"] == room_score(1, 2 / 3, 0.75)
    cases = detail["candidates"]["case"]
    assert [c["figures"]["satisfaction"]["rate"] for c in cases] == [1.0, 0.5]
    assert [c["composite"] for c in cases] == [case_score(1.0, 100), case_score(0.5, 100)]
    assert all("加装电梯" in c["title"] and c["room"] == city.room.name for c in cases)
    (resident,) = detail["candidates"]["resident"]
    assert resident["title"] == "欧***" and NAME not in str(detail)
    assert resident["masked_phone"] == "139****5678" and PHONE not in str(detail)
    assert resident["room"] == city.room.name
    assert resident["figures"] == {"accepted_topics": 1, "signed_up": 1, "checked_in": 1}
    assert resident["composite"] == resident_score(1, 1, 1)


async def test_generation_refusals_change_nothing(ctx: Context) -> None:
    city = await make_city(ctx)
    seed = await seeded_year(ctx, city)
    with pytest.raises(NotFound):
        await awards.generate_candidates(ctx, seed.admin, 2026)
    await awards.open_round(ctx, seed.admin, 2026, excellent=3, best=1)
    with pytest.raises(Forbidden):
        await awards.generate_candidates(ctx, seed.host, 2026)
    await awards.generate_candidates(ctx, seed.admin, 2026)
    with pytest.raises(Conflict, match="generated once"):
        await awards.generate_candidates(ctx, seed.admin, 2026)
    detail = await awards.round_detail(ctx, seed.admin, 2026)
    assert sum(len(v) for v in detail["candidates"].values()) == 4


async def test_the_pool_keeps_the_best_composites(ctx: Context) -> None:
    city = await make_city(ctx)
    seed = await seeded_year(ctx, city)
    # excellent=1: a pool of 2 per kind; both cases fit, the best first.
    await awards.open_round(ctx, seed.admin, 2026, excellent=1, best=1)
    counts = await awards.generate_candidates(ctx, seed.admin, 2026)
    assert counts["case"] == 2
    await awards.open_round(ctx, seed.admin, 2025, excellent=1, best=1)
    assert await awards.generate_candidates(ctx, seed.admin, 2025) == {}
