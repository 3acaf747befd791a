"""Pure rules for deliberation sessions (协商议事会): states, roles, limits, validation,
the sensitive-word filter and the iCalendar file. Standard library only."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class DeliberationStatus(StrEnum):
    DRAFT = "draft"
    ANNOUNCED = "announced"
    LIVE = "live"
    ENDED = "ended"
    PUBLISHED = "published"  # minutes published (the outcomes issue writes them)
    CANCELLED = "cancelled"


D = DeliberationStatus

# The life of a session as one table. Announcing publishes it (room page, the topics'
# tracking pages, the public list, the .ics); going live opens the room; a cancelled
# or published session is finished.
TRANSITIONS: dict[DeliberationStatus, frozenset[DeliberationStatus]] = {
    D.DRAFT: frozenset({D.ANNOUNCED, D.CANCELLED}),
    D.ANNOUNCED: frozenset({D.LIVE, D.CANCELLED}),
    D.LIVE: frozenset({D.ENDED}),
    D.ENDED: frozenset({D.PUBLISHED}),
    D.PUBLISHED: frozenset(),
    D.CANCELLED: frozenset(),
}
PUBLIC_STATES = frozenset({D.ANNOUNCED, D.LIVE, D.ENDED, D.PUBLISHED, D.CANCELLED})
EDITABLE_STATES = frozenset({D.DRAFT, D.ANNOUNCED})
SIGNUP_STATES = frozenset({D.ANNOUNCED, D.LIVE})


class InvalidMove(Exception):
    def __init__(self, current: DeliberationStatus, target: DeliberationStatus) -> None:
        super().__init__(f"A {current} deliberation cannot become {target}.")
        self.current = current
        self.target = target


def transition(current: DeliberationStatus, target: DeliberationStatus) -> DeliberationStatus:
    if target not in TRANSITIONS[current]:
        raise InvalidMove(current, target)
    return target


class AttendeeKind(StrEnum):
    """Who a registrant is (报名身份)."""

    RESIDENT = "resident"
    PARTY_MEMBER = "party_member"
    BUSINESS = "business"
    EXPERT = "expert"
    DEPUTY = "deputy"
    OFFICIAL = "official"
    OTHER = "other"


class RegistrationStatus(StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class GuestRole(StrEnum):
    """Remote guests joining by video link (视频连线)."""

    OFFICIAL = "official"  # 相关部门负责人
    DEPUTY = "deputy"  # 两代表一委员
    EXPERT = "expert"  # 专家学者


class InvitationStatus(StrEnum):
    INVITED = "invited"  # link sent; waits in the lobby when it connects
    ADMITTED = "admitted"  # the host let them in
    REMOVED = "removed"  # the host removed them: the link stops working


class LiveRole(StrEnum):
    """Who a connection to the live room is."""

    HOST = "host"  # staff who may run the session (host and moderators)
    GUEST = "guest"  # an invited remote guest (in the lobby until admitted)
    VIEWER = "viewer"  # anyone else, identified by a device id


class ModerationMode(StrEnum):
    POST_THEN_HIDE = "post"  # comments appear at once; the host may hide them
    HOLD = "hold"  # comments wait for the host's approval


class CommentStatus(StrEnum):
    VISIBLE = "visible"
    HELD = "held"  # waiting for approval (hold mode, or a sensitive word)
    HIDDEN = "hidden"  # hidden or refused by a moderator; the record and reason stay


class QuestionStatus(StrEnum):
    OPEN = "open"
    ON_FLOOR = "on_floor"  # the host put it to the floor
    ANSWERED = "answered"
    HIDDEN = "hidden"


class PollKind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"


class PollStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class SpeakerStatus(StrEnum):
    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"
    WITHDRAWN = "withdrawn"


REACTIONS = ("applause", "like", "heart")

TITLE_MAX = 60
DESCRIPTION_MAX = 2000
PLACE_MAX = 100
NAME_MAX = 30
PHONE_RE = re.compile(r"^1\d{10}$")
CAPACITY_MAX = 5000
AGENDA_MAX = 10
COMMENT_MAX = 300
QUESTION_MAX = 200
POLL_QUESTION_MAX = 100
POLL_OPTION_MAX = 40
POLL_OPTIONS_MIN, POLL_OPTIONS_MAX = 2, 10
SPEAKER_SECONDS_DEFAULT, SPEAKER_SECONDS_MAX = 180, 1800
REASON_MAX = 200
INVITE_HOURS_DEFAULT, INVITE_HOURS_MAX = 72, 24 * 30
DEVICE_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class Invalid(Exception):
    """Input that breaks a rule; ``fields`` names what to fix."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.fields = fields


def clean_text(value: str) -> str:
    """Text as people meant it: NFC, no control characters, trimmed."""
    value = unicodedata.normalize("NFC", value)
    value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return value.strip()


def require_text(name: str, value: str, limit: int, *, required: bool = True) -> str:
    value = clean_text(value)
    if required and not value:
        raise Invalid(f"{name} is required.", {name: "Required."})
    if len(value) > limit:
        raise Invalid(f"{name} is longer than {limit} characters.", {name: f"At most {limit}."})
    return value


@dataclass(frozen=True, slots=True)
class Schedule:
    title: str
    description: str
    place: str
    starts_at: datetime
    ends_at: datetime
    capacity: int


def validate_schedule(
    *,
    title: str,
    description: str,
    place: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
) -> Schedule:
    fields: dict[str, str] = {}
    messages: list[str] = []
    values: dict[str, str] = {}
    for name, value, limit, required in (
        ("title", title, TITLE_MAX, True),
        ("description", description, DESCRIPTION_MAX, False),
        ("place", place, PLACE_MAX, True),
    ):
        try:
            values[name] = require_text(name, value, limit, required=required)
        except Invalid as exc:
            fields.update(exc.fields)
            messages.append(str(exc))
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        fields["starts_at"] = "Give a time zone."
        messages.append("Times need a time zone.")
    elif ends_at <= starts_at:
        fields["ends_at"] = "Must be after the start."
        messages.append("The session must end after it starts.")
    elif ends_at - starts_at > timedelta(hours=12):
        fields["ends_at"] = "At most 12 hours."
        messages.append("A session lasts at most 12 hours.")
    if not 1 <= capacity <= CAPACITY_MAX:
        fields["capacity"] = f"1 to {CAPACITY_MAX}."
        messages.append(f"Capacity must be between 1 and {CAPACITY_MAX}.")
    if fields:
        raise Invalid(" ".join(messages), fields)
    return Schedule(
        values["title"], values["description"], values["place"], starts_at, ends_at, capacity
    )


@dataclass(frozen=True, slots=True)
class PollDraft:
    question: str
    options: tuple[str, ...]
    kind: PollKind
    anonymous: bool


def validate_poll(question: str, options: Sequence[str], kind: str, anonymous: bool) -> PollDraft:
    question = require_text("question", question, POLL_QUESTION_MAX)
    try:
        poll_kind = PollKind(kind)
    except ValueError:
        raise Invalid("kind must be single or multiple.", {"kind": "single or multiple."}) from None
    cleaned = [require_text("options", o, POLL_OPTION_MAX) for o in options]
    if not POLL_OPTIONS_MIN <= len(cleaned) <= POLL_OPTIONS_MAX:
        raise Invalid(
            f"A poll has {POLL_OPTIONS_MIN} to {POLL_OPTIONS_MAX} options.",
            {"options": f"{POLL_OPTIONS_MIN} to {POLL_OPTIONS_MAX}."},
        )
    if len(set(cleaned)) != len(cleaned):
        raise Invalid("Two options say the same.", {"options": "Each option once."})
    return PollDraft(question, tuple(cleaned), poll_kind, bool(anonymous))


def validate_choices(
    kind: PollKind, choices: Sequence[int], option_ids: Iterable[int]
) -> list[int]:
    """The option ids of one ballot: at least one, each an option of the poll, once."""
    valid = set(option_ids)
    unique = list(dict.fromkeys(choices))
    if not unique:
        raise Invalid("Choose an option.", {"choices": "Required."})
    if len(unique) != len(choices):
        raise Invalid("An option was chosen twice.", {"choices": "Each option once."})
    if any(c not in valid for c in unique):
        raise Invalid("That option is not in this poll.", {"choices": "Unknown option."})
    if kind is PollKind.SINGLE and len(unique) != 1:
        raise Invalid("This poll takes one choice.", {"choices": "Exactly one."})
    return unique


# The sensitive-word filter. Matching ignores case, width (ＡＢＣ = abc), spaces and
# punctuation slipped between the characters ("敏 感 词", "敏.感.词").
_IGNORED_CATEGORIES = ("Z", "P", "S", "C")


def normalise_for_filter(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in _IGNORED_CATEGORIES)


@dataclass(frozen=True, slots=True)
class WordFilter:
    words: tuple[str, ...]

    @classmethod
    def of(cls, words: Iterable[str]) -> WordFilter:
        cleaned = {normalise_for_filter(w) for w in words}
        return cls(tuple(sorted(w for w in cleaned if w)))

    def matches(self, text: str) -> list[str]:
        """The listed words the text contains, after normalisation."""
        flat = normalise_for_filter(text)
        return [w for w in self.words if w in flat]


# iCalendar (RFC 5545): CRLF line ends, lines folded at 75 octets, TEXT values escaped.


def _ics_escape(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> list[str]:
    """Split a content line into pieces of at most 75 octets, never inside a character."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for ch in line:
        width = len(ch.encode())
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += ch
        size += width
    out.append(current)
    return out


def _ics_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    uid: str
    title: str
    description: str
    place: str
    starts_at: datetime
    ends_at: datetime
    url: str
    cancelled: bool
    sequence: int
    stamp: datetime


def calendar_file(entry: CalendarEntry) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Mashangyi//Deliberations//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:" + ("CANCEL" if entry.cancelled else "PUBLISH"),
        "BEGIN:VEVENT",
        f"UID:{entry.uid}",
        f"DTSTAMP:{_ics_time(entry.stamp)}",
        f"DTSTART:{_ics_time(entry.starts_at)}",
        f"DTEND:{_ics_time(entry.ends_at)}",
        f"SEQUENCE:{entry.sequence}",
        "STATUS:" + ("CANCELLED" if entry.cancelled else "CONFIRMED"),
        f"SUMMARY:{_ics_escape(entry.title)}",
        f"LOCATION:{_ics_escape(entry.place)}",
        f"DESCRIPTION:{_ics_escape(entry.description)}",
        f"URL:{entry.url}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(piece + "\r\n" for line in lines for piece in _fold(line))


class RecordingStatus(StrEnum):
    """A session's recording: being written, final (probed and chaptered), or unusable."""

    RECORDING = "recording"
    FINAL = "final"
    FAILED = "failed"
