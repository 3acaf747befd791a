"""Minutes, outcomes, their progress and the public's evaluations.

Nothing is deleted: a hidden evaluation comment keeps its row, reason and moderator.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
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
from server.deliberations.model import CommentStatus
from server.outcomes.model import Flag, MinutesStatus, OutcomeSource, OutcomeStatus, Verdict


class Minutes(Base):
    """A session's minutes: the facts drafted from its log, and the host's edited text."""

    __tablename__ = "minutes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deliberation_id: Mapped[int] = mapped_column(ForeignKey("deliberations.id"), unique=True)
    status: Mapped[MinutesStatus] = mapped_column(enum_column(MinutesStatus, "minutes_status"))
    # Drafted once from the log when the session ended: attendance by role, agenda with
    # discussion time and recording chapter, poll results, the speakers. Never edited.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The host's account of the session, prefilled from the facts and edited.
    body: Mapped[str] = mapped_column(Text, default="")
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class Outcome(Base):
    """What was decided for a topic (协商结果): one per topic, from its session's minutes or
    from its handler's resolution; carried out by a unit with dated progress updates."""

    __tablename__ = "outcomes"
    __table_args__ = (
        Index("ix_outcomes_status_due_on", "status", "due_on"),
        Index("ix_outcomes_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), unique=True)
    deliberation_id: Mapped[int | None] = mapped_column(ForeignKey("deliberations.id"), index=True)
    source: Mapped[OutcomeSource] = mapped_column(enum_column(OutcomeSource, "outcome_source"))
    status: Mapped[OutcomeStatus] = mapped_column(enum_column(OutcomeStatus, "outcome_status"))
    decision: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    lead: Mapped[str] = mapped_column(String(60), default="")
    due_on: Mapped[date] = mapped_column(Date)
    percent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last flag the responsible unit was told about, so each reminder goes out once.
    reminded: Mapped[Flag] = mapped_column(
        enum_column(Flag, "outcome_flag"), default=Flag.OK, server_default="ok"
    )
    version: Mapped[int] = mapped_column(Integer, default=1)


class OutcomeUpdate(Base):
    """A dated step toward carrying an outcome out (办理进展). Append-only."""

    __tablename__ = "outcome_updates"
    __table_args__ = (Index("ix_outcome_updates_outcome_id_id", "outcome_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcomes.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    percent: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text)
    by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))


class OutcomePhoto(Base):
    """A photo attached to a progress update, re-encoded without EXIF."""

    __tablename__ = "outcome_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    update_id: Mapped[int] = mapped_column(ForeignKey("outcome_updates.id"), index=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcomes.id"), index=True)
    relpath: Mapped[str] = mapped_column(String(128), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)


class Evaluation(Base):
    """One identity's judgement of a published outcome (评题): the unique constraint is
    the one-rating rule. ``identity_key`` is "proposer" for the topic's submitter (by
    tracking token or the device that raised it), else a keyed digest of the device."""

    __tablename__ = "evaluations"
    __table_args__ = (
        UniqueConstraint("outcome_id", "identity_key"),
        Index("ix_evaluations_created_at", "created_at"),
        Index("ix_evaluations_outcome_id_verdict", "outcome_id", "verdict"),
        # Satisfaction by region (the dashboard, open data) from this index alone.
        Index("ix_evaluations_region_id_verdict", "region_id", "verdict"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcomes.id"), index=True)
    # The rated topic's region (a topic's region never changes), so satisfaction by region
    # is read without joining outcomes and topics.
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    identity_key: Mapped[str] = mapped_column(String(80))
    proposer: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[Verdict] = mapped_column(enum_column(Verdict, "verdict"))
    comment: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    # Comments go through the live room's moderation: visible, held or hidden with a reason.
    comment_status: Mapped[CommentStatus] = mapped_column(
        enum_column(CommentStatus, "evaluation_comment_status")
    )
    reason: Mapped[str] = mapped_column(String(200), default="")
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
