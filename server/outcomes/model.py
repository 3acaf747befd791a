"""Pure rules for outcomes (协商结果), minutes, progress and public evaluation (评题).

Standard library only: the numbers the disclosures, bulletins and dashboard show are
computed by the same functions the tests check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class MinutesStatus(StrEnum):
    DRAFT = "draft"  # drafted from the session's log when it ended; the host edits it
    PUBLISHED = "published"  # published with the session's outcomes; read-only since


class OutcomeStatus(StrEnum):
    DRAFT = "draft"  # written with the minutes, not yet public
    PUBLISHED = "published"  # public: progress is tracked and the public may rate it


class OutcomeSource(StrEnum):
    DELIBERATION = "deliberation"  # decided in a live session (a key topic)
    HANDLER = "handler"  # a one-person topic resolved by its handler


class Verdict(StrEnum):
    """The public's judgement of an outcome (满意度)."""

    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


class Flag(StrEnum):
    """How an unfinished outcome stands against its due date, like a dispatch deadline."""

    OK = "ok"
    NEAR = "near"  # yellow: due within NEAR_DAYS
    OVERDUE = "overdue"  # red: past due and not complete
    DONE = "done"  # 100 % complete


NEAR_DAYS = 3
DECISION_LIMITS = (4, 2000)
LEAD_MAX = 60
NOTE_LIMITS = (2, 1000)
COMMENT_MAX = 300
MINUTES_TEXT_MAX = 20000
MAX_PHOTOS = 6


def outcome_flag(due_on: date, percent: int, today: date) -> Flag:
    """The outcome's deadline flag on ``today`` (local date)."""
    if percent >= 100:
        return Flag.DONE
    if today > due_on:
        return Flag.OVERDUE
    if (due_on - today).days <= NEAR_DAYS:
        return Flag.NEAR
    return Flag.OK


class Invalid(Exception):
    """Field errors: keys are form field names."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def check_text(field: str, value: str, limits: tuple[int, int], errors: dict[str, str]) -> str:
    value = value.strip()
    lo, hi = limits
    if len(value) < lo:
        errors[field] = "Required." if not value else f"At least {lo} characters."
    elif len(value) > hi:
        errors[field] = f"At most {hi} characters."
    return value


@dataclass(frozen=True, slots=True)
class OutcomeFields:
    """What the host writes for one agenda topic: the decision, who carries it out, by when."""

    decision: str
    unit_id: int | None
    lead: str
    due_on: date | None


def clean_outcome(fields: OutcomeFields, today: date) -> OutcomeFields:
    """The fields trimmed and checked; raises Invalid. A due date may not lie in the past."""
    errors: dict[str, str] = {}
    decision = check_text("decision", fields.decision, DECISION_LIMITS, errors)
    lead = check_text("lead", fields.lead, (0, LEAD_MAX), errors)
    if fields.unit_id is None:
        errors["unit_id"] = "Choose the responsible unit."
    if fields.due_on is None:
        errors["due_on"] = "Required."
    elif fields.due_on < today:
        errors["due_on"] = "The due date has passed."
    if errors:
        raise Invalid(errors)
    return OutcomeFields(decision, fields.unit_id, lead, fields.due_on)


def check_progress(percent: object, note: str, last_percent: int) -> tuple[int, str]:
    """A progress update's percent (whole, 0-100, not below the last one) and its note."""
    errors: dict[str, str] = {}
    text = check_text("note", note, NOTE_LIMITS, errors)
    value = -1
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        errors["percent"] = "A whole number from 0 to 100."
    elif percent < last_percent:
        errors["percent"] = f"Progress cannot go back below {last_percent} %."
    else:
        value = percent
    if errors:
        raise Invalid(errors)
    return value, text


def check_evaluation(score: object, verdict: object, comment: object) -> tuple[int, Verdict, str]:
    """A rating: score 1-5, a verdict, an optional comment of at most COMMENT_MAX chars."""
    errors: dict[str, str] = {}
    value = 0
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        errors["score"] = "A whole number from 1 to 5."
    else:
        value = score
    try:
        choice = Verdict(str(verdict))
    except ValueError:
        errors["verdict"] = "Choose satisfied, basically satisfied or unsatisfied."
        choice = Verdict.UNSATISFIED
    text = comment.strip() if isinstance(comment, str) else ""
    if comment is not None and not isinstance(comment, str):
        errors["comment"] = "Text."
    elif len(text) > COMMENT_MAX:
        errors["comment"] = f"At most {COMMENT_MAX} characters."
    if errors:
        raise Invalid(errors)
    return value, choice, text


@dataclass(frozen=True, slots=True)
class Satisfaction:
    """Counts behind a satisfaction rate, always shown together (no single number hides
    the rest)."""

    satisfied: int = 0
    basically_satisfied: int = 0
    unsatisfied: int = 0

    @property
    def total(self) -> int:
        return self.satisfied + self.basically_satisfied + self.unsatisfied

    @property
    def rate(self) -> float | None:
        """(satisfied + basically satisfied) / all, or None with no evaluations."""
        if not self.total:
            return None
        return (self.satisfied + self.basically_satisfied) / self.total

    def as_dict(self) -> dict[str, object]:
        rate = self.rate
        return {
            "satisfied": self.satisfied,
            "basically_satisfied": self.basically_satisfied,
            "unsatisfied": self.unsatisfied,
            "total": self.total,
            "rate": None if rate is None else round(rate, 4),
        }

    @classmethod
    def of(cls, counts: dict[str, int]) -> Satisfaction:
        return cls(
            counts.get(Verdict.SATISFIED, 0),
            counts.get(Verdict.BASICALLY_SATISFIED, 0),
            counts.get(Verdict.UNSATISFIED, 0),
        )


def reopens(verdict: Verdict, *, proposer: bool) -> bool:
    """An unsatisfied rating from the proposer reopens the topic for follow-up (回访)."""
    return proposer and verdict is Verdict.UNSATISFIED


def discussion_seconds(marks: Sequence[tuple[int, datetime]], end: datetime) -> dict[int, int]:
    """Seconds spent on each topic: from each agenda mark to the next one (or the end).

    A topic the host came back to adds up; marks after ``end`` count nothing."""
    spent: dict[int, int] = {}
    for i, (topic_id, at) in enumerate(marks):
        until = marks[i + 1][1] if i + 1 < len(marks) else end
        seconds = max(0, int((min(until, end) - at).total_seconds()))
        spent[topic_id] = spent.get(topic_id, 0) + seconds
    return spent
