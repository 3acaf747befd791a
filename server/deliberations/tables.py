"""Deliberation sessions and everything said and decided in their live room.

Nothing here is deleted: cancelled registrations, removed guests, hidden comments and
closed polls keep their rows (with a reason where one applies).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, UTCDateTime, enum_column
from server.deliberations.model import (
    AttendeeKind,
    CommentStatus,
    DeliberationStatus,
    GuestRole,
    InvitationStatus,
    LiveRole,
    ModerationMode,
    PollKind,
    PollStatus,
    QuestionStatus,
    RecordingStatus,
    RegistrationStatus,
    SpeakerStatus,
)


class Deliberation(Base):
    __tablename__ = "deliberations"
    __table_args__ = (Index("ix_deliberations_status_starts_at", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    # The room's region: territory checks use it.
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    status: Mapped[DeliberationStatus] = mapped_column(
        enum_column(DeliberationStatus, "deliberation_status")
    )
    moderation: Mapped[ModerationMode] = mapped_column(
        enum_column(ModerationMode, "moderation_mode")
    )
    # Names shown on the announcement: the host (usually the room chief) and moderators.
    host_name: Mapped[str] = mapped_column(String(30), default="")
    moderators: Mapped[str] = mapped_column(String(120), default="")
    current_topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)


class AgendaItem(Base):
    """One topic on a session's agenda, in order."""

    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("deliberation_id", "topic_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)


class AgendaMark(Base):
    """The host moved to a topic at this moment: the recording's chapter marks."""

    __tablename__ = "agenda_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class Registration(Base):
    """Sign-up (报名) for a session: registered up to capacity, then a waiting list."""

    __tablename__ = "registrations"
    __table_args__ = (
        Index("ix_registrations_deliberation_id_status_id", "deliberation_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"))
    name: Mapped[str] = mapped_column(String(30))
    phone: Mapped[str] = mapped_column(String(16), default="")
    kind: Mapped[AttendeeKind] = mapped_column(enum_column(AttendeeKind, "attendee_kind"))
    status: Mapped[RegistrationStatus] = mapped_column(
        enum_column(RegistrationStatus, "registration_status")
    )
    # The registrant's link and check-in QR carry a token; only its digest is kept.
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When a waiting-list place turned into a seat.
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class Invitation(Base):
    """A remote guest's signed, expiring link (视频连线)."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"), index=True)
    role: Mapped[GuestRole] = mapped_column(enum_column(GuestRole, "guest_role"))
    display_name: Mapped[str] = mapped_column(String(30))
    organisation: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[InvitationStatus] = mapped_column(
        enum_column(InvitationStatus, "invitation_status")
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_reason: Mapped[str] = mapped_column(String(200), default="")
    # The guest's current socket.io connection, so a host on another process can reach it.
    live_sid: Mapped[str | None] = mapped_column(String(40))


class LiveComment(Base):
    __tablename__ = "live_comments"
    __table_args__ = (
        Index("ix_live_comments_deliberation_id_id", "deliberation_id", "id"),
        Index("ix_live_comments_deliberation_id_status", "deliberation_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    author_role: Mapped[LiveRole] = mapped_column(enum_column(LiveRole, "live_role"))
    # "viewer:<device>", "guest:<invitation id>", "staff:<user id>": one identity.
    author_key: Mapped[str] = mapped_column(String(80))
    author_name: Mapped[str] = mapped_column(String(30))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[CommentStatus] = mapped_column(enum_column(CommentStatus, "comment_status"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Question(Base):
    __tablename__ = "live_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"), index=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    author_key: Mapped[str] = mapped_column(String(80))
    author_name: Mapped[str] = mapped_column(String(30))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[QuestionStatus] = mapped_column(enum_column(QuestionStatus, "question_status"))
    votes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    floor_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QuestionVote(Base):
    """One upvote per identity per question, enforced here."""

    __tablename__ = "live_question_votes"
    __table_args__ = (UniqueConstraint("question_id", "voter_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("live_questions.id"))
    voter_key: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Poll(Base):
    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"), index=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    question: Mapped[str] = mapped_column(String(100))
    kind: Mapped[PollKind] = mapped_column(enum_column(PollKind, "poll_kind"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[PollStatus] = mapped_column(enum_column(PollStatus, "poll_status"))
    # The final tally, written when the poll closes: {"ballots": n, "options": {id: n}}.
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PollOption(Base):
    __tablename__ = "poll_options"
    __table_args__ = (UniqueConstraint("poll_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(40))


class Ballot(Base):
    """One identity's vote in one poll: the unique constraint is the one-vote rule.

    For an anonymous poll ``voter_key`` is a keyed digest of the identity and no name is
    kept, so the ballot still counts once but cannot be traced to a person."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("poll_id", "voter_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    voter_key: Mapped[str] = mapped_column(String(80))
    voter_name: Mapped[str] = mapped_column(String(30), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BallotChoice(Base):
    __tablename__ = "ballot_choices"
    __table_args__ = (
        UniqueConstraint("ballot_id", "option_id"),
        Index("ix_ballot_choices_poll_id_option_id", "poll_id", "option_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballots.id"))
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id"))


class SpeakerRequest(Base):
    """A raised hand in the speaker queue, and the floor it was given."""

    __tablename__ = "speaker_requests"
    __table_args__ = (
        Index("ix_speaker_requests_deliberation_id_status", "deliberation_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    speaker_key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(30))
    # guest role, attendee kind or "host": shown beside the name.
    role: Mapped[str] = mapped_column(String(24))
    on_site: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[SpeakerStatus] = mapped_column(enum_column(SpeakerStatus, "speaker_status"))
    seconds: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    floor_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReactionCount(Base):
    __tablename__ = "reaction_counts"
    __table_args__ = (UniqueConstraint("deliberation_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer, default=0)


class Recording(Base):
    """The one recording of a session (fragmented while written, final after the end).

    ``path`` is relative to the recordings directory. ``started_at`` is the wall-clock
    moment its first frame was encoded: chapter starts are agenda marks minus it."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"), unique=True)
    status: Mapped[RecordingStatus] = mapped_column(
        enum_column(RecordingStatus, "recording_status")
    )
    path: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration: Mapped[float | None] = mapped_column()
    size: Mapped[int | None] = mapped_column(Integer)
    streams: Mapped[list[str]] = mapped_column(JSON, default=list)


class RecordingChapter(Base):
    """Where a topic's discussion starts in its session's recording."""

    __tablename__ = "recording_chapters"
    __table_args__ = (UniqueConstraint("recording_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    start: Mapped[float] = mapped_column()  # seconds from the recording's start
