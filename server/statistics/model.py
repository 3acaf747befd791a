"""Pure rules of the statistics feature: months, subtree roll-ups, Open311 parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo

TREND_MONTHS = 12
DEFAULT_REQUEST_DAYS = 90  # Open311: without dates, the last 90 days
MAX_PAGE_SIZE = 1000  # Open311's usual cap on one answer
OPEN_DATA_PAGE_SIZE = 100
OPEN_DATA_MAX_PAGE_SIZE = 500

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_OFFSET_LOST = re.compile(r" (\d{2}(?::?\d{2})?)$")


def month_starts(today: date, months: int = TREND_MONTHS) -> list[date]:
    """The first days of the last ``months`` months up to ``today``'s, and of the next
    one: ``months + 1`` dates bounding ``months`` intervals."""
    year, month = today.year, today.month
    starts: list[date] = []
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    starts.reverse()
    nxt = today.replace(day=1) + timedelta(days=32)
    starts.append(nxt.replace(day=1))
    return starts


def month_bounds(today: date, tz: tzinfo, months: int = TREND_MONTHS) -> list[datetime]:
    """The local month starts of :func:`month_starts` as aware instants."""
    return [datetime(d.year, d.month, 1, tzinfo=tz) for d in month_starts(today, months)]


def path_ids(path: str) -> list[int]:
    """ "/1/4/17/" → [1, 4, 17]."""
    return [int(part) for part in path.strip("/").split("/") if part]


def child_of(scope_path: str | None, path: str) -> int | None:
    """The id of the child of the scope (None: the roots) whose subtree holds ``path``;
    None for the scope itself or a path outside it."""
    prefix = scope_path or "/"
    if not path.startswith(prefix):
        return None
    rest = path_ids(path[len(prefix) - 1 :]) if prefix != "/" else path_ids(path)
    return rest[0] if rest else None


def roll_up(
    paths: dict[int, str], values: Iterable[tuple[int, Sequence[int]]], width: int
) -> dict[int, list[int]]:
    """Sum each region's own ``values`` into every region above it (and itself).

    ``paths``: region id → path; ``values``: (region id, numbers of length ``width``)."""
    totals: dict[int, list[int]] = {}
    for region_id, numbers in values:
        path = paths.get(region_id)
        if path is None:
            continue
        for ancestor in path_ids(path):
            acc = totals.setdefault(ancestor, [0] * width)
            for i in range(width):
                acc[i] += numbers[i]
    return totals


def parse_w3c(value: str, tz: tzinfo) -> datetime:
    """A W3C date or datetime ("2026-03-01", "2026-03-01T08:00:00+08:00", "...Z"); one
    without an offset is local time. A "+" decoded to a space in a query is put back.
    Raises ValueError."""
    text = _OFFSET_LOST.sub(r"+\1", value.strip())
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def mask_phones(text: str) -> str:
    """Mobile numbers typed into public text shown as 138****1234 (PIPL)."""
    return _MOBILE.sub(r"\1****\2", text)
