"""Pure rules of the awards feature (十佳百优): kinds, states, the composite scores that
propose candidates from a year's figures, the review's ranking and the published cut.

Standard library only: docs/awards.md states the same formulas, and the tests check them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class AwardKind(StrEnum):
    ROOM = "room"  # 优秀议事室
    RESIDENT = "resident"  # 优秀居民
    CASE = "case"  # 优秀案例


class RoundStatus(StrEnum):
    OPEN = "open"  # candidates, nominations and scores are taken
    CLOSED = "closed"  # the review is closed: scores are final
    PUBLISHED = "published"  # the list is public; corrections only as new versions


class CandidateSource(StrEnum):
    FIGURES = "figures"  # proposed from the year's figures
    NOMINATION = "nomination"  # an accepted nomination


class NominationSource(StrEnum):
    SELF = "self"  # a resident nominating themselves (public form)
    ORGANISATION = "organisation"  # staff on behalf of an organisation


class NominationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"  # became a candidate
    DECLINED = "declined"  # with a reason


# The year's sizes unless the administrator opening it says otherwise (tests use 3 + 1).
EXCELLENT = 100  # 百优
BEST = 10  # 十佳
SIZE_LIMITS = (1, 1000)
# Candidates proposed from the figures per kind: the best POOL_FACTOR × excellent by
# composite score, so reviewers score a list that can fill the cut, not every room.
POOL_FACTOR = 2
SCORE_LIMITS = (0, 100)
REASONS_LIMITS = (10, 1000)
ORGANISATION_LIMITS = (2, 60)
NAME_LIMITS = (1, 30)
REASON_LIMITS = (4, 500)
FIRST_YEAR = 2000


class Invalid(Exception):
    """Field errors: keys are form field names."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def check_year(value: object, current: int) -> int:
    """A calendar year from FIRST_YEAR to ``current`` (local); Invalid otherwise. A year
    that has not started has no figures."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid({"year": "A year such as 2026."})
    if not FIRST_YEAR <= value <= current:
        raise Invalid({"year": f"A year from {FIRST_YEAR} to {current}."})
    return value


def check_sizes(excellent: object, best: object) -> tuple[int, int]:
    """How many are named excellent (百优) and best (十佳) per kind."""
    errors: dict[str, str] = {}
    lo, hi = SIZE_LIMITS
    values: list[int] = []
    for name, value in (("excellent", excellent), ("best", best)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            errors[name] = f"A whole number from {lo} to {hi}."
        else:
            values.append(value)
    if not errors and values[1] > values[0]:
        errors["best"] = "The best are chosen among the excellent: at most as many."
    if errors:
        raise Invalid(errors)
    return values[0], values[1]


def check_score(value: object) -> int:
    lo, hi = SCORE_LIMITS
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Invalid({"score": f"A whole number from {lo} to {hi}."})
    return value


def check_text(field: str, value: object, limits: tuple[int, int], errors: dict[str, str]) -> str:
    if not isinstance(value, str):
        errors[field] = "Must be text."
        return ""
    text = value.strip()
    lo, hi = limits
    if len(text) < lo:
        errors[field] = "Required." if not text else f"At least {lo} characters."
    elif len(text) > hi:
        errors[field] = f"At most {hi} characters."
    return text


def check_reason(value: object) -> str:
    errors: dict[str, str] = {}
    text = check_text("reason", value, REASON_LIMITS, errors)
    if errors:
        raise Invalid(errors)
    return text


# --- composite scores ---------------------------------------------------------------------------

SESSIONS_CAP = 12  # a session a month earns the full sessions share
RESIDENT_CAP = 5  # five accepted topics, sign-ups or check-ins earn each full share


def _share(value: int, cap: int) -> float:
    return min(value, cap) / cap


def room_score(sessions: int, resolution: float | None, satisfaction: float | None) -> float:
    """40 × min(sessions, 12)/12 + 30 × resolution rate + 30 × satisfaction rate (0-100);
    a rate with nothing to measure counts 0."""
    return round(
        40 * _share(sessions, SESSIONS_CAP) + 30 * (resolution or 0) + 30 * (satisfaction or 0), 2
    )


def case_score(satisfaction: float | None, percent: int) -> float:
    """60 × satisfaction rate + 40 × completion (percent / 100) (0-100)."""
    return round(60 * (satisfaction or 0) + 40 * min(max(percent, 0), 100) / 100, 2)


def resident_score(accepted: int, signed_up: int, checked_in: int) -> float:
    """50 × min(accepted topics, 5)/5 + 20 × min(sign-ups, 5)/5 + 30 × min(check-ins, 5)/5."""
    return round(
        50 * _share(accepted, RESIDENT_CAP)
        + 20 * _share(signed_up, RESIDENT_CAP)
        + 30 * _share(checked_in, RESIDENT_CAP),
        2,
    )


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- the review ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate as the ranking sees it."""

    candidate_id: int
    scores: tuple[int, ...]
    composite: float

    @property
    def mean(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None


def ranking(candidates: Sequence[Scored]) -> list[Scored]:
    """Best first: the mean reviewer score, then the composite score from the figures,
    then the earlier candidate (lower id). Unscored candidates come last."""
    return sorted(
        candidates,
        key=lambda c: (c.mean is None, -(c.mean or 0.0), -c.composite, c.candidate_id),
    )


@dataclass(frozen=True, slots=True)
class Placed:
    candidate_id: int
    rank: int
    best: bool
    mean: float


def cut(candidates: Sequence[Scored], excellent: int, best: int) -> list[Placed]:
    """The first ``excellent`` of the ranking (百优), the first ``best`` of them marked (十佳);
    fewer when there are fewer scored candidates."""
    placed = []
    for i, c in enumerate(x for x in ranking(candidates) if x.mean is not None):
        if i >= excellent:
            break
        placed.append(Placed(c.candidate_id, i + 1, i < best, round(c.mean or 0.0, 2)))
    return placed
