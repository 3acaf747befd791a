"""Pure rules for topics: kinds, states, validation, numbers, masking."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class TopicKind(StrEnum):
    DEMAND = "demand"
    SUGGESTION = "suggestion"


class TopicSource(StrEnum):
    QR = "qr"  # scanned the room's code
    OFFLINE = "offline"  # entered by staff from paper


class TopicStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    ASSIGNED = "assigned"
    HANDLING = "handling"
    ESCALATED = "escalated"
    SCHEDULED = "scheduled"
    DELIBERATED = "deliberated"
    IMPLEMENTING = "implementing"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    MERGED = "merged"
    REOPENED = "reopened"


S = TopicStatus

# The whole workflow (解题) as one table: each state and the states it may move to.
# One-person matters: submitted → accepted → dispatched → assigned → handling → resolved.
# Key matters are escalated to a lead (提级督办) and may be scheduled for a deliberation
# session: escalated → scheduled → deliberated → implementing → resolved.
# An unsatisfied rating or a follow-up reopens a resolved topic; merged and rejected
# topics are finished (their submitters follow the surviving topic or read the reason).
TRANSITIONS: dict[TopicStatus, frozenset[TopicStatus]] = {
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, S.MERGED}),
    S.ACCEPTED: frozenset({S.DISPATCHED, S.REJECTED, S.MERGED}),
    S.DISPATCHED: frozenset({S.ASSIGNED, S.REJECTED, S.MERGED}),
    S.ASSIGNED: frozenset({S.HANDLING, S.ESCALATED, S.DISPATCHED, S.MERGED}),
    S.HANDLING: frozenset({S.RESOLVED, S.ESCALATED, S.MERGED}),
    S.ESCALATED: frozenset({S.SCHEDULED, S.IMPLEMENTING, S.RESOLVED, S.MERGED}),
    S.SCHEDULED: frozenset({S.DELIBERATED, S.ESCALATED}),
    S.DELIBERATED: frozenset({S.IMPLEMENTING, S.RESOLVED}),
    S.IMPLEMENTING: frozenset({S.RESOLVED}),
    S.RESOLVED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.HANDLING, S.ESCALATED}),
    S.REJECTED: frozenset(),
    S.MERGED: frozenset(),
}
OPEN_STATES = frozenset(s for s, moves in TRANSITIONS.items() if moves) - {S.RESOLVED}


class InvalidTransition(Exception):
    """A move the workflow does not allow; names the state the topic is in."""

    def __init__(self, current: TopicStatus, target: TopicStatus) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (it is finished)"
        super().__init__(
            f"Cannot move a topic from {current} to {target}; from {current} it may go to: "
            f"{allowed}."
        )
        self.current = current
        self.target = target


def transition(current: TopicStatus, target: TopicStatus) -> TopicStatus:
    """The new state, or InvalidTransition if the table has no such move."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
    return target


class EventKind(StrEnum):
    MOVE = "move"  # the status changed
    CONTACT = "contact"  # the handler reached the resident (first contact)
    PROGRESS = "progress"  # a note on how the work is going
    PAUSE = "pause"  # the deadline clock stopped, with a reason
    RESUME = "resume"
    EXTENSION = "extension"  # more time asked for, approved or refused


class ActorKind(StrEnum):
    RESIDENT = "resident"
    STAFF = "staff"
    SYSTEM = "system"


LIMITS = {"title": (4, 60), "description": (10, 2000), "name": (0, 30)}
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}\d{7,8}$")


@dataclass(frozen=True, slots=True)
class Submission:
    """A topic as a resident or an info officer typed it."""

    title: str
    description: str
    kind: str
    name: str = ""
    phone: str = ""
    consent: bool = False


@dataclass(frozen=True, slots=True)
class CleanSubmission:
    title: str
    description: str
    kind: TopicKind
    name: str
    phone: str


def clean_submission(sub: Submission) -> tuple[CleanSubmission | None, dict[str, str]]:
    """The submission trimmed and checked, or the field errors (keys are form field names).

    Text is kept as typed (no HTML stripping): pages escape it on output.
    """
    errors: dict[str, str] = {}
    values = {
        "title": sub.title.strip(),
        "description": sub.description.strip(),
        "name": sub.name.strip(),
    }
    for field, (lo, hi) in LIMITS.items():
        n = len(values[field])
        if n < lo:
            errors[field] = "Required." if n == 0 else f"At least {lo} characters."
        elif n > hi:
            errors[field] = f"At most {hi} characters."
    try:
        kind = TopicKind(sub.kind)
    except ValueError:
        errors["kind"] = "Choose demand or suggestion."
        kind = TopicKind.DEMAND
    phone = normalise_phone(sub.phone)
    if sub.phone.strip() and phone is None:
        errors["phone"] = "Not a phone number."
    if (values["name"] or phone) and not sub.consent:
        errors["consent"] = "Agree to how your contact details are used, or leave them out."
    if errors:
        return None, errors
    return CleanSubmission(
        values["title"], values["description"], kind, values["name"], phone or ""
    ), {}


def normalise_phone(raw: str) -> str | None:
    digits = re.sub(r"[\s\-()]", "", raw.strip())
    if digits.startswith("+86"):
        digits = digits[3:]
    if MOBILE_RE.match(digits) or LANDLINE_RE.match(digits):
        return digits
    return None


def mask_phone(phone: str) -> str:
    """138****1234: enough to recognise, never the whole number (PIPL)."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return phone[:1] + "*" * (len(phone) - 1)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def counter_key(prefix: str, year: int) -> str:
    return f"{prefix}{year}"


def format_number(prefix: str, year: int, seq: int) -> str:
    """HA2026-000123: the topic's number for life."""
    return f"{prefix}{year}-{seq:06d}"


# Moves a handler may make on a topic assigned to their unit; everything else is the
# dispatcher's.
HANDLER_MOVES = frozenset({S.HANDLING, S.RESOLVED, S.ESCALATED, S.IMPLEMENTING})


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the routing table. Empty category or subject means "any"."""

    region_depth: int
    category: str
    subject: str
    unit_id: int


def pick_rule(rules: list[Rule], *, category: str | None, subject: str | None) -> Rule | None:
    """The most specific rule for a topic, given the rules of its region and those above it.

    A rule for a deeper region beats one for a region above it; within a region, one
    naming category and subject beats one naming only the category, which beats one
    naming only the subject, which beats a catch-all.
    """
    matching = [
        r for r in rules if r.category in ("", category or "") and r.subject in ("", subject or "")
    ]
    if not matching:
        return None
    return max(matching, key=lambda r: (r.region_depth, bool(r.category), bool(r.subject)))
