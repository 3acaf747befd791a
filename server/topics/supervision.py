"""Supervised deadlines (督办): working-day arithmetic and the policy per stage. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from server.topics.model import TopicStatus


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Monday to Friday, less public holidays, plus the weekend days worked instead
    (调休), as the State Council publishes them each year."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (start itself does not count)."""
        if days < 0:
            raise ValueError("days must not be negative")
        day, left = start, days
        while left:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    @classmethod
    def parse(cls, holidays: Iterable[str] = (), workdays: Iterable[str] = ()) -> WorkCalendar:
        """From ISO dates, e.g. the ``MASHANGYI_HOLIDAYS`` list."""
        return cls(
            frozenset(date.fromisoformat(d) for d in holidays),
            frozenset(date.fromisoformat(d) for d in workdays),
        )


class Stage(StrEnum):
    ACCEPT = "accept"  # submitted -> accepted
    CONTACT = "contact"  # assigned -> first contact with the resident
    RESOLVE_INDIVIDUAL = "resolve_individual"  # assigned -> resolved
    RESOLVE_ESCALATED = "resolve_escalated"  # escalated -> resolved


# The state a stage's clock starts in: its deadline runs from entering that state.
STAGE_STARTS = {
    Stage.ACCEPT: TopicStatus.SUBMITTED,
    Stage.CONTACT: TopicStatus.ASSIGNED,
    Stage.RESOLVE_INDIVIDUAL: TopicStatus.ASSIGNED,
    Stage.RESOLVE_ESCALATED: TopicStatus.ESCALATED,
}


@dataclass(frozen=True, slots=True)
class Policy:
    """Working days allowed per stage, and how early a deadline turns yellow."""

    days: dict[Stage, int] = field(
        default_factory=lambda: {
            Stage.ACCEPT: 1,
            Stage.CONTACT: 3,
            Stage.RESOLVE_INDIVIDUAL: 15,
            Stage.RESOLVE_ESCALATED: 30,
        }
    )
    warn_days: int = 1


class Flag(StrEnum):
    OK = "ok"
    NEAR = "near"  # yellow
    OVERDUE = "overdue"  # red


def due_at(
    started: datetime,
    stage: Stage,
    policy: Policy,
    calendar: WorkCalendar,
    tz: tzinfo,
    *,
    paused_days: int = 0,
    extension_days: int = 0,
) -> datetime:
    """When the stage must be done: the end of the last allowed working day, local time.

    Pauses (waiting on the resident, say) and approved extensions add working days.
    """
    start = started.astimezone(tz).date()
    days = policy.days[stage] + paused_days + extension_days
    last = calendar.add_working_days(start, days)
    return datetime.combine(last, time(23, 59, 59), tz)


def flag(now: datetime, due: datetime, policy: Policy, calendar: WorkCalendar, tz: tzinfo) -> Flag:
    if now > due:
        return Flag.OVERDUE
    left = calendar.working_days_between(now.astimezone(tz).date(), due.astimezone(tz).date())
    return Flag.NEAR if left <= policy.warn_days else Flag.OK
