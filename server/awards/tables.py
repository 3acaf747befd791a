"""Tables of the awards feature (十佳百优): a year's round, its reviewers, candidates,
nominations and scores, and the published lists (one row per year and version).

Nothing is deleted: a withdrawn candidate and a declined nomination keep their rows and
reasons; a published list is never updated, a correction is a new version beside it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.awards.model import (
    AwardKind,
    CandidateSource,
    NominationSource,
    NominationStatus,
    RoundStatus,
)
from server.core.db import Base, UTCDateTime, enum_column


class AwardRound(Base):
    """One calendar year's awards, opened by an administrator."""

    __tablename__ = "award_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    status: Mapped[RoundStatus] = mapped_column(enum_column(RoundStatus, "award_round_status"))
    excellent: Mapped[int] = mapped_column(Integer)  # 百优 per kind
    best: Mapped[int] = mapped_column(Integer)  # 十佳 per kind
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class AwardReviewer(Base):
    """A staff member the administrator appointed to score this year's candidates."""

    __tablename__ = "award_reviewers"
    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("award_rounds.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    appointed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    appointed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class AwardCandidate(Base):
    """A room, resident or case under review. ``subject_key`` names the subject once per
    year and kind ("room:7", "case:12", "resident:<digest of the normalised phone or
    device>"); a resident's phone and name are kept only masked here."""

    __tablename__ = "award_candidates"
    __table_args__ = (UniqueConstraint("round_id", "kind", "subject_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("award_rounds.id"), index=True)
    kind: Mapped[AwardKind] = mapped_column(enum_column(AwardKind, "award_kind"))
    source: Mapped[CandidateSource] = mapped_column(
        enum_column(CandidateSource, "award_candidate_source")
    )
    subject_key: Mapped[str] = mapped_column(String(80))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    # What the pages show: a room's name, a case's number and title, a resident's masked name.
    title: Mapped[str] = mapped_column(String(120))
    masked_phone: Mapped[str] = mapped_column(String(16), default="")  # staff pages only
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    composite: Mapped[float] = mapped_column(Float, default=0.0)
    nominated: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[str] = mapped_column(Text, default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AwardNomination(Base):
    """A nomination with its reasons, waiting for staff to accept or decline it. The
    unique key refuses a second nomination of the same subject in the same year."""

    __tablename__ = "award_nominations"
    __table_args__ = (UniqueConstraint("round_id", "kind", "subject_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("award_rounds.id"), index=True)
    kind: Mapped[AwardKind] = mapped_column(enum_column(AwardKind, "award_nomination_kind"))
    source: Mapped[NominationSource] = mapped_column(
        enum_column(NominationSource, "award_nomination_source")
    )
    status: Mapped[NominationStatus] = mapped_column(
        enum_column(NominationStatus, "award_nomination_status")
    )
    subject_key: Mapped[str] = mapped_column(String(80))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    # A nominated resident as given (personal data: staff see them masked, never public).
    name: Mapped[str] = mapped_column(String(30), default="")
    phone: Mapped[str] = mapped_column(String(16), default="")
    organisation: Mapped[str] = mapped_column(String(60), default="")
    reasons: Mapped[str] = mapped_column(Text)
    device_id: Mapped[str | None] = mapped_column(String(64))
    nominated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decline_reason: Mapped[str] = mapped_column(String(500), default="")
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("award_candidates.id"))


class AwardScore(Base):
    """One reviewer's score of one candidate (0-100), editable until the review closes."""

    __tablename__ = "award_scores"
    __table_args__ = (UniqueConstraint("candidate_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("award_candidates.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    score: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AwardPublication(Base):
    """The published list of one year: a snapshot that never changes."""

    __tablename__ = "award_publications"
    __table_args__ = (UniqueConstraint("year", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
