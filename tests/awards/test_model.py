"""The pure rules: years, sizes, scores, composite formulas, ranking and the cut."""

from __future__ import annotations

import pytest

from server.awards.model import (
    Invalid,
    Scored,
    case_score,
    check_score,
    check_sizes,
    check_year,
    cut,
    ranking,
    resident_score,
    room_score,
)


def test_years_and_sizes() -> None:
    assert check_year(2026, 2026) == 2026 and check_year("2025", 2026) == 2025
    for bad in (2027, 1999, "26", True, 2026.0):
        with pytest.raises(Invalid):
            check_year(bad, 2026)
    assert check_sizes(100, 10) == (100, 10)
    with pytest.raises(Invalid) as refused:
        check_sizes(0, 1001)
    assert set(refused.value.fields) == {"excellent", "best"}
    for bad in (-1, 101, 1.5, "5", False):
        with pytest.raises(Invalid):
            check_score(bad)
    assert check_score(0) == 0 and check_score(100) == 100


def test_composite_formulas() -> None:
    assert room_score(12, 1.0, 1.0) == 100 and room_score(24, 1.0, 1.0) == 100
    assert room_score(3, 0.5, None) == 25.0  # 40 × 3/12 + 30 × 0.5
    assert case_score(0.75, 50) == 65.0  # 60 × 0.75 + 40 × 0.5
    assert case_score(None, 100) == 40.0
    assert resident_score(5, 5, 5) == 100 and resident_score(1, 1, 1) == 20.0


def test_ranking_breaks_ties_by_the_figures_then_the_earlier_candidate() -> None:
    items = [
        Scored(1, (80,), 10.0),
        Scored(2, (70, 90), 30.0),  # mean 80, better figures
        Scored(3, (), 99.0),  # unscored: last
        Scored(4, (80,), 10.0),  # same as 1: the earlier candidate first
        Scored(5, (95,), 0.0),
    ]
    assert [s.candidate_id for s in ranking(items)] == [5, 2, 1, 4, 3]
    placed = cut(items, 3, 1)
    assert [(p.candidate_id, p.rank, p.best) for p in placed] == [
        (5, 1, True),
        (2, 2, False),
        (1, 3, False),
    ]
    # Fewer scored candidates than the cut: only those.
    assert [p.candidate_id for p in cut(items[:3], 100, 10)] == [2, 1]
