"""The bulletin's figures, ranks and changes for a small city worked through the real
actions (tests/bulletins/helpers.py tells the story and the expected numbers)."""

from __future__ import annotations

from typing import Any

from server.bulletins import actions
from server.core.clock import FakeClock
from server.core.context import Context
from tests.bulletins.helpers import expected_q2_room_a, two_quarters


def line(data: dict[str, Any], level: str, id_: int) -> dict[str, Any]:
    [found] = [r for r in data["levels"][level] if r["id"] == id_]
    return found


def figures(line: dict[str, Any]) -> dict[str, Any]:
    keys = ("received", "resolution", "acceptance", "satisfaction", "sessions", "overdue")
    return {k: line[k] for k in keys}


ROOM_B_Q2 = {
    "received": 3,
    "resolution": {"resolved": 0, "rejected_or_merged": 0, "base": 3, "rate": 0.0},
    "acceptance": {
        "on_time": 2,
        "late": 0,
        "overdue_open": 1,
        "pending": 0,
        "base": 3,
        "rate": 0.6667,
    },
    "satisfaction": {
        "satisfied": 0,
        "basically_satisfied": 0,
        "unsatisfied": 0,
        "total": 0,
        "rate": None,
    },
    "sessions": 0,
    "overdue": {"deadlines": 1, "outcomes": 0, "total": 1},
}


async def test_figures_per_room_town_county_and_city(ctx: Context, clock: FakeClock) -> None:
    w = await two_quarters(ctx, clock)
    data = await actions.quarterly_bulletin(ctx, "2026-Q2")
    c = w.city
    assert data["quarter"] == "2026-Q2" and data["previous_quarter"] == "2026-Q1"
    assert data["provisional"] is False
    assert data["period"] == {
        "start": "2026-04-01T00:00:00+08:00",
        "end": "2026-07-01T00:00:00+08:00",
    }
    a = expected_q2_room_a()
    assert figures(line(data, "room", c.room.id)) == a
    assert figures(line(data, "room", c.other_room.id)) == ROOM_B_Q2
    # One room under each town and county: theirs are the room's.
    assert figures(line(data, "town", c.town.id)) == a
    assert figures(line(data, "county", c.county.id)) == a
    assert figures(line(data, "county", c.other_county.id)) == ROOM_B_Q2
    assert line(data, "county", c.other_county.id)["kind"] == "park"
    assert line(data, "room", c.room.id)["county"] == "清河区"
    assert line(data, "room", c.room.id)["town"] == "城南街道"
    city = data["city"]
    assert city["received"] == 8
    assert city["resolution"] == {"resolved": 1, "rejected_or_merged": 0, "base": 8, "rate": 0.125}
    assert city["acceptance"]["rate"] == 0.75
    assert (city["acceptance"]["on_time"], city["acceptance"]["late"]) == (6, 1)
    assert city["acceptance"]["overdue_open"] == 1
    assert city["satisfaction"]["total"] == 3
    assert city["sessions"] == 1
    assert city["overdue"] == {"deadlines": 4, "outcomes": 2, "total": 6}


async def test_previous_quarter_and_the_local_quarter_boundary(
    ctx: Context, clock: FakeClock
) -> None:
    """31 March 23:30 China time is Q1; 1 April 00:30 (still 31 March in UTC) is Q2. At
    the end of Q1 the late-night topic's accept stage is not yet due: pending, out of the
    rate."""
    w = await two_quarters(ctx, clock)
    data = await actions.quarterly_bulletin(ctx, "2026-Q1")
    a = line(data, "room", w.city.room.id)
    assert a["received"] == 3  # p1, p2 and b1; b2 is Q2's
    assert a["resolution"] == {"resolved": 0, "rejected_or_merged": 1, "base": 2, "rate": 0.0}
    assert a["acceptance"] == {
        "on_time": 2,
        "late": 0,
        "overdue_open": 0,
        "pending": 1,
        "base": 2,
        "rate": 1.0,
    }
    b = line(data, "room", w.city.other_room.id)
    assert b["resolution"] == {"resolved": 1, "rejected_or_merged": 0, "base": 3, "rate": 0.3333}
    assert b["overdue"]["total"] == 0 and a["overdue"]["total"] == 0
    assert data["city"]["sessions"] == 0


async def test_ranks_and_changes_from_the_previous_quarter(ctx: Context, clock: FakeClock) -> None:
    """Q1: room B (1/3 resolved) ranks above room A (0/2); Q2: A (1/5) above B (0/3)."""
    w = await two_quarters(ctx, clock)
    q1 = await actions.quarterly_bulletin(ctx, "2026-Q1")
    q2 = await actions.quarterly_bulletin(ctx, "2026-Q2")
    c = w.city
    pairs = {
        "room": (c.room.id, c.other_room.id),
        "county": (c.county.id, c.other_county.id),
    }
    for level, (a_id, b_id) in pairs.items():
        assert (line(q1, level, a_id)["rank"], line(q1, level, b_id)["rank"]) == (2, 1)
        assert (line(q2, level, a_id)["rank"], line(q2, level, b_id)["rank"]) == (1, 2)
        assert [r["id"] for r in q2["levels"][level]] == [a_id, b_id]
    a = line(q2, "room", c.room.id)["change"]
    assert a == {
        "received": 2,
        "resolution_rate": 0.2,
        "acceptance_rate": -0.2,
        "satisfaction_rate": None,  # no evaluations in Q1
        "sessions": 1,
        "overdue": 5,
        "rank": 1,  # up from 2nd to 1st
    }
    b = line(q2, "room", c.other_room.id)["change"]
    assert b["rank"] == -1 and b["received"] == 0
    assert b["resolution_rate"] == -0.3333
    assert q2["city"]["change"]["received"] == 2


async def test_actions_after_the_quarter_do_not_change_it(ctx: Context, clock: FakeClock) -> None:
    """Figures are as of the quarter's end: rating an outcome in Q3 counts for no one's Q2."""
    from server.outcomes import actions as outcomes

    w = await two_quarters(ctx, clock)
    before = await actions.quarterly_bulletin(ctx, "2026-Q2")
    await outcomes.rate_outcome(
        ctx, w.ids["h1_outcome"], score=1, verdict="unsatisfied", device_id="dev-z"
    )
    after = await actions.quarterly_bulletin(ctx, "2026-Q2")
    assert after == before
    q3 = await actions.quarterly_bulletin(ctx, "2026-Q3")
    assert q3["provisional"] is True
    assert q3["as_of"] == "2026-07-01T10:00:00+08:00"
    assert q3["city"]["received"] == 0 and q3["city"]["satisfaction"]["total"] == 0
