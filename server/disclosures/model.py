"""Pure rules of monthly disclosures (月公示): months, what a month includes, what its
public text may say.

Standard library only. A month is local (China time): February's disclosure covers
2026-02-01 00:00 to 2026-03-01 00:00 Asia/Shanghai, and may be published from the first
instant of March.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
REASON_LIMITS = (4, 500)
SCHEMA = 1  # the snapshot's layout; pages read every layout ever published

# Statuses whose move into them, during the month, means the topic was dispatched or
# handled (派单、办理) that month. Submission, acceptance, and a rejection or merge
# straight from intake are the intake desk's work and are left out.
HANDLED_STATES = frozenset(
    {
        "dispatched",
        "assigned",
        "handling",
        "escalated",
        "scheduled",
        "deliberated",
        "implementing",
        "resolved",
        "reopened",
    }
)
INTAKE_STATES = frozenset({"submitted", "accepted"})
FINISHED_STATES = frozenset({"resolved", "rejected", "merged"})
# Records that are not moves but are work on the topic, shown on its public timeline.
HANDLING_RECORDS = frozenset({"contact", "progress", "pause", "resume"})


class InvalidMonth(ValueError):
    """A month that is not YYYY-MM, or one that cannot be published yet."""


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM`` (2000-01 to 2999-12); raises InvalidMonth."""
        found = MONTH_RE.match(text.strip()) if isinstance(text, str) else None
        if found is None:
            raise InvalidMonth(f"{text!r} is not a month: write it as YYYY-MM, e.g. 2026-02.")
        year, month = int(found.group(1)), int(found.group(2))
        if not 1 <= month <= 12 or not 2000 <= year <= 2999:
            raise InvalidMonth(f"{text!r} is not a month: write it as YYYY-MM, e.g. 2026-02.")
        return cls(year, month)

    @classmethod
    def of(cls, moment: datetime, tz: tzinfo) -> Month:
        """The local month ``moment`` falls in."""
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def last_day(self) -> date:
        return date.fromordinal(self.next().first_day().toordinal() - 1)

    def start(self, tz: tzinfo) -> datetime:
        """The month's first local instant (aware)."""
        return datetime(self.year, self.month, 1, tzinfo=tz)

    def end(self, tz: tzinfo) -> datetime:
        """The first local instant after the month (exclusive end)."""
        return self.next().start(tz)


def check_publishable(month: Month, now: datetime, tz: tzinfo) -> None:
    """Only a month that has ended may be published: raises InvalidMonth for the current
    month or a future one."""
    if now < month.end(tz):
        current = Month.of(now, tz)
        when = "the current month" if month == current else "a future month"
        raise InvalidMonth(
            f"{month} is {when}: a month is published once it has ended "
            f"(from {month.end(tz):%Y-%m-%d %H:%M} local time)."
        )


def check_reason(reason: str) -> str:
    """A new version's reason, trimmed; raises ValueError saying what is wanted."""
    text = reason.strip()
    lo, hi = REASON_LIMITS
    if not lo <= len(text) <= hi:
        raise ValueError(f"Say why a new version is published ({lo} to {hi} characters).")
    return text


def qualifies(kind: str, from_status: str | None, to_status: str) -> bool:
    """Does this public event, inside the month, put its topic in the month's disclosure?

    A move into a handled state does (dispatched, assigned, handling, escalated,
    scheduled, deliberated, implementing, resolved, reopened); so does a rejection or
    merge of a topic that had left intake, and a contact, progress, pause or resume
    record. Submission and acceptance, and rejecting or merging at intake, do not."""
    if kind != "move":
        return kind in HANDLING_RECORDS
    if to_status in HANDLED_STATES:
        return True
    return from_status is not None and from_status not in INTAKE_STATES


# --- public text ---------------------------------------------------------------------------

PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
DIGITS_RE = re.compile(r"\d{4}")
LANDLINE_RE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?(\d{7,8})(?!\d)")


def redact(text: str, names: tuple[str, ...] = ()) -> str:
    """Public text with phone numbers masked (138****1234) and the given personal names
    replaced by their first character and stars. Staff type notes freely and residents
    type titles; a disclosure is read aloud and posted, so it never carries either."""
    if not text:
        return text
    out = text
    if DIGITS_RE.search(out):  # most notes carry no number at all: skip the two scans
        out = PHONE_RE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", out)
        out = LANDLINE_RE.sub(lambda m: f"{m.group(1)}****{m.group(2)[-2:]}", out)
    for name in names:
        name = name.strip()
        if len(name) >= 2 and name in out:
            out = out.replace(name, name[0] + "*" * (len(name) - 1))
    return out


def public_note(kind: str, note: str) -> str:
    """What the public timeline says of an event: a contact record shows only how the
    resident was reached (the rest of its note stays with the staff)."""
    if kind == "contact":
        return note.split(":", 1)[0].strip()
    return note


def summary(topics: list[dict[str, Any]], sessions: int) -> dict[str, int]:
    """The month's counts for one region, from its topics' snapshot entries."""
    happened: list[set[str]] = [set(t["in_month"]) for t in topics]
    outcomes: list[dict[str, Any]] = [t["outcome"] for t in topics if t["outcome"]]
    return {
        "topics": len(topics),
        "dispatched": sum(1 for h in happened if h & {"dispatched", "assigned"}),
        "escalated": sum(1 for h in happened if "escalated" in h),
        "deliberated": sum(1 for h in happened if "deliberated" in h),
        "resolved": sum(1 for h in happened if "resolved" in h),
        "reopened": sum(1 for h in happened if "reopened" in h),
        "petition_resolved": sum(
            1
            for t, h in zip(topics, happened, strict=True)
            if "resolved" in h and t["category"] == "petition"
        ),
        "in_progress": sum(1 for t in topics if t["status"] not in FINISHED_STATES),
        "outcomes": len(outcomes),
        "overdue": sum(1 for o in outcomes if o["flag"] == "overdue"),
        "sessions": sessions,
    }
