"""Pure rules of the quarterly bulletin (季通报): quarters, the figures, rankings and the
changes from the previous quarter.

Standard library only. Every figure's definition is in docs/bulletins.md; the
functions here are the ones the tests check. A quarter is local (China time): 2026-Q1
covers 2026-01-01 00:00 to 2026-04-01 00:00 Asia/Shanghai, and may be published from
the first instant of April.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from fractions import Fraction
from typing import Any

QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
REASON_LIMITS = (4, 500)
SCHEMA = 1  # the snapshot's layout
# A region or room with fewer topics received in the quarter is shown unranked, after
# the ranked ones: a rate over one or two topics says little.
MIN_TOPICS = 3
LEVELS = ("county", "town", "room")


class InvalidQuarter(ValueError):
    """A quarter that is not YYYY-Qn, or one that cannot be published yet."""


@dataclass(frozen=True, slots=True, order=True)
class Quarter:
    year: int
    q: int

    @classmethod
    def parse(cls, text: object) -> Quarter:
        """``YYYY-Qn`` (2000-Q1 to 2999-Q4); raises InvalidQuarter."""
        found = QUARTER_RE.match(text) if isinstance(text, str) else None
        if found is None or not 2000 <= int(found.group(1)) <= 2999:
            raise InvalidQuarter(f"{text!r} is not a quarter: write it as YYYY-Qn, e.g. 2026-Q1.")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, moment: datetime, tz: tzinfo) -> Quarter:
        """The local quarter ``moment`` falls in."""
        local = moment.astimezone(tz)
        return cls(local.year, (local.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-Q{self.q}"

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.q == 1 else Quarter(self.year, self.q - 1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.q == 4 else Quarter(self.year, self.q + 1)

    def first_day(self) -> date:
        return date(self.year, 3 * self.q - 2, 1)

    def last_day(self) -> date:
        return self.next().first_day() - timedelta(days=1)

    def start(self, tz: tzinfo) -> datetime:
        return datetime.combine(self.first_day(), time(0), tz)

    def end(self, tz: tzinfo) -> datetime:
        """The first instant after the quarter (exclusive)."""
        return self.next().start(tz)


def check_publishable(quarter: Quarter, now: datetime, tz: tzinfo) -> None:
    """A quarter may be published once it has ended, local time; raises InvalidQuarter."""
    if now < quarter.end(tz):
        raise InvalidQuarter(
            f"{quarter} has not ended yet: it can be published from "
            f"{quarter.end(tz).date().isoformat()} (China time)."
        )


def check_reason(text: str) -> str:
    value = text.strip()
    lo, hi = REASON_LIMITS
    if not lo <= len(value) <= hi:
        raise ValueError(f"Give a reason of {lo} to {hi} characters for the new version.")
    return value


# --- figures ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Figures:
    """The counts behind one region's or room's bulletin line. Rates are derived."""

    received: int = 0  # topics created in the quarter
    closed_out: int = 0  # of those, rejected or merged by the quarter's end
    resolved: int = 0  # of those, resolved at the quarter's end
    accept_met: int = 0
    accept_late: int = 0
    accept_overdue: int = 0  # still open at the end, past due
    accept_pending: int = 0  # still open at the end, not yet due: not in the rate
    satisfied: int = 0
    basically_satisfied: int = 0
    unsatisfied: int = 0
    sessions: int = 0
    overdue_deadlines: int = 0
    overdue_outcomes: int = 0

    def add(self, other: Figures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def resolvable(self) -> int:
        return self.received - self.closed_out

    @property
    def overdue(self) -> int:
        return self.overdue_deadlines + self.overdue_outcomes

    def on_time(self) -> Fraction | None:
        """Accept-stage deadlines met / (met + late + still open past due)."""
        return _ratio(self.accept_met, self.accept_met + self.accept_late + self.accept_overdue)

    def resolution(self) -> Fraction | None:
        """Resolved at the end / received, less those rejected or merged."""
        return _ratio(self.resolved, self.resolvable)

    def satisfaction(self) -> Fraction | None:
        """(satisfied + basically satisfied) / all evaluations, as outcomes.model does."""
        total = self.satisfied + self.basically_satisfied + self.unsatisfied
        return _ratio(self.satisfied + self.basically_satisfied, total)

    def as_dict(self) -> dict[str, Any]:
        total = self.satisfied + self.basically_satisfied + self.unsatisfied
        return {
            "received": self.received,
            "resolution": {
                "resolved": self.resolved,
                "rejected_or_merged": self.closed_out,
                "base": self.resolvable,
                "rate": _round(self.resolution()),
            },
            "acceptance": {
                "on_time": self.accept_met,
                "late": self.accept_late,
                "overdue_open": self.accept_overdue,
                "pending": self.accept_pending,
                "base": self.accept_met + self.accept_late + self.accept_overdue,
                "rate": _round(self.on_time()),
            },
            "satisfaction": {
                "satisfied": self.satisfied,
                "basically_satisfied": self.basically_satisfied,
                "unsatisfied": self.unsatisfied,
                "total": total,
                "rate": _round(self.satisfaction()),
            },
            "sessions": self.sessions,
            "overdue": {
                "deadlines": self.overdue_deadlines,
                "outcomes": self.overdue_outcomes,
                "total": self.overdue,
            },
        }


def _ratio(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def _round(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 4)


def rank_key(f: Figures) -> tuple[Fraction, Fraction, Fraction]:
    """Higher is better: resolution rate, then satisfaction rate, then on-time acceptance.
    A rate with nothing to measure (no evaluations, say) sorts below every real rate."""
    return (_or_floor(f.resolution()), _or_floor(f.satisfaction()), _or_floor(f.on_time()))


def _or_floor(value: Fraction | None) -> Fraction:
    return Fraction(-1) if value is None else value


def rank(entries: Sequence[tuple[int, Figures]], min_topics: int = MIN_TOPICS) -> dict[int, int]:
    """Competition ranks ("1, 2, 2, 4") of the entries with at least ``min_topics``
    received, by ``rank_key``: equal keys share a rank. Entries with fewer are absent
    (unranked)."""
    ranked = sorted(
        ((rank_key(f), key) for key, f in entries if f.received >= min_topics),
        key=lambda item: item[0],
        reverse=True,
    )
    ranks: dict[int, int] = {}
    previous: tuple[Fraction, Fraction, Fraction] | None = None
    current = 0
    for position, (k, key) in enumerate(ranked, start=1):
        if k != previous:
            current, previous = position, k
        ranks[key] = current
    return ranks


DELTA_FIELDS = ("received", "resolution", "acceptance", "satisfaction", "sessions", "overdue")


def changes(now: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any] | None:
    """Each figure's change from the previous quarter (rates in fractions, e.g. 0.05 is
    five percentage points) and the rank's (positive: moved up). None without a
    previous line; a rate or rank missing on either side changes by None."""
    if before is None:
        return None

    def diff(a: object, b: object) -> float | int | None:
        if not isinstance(a, int | float) or not isinstance(b, int | float):
            return None
        value = a - b
        return round(value, 4) if isinstance(value, float) else value

    return {
        "received": diff(now["received"], before["received"]),
        "resolution_rate": diff(now["resolution"]["rate"], before["resolution"]["rate"]),
        "acceptance_rate": diff(now["acceptance"]["rate"], before["acceptance"]["rate"]),
        "satisfaction_rate": diff(now["satisfaction"]["rate"], before["satisfaction"]["rate"]),
        "sessions": diff(now["sessions"], before["sessions"]),
        "overdue": diff(now["overdue"]["total"], before["overdue"]["total"]),
        # Rank 5 -> 2 is +3: up three places.
        "rank": diff(before.get("rank"), now.get("rank")),
    }


# --- the region tree -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegionRow:
    id: int
    level: str
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class RoomRow:
    id: int
    name: str
    region_path: str


@dataclass(slots=True)
class Tally:
    """Figures per room, filled from the grouped queries, then rolled up the tree."""

    rooms: dict[int, Figures] = field(default_factory=dict)

    def of(self, room_id: int) -> Figures:
        found = self.rooms.get(room_id)
        if found is None:
            found = self.rooms[room_id] = Figures()
        return found


def path_ids(path: str) -> list[int]:
    """ "/1/4/17/" -> [1, 4, 17]: city, county or park, town, community."""
    return [int(part) for part in path.strip("/").split("/") if part]


@dataclass(frozen=True, slots=True)
class Lines:
    """The bulletin's lines per level, each ``{"id", "name", ...figures}``, plus the city."""

    city: dict[str, Any]
    levels: dict[str, list[dict[str, Any]]]


def roll_up(regions: Iterable[RegionRow], rooms: Iterable[RoomRow], tally: Tally) -> Lines:
    """Each room's figures, and each county's (or park's) and town's as the sum of the
    rooms under it, ranked within their level (ranked lines first, by rank then name;
    then the unranked by name)."""
    by_id = {r.id: r for r in regions}
    counties: dict[int, Figures] = {}
    towns: dict[int, Figures] = {}
    city = Figures()
    room_lines: list[tuple[int, dict[str, Any], Figures]] = []
    for r in by_id.values():
        if r.level in ("county", "park"):
            counties[r.id] = Figures()
        elif r.level == "town":
            towns[r.id] = Figures()
    for room in rooms:
        f = tally.rooms.get(room.id) or Figures()
        ids = path_ids(room.region_path)
        county = by_id.get(ids[1]) if len(ids) > 1 else None
        town = by_id.get(ids[2]) if len(ids) > 2 else None
        if county is not None:
            counties[county.id].add(f)
        if town is not None:
            towns[town.id].add(f)
        city.add(f)
        room_lines.append(
            (
                room.id,
                {
                    "id": room.id,
                    "name": room.name,
                    "county": county.name if county else None,
                    "town": town.name if town else None,
                    "county_id": county.id if county else None,
                    "town_id": town.id if town else None,
                },
                f,
            )
        )
    county_lines = [
        (rid, {"id": rid, "name": by_id[rid].name, "kind": by_id[rid].level}, f)
        for rid, f in counties.items()
    ]
    town_lines = []
    for rid, f in towns.items():
        ids = path_ids(by_id[rid].path)
        county = by_id.get(ids[1]) if len(ids) > 1 else None
        town_lines.append(
            (
                rid,
                {
                    "id": rid,
                    "name": by_id[rid].name,
                    "county": county.name if county else None,
                    "county_id": county.id if county else None,
                },
                f,
            )
        )
    levels = {
        "county": _ranked(county_lines),
        "town": _ranked(town_lines),
        "room": _ranked(room_lines),
    }
    return Lines({"name": "", **city.as_dict()}, levels)


def _ranked(lines: list[tuple[int, dict[str, Any], Figures]]) -> list[dict[str, Any]]:
    ranks = rank([(key, f) for key, _, f in lines])
    out = [{**head, **f.as_dict(), "rank": ranks.get(key)} for key, head, f in lines]
    out.sort(key=lambda x: (x["rank"] is None, x["rank"] or 0, x["name"], x["id"]))
    return out


def with_changes(lines: Lines, previous: Lines | None) -> dict[str, list[dict[str, Any]]]:
    """Each line with ``change`` against the same region's or room's line last quarter."""
    out: dict[str, list[dict[str, Any]]] = {}
    for level, rows in lines.levels.items():
        before = {r["id"]: r for r in previous.levels.get(level, [])} if previous else {}
        out[level] = [{**r, "change": changes(r, before.get(r["id"]))} for r in rows]
    return out
