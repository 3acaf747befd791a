"""Quarters in local time, ranking with ties and unranked lines, and changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.bulletins.model import (
    Figures,
    InvalidQuarter,
    Quarter,
    changes,
    check_publishable,
    check_reason,
    rank,
)
from server.core.clock import LOCAL_TZ


def test_quarter_parse_and_bounds() -> None:
    q = Quarter.parse("2026-Q1")
    assert str(q) == "2026-Q1" and str(q.previous()) == "2025-Q4" and str(q.next()) == "2026-Q2"
    assert str(Quarter.parse("2026-Q4").next()) == "2027-Q1"
    assert q.start(LOCAL_TZ).isoformat() == "2026-01-01T00:00:00+08:00"
    assert q.end(LOCAL_TZ).isoformat() == "2026-04-01T00:00:00+08:00"
    assert q.first_day().isoformat() == "2026-01-01" and q.last_day().isoformat() == "2026-03-31"
    # 16:30 UTC on 31 March is 00:30 on 1 April in China: Q2.
    assert Quarter.of(datetime(2026, 3, 31, 16, 30, tzinfo=UTC), LOCAL_TZ) == Quarter(2026, 2)
    assert Quarter.of(datetime(2026, 3, 31, 15, 59, tzinfo=UTC), LOCAL_TZ) == Quarter(2026, 1)


@pytest.mark.parametrize(
    "text", ["2026-Q5", "2026-Q0", "2026Q1", "26-Q1", "2026-q1", " 2026-Q1", "", "1999-Q4", None, 3]
)
def test_malformed_quarters_are_refused(text: object) -> None:
    with pytest.raises(InvalidQuarter):
        Quarter.parse(text)


def test_a_quarter_is_publishable_from_its_first_instant_after() -> None:
    q = Quarter(2026, 1)
    with pytest.raises(InvalidQuarter, match="has not ended"):
        check_publishable(q, datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC), LOCAL_TZ)
    check_publishable(q, datetime(2026, 3, 31, 16, 0, tzinfo=UTC), LOCAL_TZ)


def test_reason_limits() -> None:
    assert check_reason("  更正数据  ") == "更正数据"
    for bad in ("", "短", "x" * 501):
        with pytest.raises(ValueError):
            check_reason(bad)


def f(received: int, resolved: int, sat: tuple[int, int, int] = (0, 0, 0), met: int = 0) -> Figures:
    return Figures(
        received=received,
        resolved=resolved,
        satisfied=sat[0],
        basically_satisfied=sat[1],
        unsatisfied=sat[2],
        accept_met=met,
        accept_late=received - met,
    )


def test_ranking_key_ties_and_unranked() -> None:
    ranks = rank(
        [
            (1, f(10, 5)),  # 0.5
            (2, f(4, 2)),  # 0.5, same key as 1 (no evaluations, no acceptance counted)
            (3, f(10, 5, (3, 0, 1))),  # 0.5, satisfaction 0.75: above 1 and 2
            (4, f(10, 9)),  # 0.9: first
            (5, f(2, 2)),  # too few topics: unranked
            (6, f(10, 5, (3, 0, 1), met=10)),  # as 3, and all accepted on time: above 3
            (7, f(10, 1)),
        ],
        min_topics=3,
    )
    assert ranks == {4: 1, 6: 2, 3: 3, 1: 4, 2: 4, 7: 6}


def test_exact_fractions_tie_where_floats_might_not() -> None:
    assert rank([(1, f(3, 1)), (2, f(9, 3)), (3, f(30, 10))]) == {1: 1, 2: 1, 3: 1}


def test_changes() -> None:
    now = {**f(5, 1).as_dict(), "rank": 1}
    before = {**f(3, 0).as_dict(), "rank": 4}
    c = changes(now, before)
    assert c is not None
    assert c["received"] == 2 and c["resolution_rate"] == 0.2 and c["rank"] == 3
    assert c["satisfaction_rate"] is None  # no evaluations either side
    assert changes(now, None) is None
    assert changes(now, {**before, "rank": None})["rank"] is None  # type: ignore[index]


def test_satisfaction_counts_come_with_the_rate() -> None:
    d = f(4, 1, (1, 1, 2)).as_dict()
    assert d["satisfaction"] == {
        "satisfied": 1,
        "basically_satisfied": 1,
        "unsatisfied": 2,
        "total": 4,
        "rate": 0.5,
    }
