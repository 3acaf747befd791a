"""Supervised deadlines (督办): working-day arithmetic and the policy per stage. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from enum import StrEnum

from server.core.calendar import WorkCalendar
from server.topics.model import TopicStatus


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
    PAUSED = "paused"  # the clock is stopped


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


class ExtensionStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"


class Outcome(StrEnum):
    """How a stage's deadline ended."""

    MET = "met"  # done by the deadline
    LATE = "late"  # done after it
    CANCELLED = "cancelled"  # no longer applies (sent elsewhere, merged, rejected)


@dataclass(frozen=True, slots=True)
class Plan:
    """What a move does to a topic's deadlines: stages done, dropped and started."""

    done: frozenset[Stage] = frozenset()
    cancel: frozenset[Stage] = frozenset()
    start: tuple[Stage, ...] = ()


_ALL = frozenset(Stage)
_HANDLING = frozenset({Stage.CONTACT, Stage.RESOLVE_INDIVIDUAL})
S = TopicStatus


def plan_for_move(current: TopicStatus | None, target: TopicStatus) -> Plan:
    """The deadline changes a move brings; ``current`` is None for a new topic.

    Accepting, rejecting or merging a new topic is the decision the accept stage asks
    for. Assigning to a town or department starts first contact and resolution for that
    unit; sending it back to a relay drops them. Escalation replaces the individual
    resolution deadline with the escalated one (contact still stands). Publishing a
    session's outcome (deliberated → implementing) ends the escalated stage: the outcome's
    due date supervises from there. Resolving ends resolution; a rejected or merged topic
    drops what is left. Reopening starts resolution again.
    """
    done: set[Stage] = set()
    if current is S.SUBMITTED:
        done.add(Stage.ACCEPT)
    if current is None:
        return Plan(start=(Stage.ACCEPT,))
    if target is S.ASSIGNED:
        return Plan(frozenset(done), _HANDLING, (Stage.CONTACT, Stage.RESOLVE_INDIVIDUAL))
    if target is S.DISPATCHED:
        return Plan(frozenset(done), _HANDLING)
    if target is S.ESCALATED:
        drop = frozenset({Stage.RESOLVE_INDIVIDUAL})
        return Plan(frozenset(done), drop, (Stage.RESOLVE_ESCALATED,))
    if current is S.DELIBERATED and target is S.IMPLEMENTING:
        # The session's outcome is published with its own due date, which supervises the
        # work from here (the outcome reminders): the escalated stage did its job.
        return Plan(frozenset({Stage.RESOLVE_ESCALATED}))
    if target is S.RESOLVED:
        done |= {Stage.RESOLVE_INDIVIDUAL, Stage.RESOLVE_ESCALATED}
        return Plan(frozenset(done), _ALL - done)
    if target in (S.REJECTED, S.MERGED):
        return Plan(frozenset(done), _ALL - done)
    if target is S.REOPENED:
        return Plan(start=(Stage.RESOLVE_INDIVIDUAL,))
    return Plan(frozenset(done))


def outcome(closed: datetime, due: datetime, *, paused: bool) -> Outcome:
    """Met or late; time on a pause never makes a stage late."""
    return Outcome.MET if paused or closed <= due else Outcome.LATE


def near_until(now: datetime, policy: Policy, calendar: WorkCalendar, tz: tzinfo) -> datetime:
    """Deadlines up to this moment are near (yellow): the same test as ``flag`` as a bound
    a query can use."""
    last = calendar.add_working_days(now.astimezone(tz).date(), policy.warn_days)
    return datetime.combine(last, time(23, 59, 59), tz)


def make_policy(days: Mapping[str, int], warn_days: int) -> Policy:
    """The policy from settings (``MASHANGYI_DEADLINE_DAYS``); stages left out keep their
    defaults. Raises ValueError naming an unknown stage."""
    merged = dict(Policy().days)
    for name, value in days.items():
        try:
            merged[Stage(name)] = value
        except ValueError:
            known = ", ".join(Stage)
            raise ValueError(f"unknown stage {name!r} (known: {known})") from None
    return Policy(merged, warn_days)
