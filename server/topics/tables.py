from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
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
from server.topics.model import ActorKind, EventKind, TopicKind, TopicSource, TopicStatus
from server.topics.supervision import ExtensionStatus, Flag, Outcome, Stage


class Topic(Base):
    __tablename__ = "topics"
    __table_args__ = (
        Index("ix_topics_region_id_id", "region_id", "id"),
        Index("ix_topics_room_id_id", "room_id", "id"),
        Index("ix_topics_status_id", "status", "id"),
        # The similar-topic index catches up on changes made by other processes.
        Index("ix_topics_updated_at", "updated_at"),
        # The dashboard's city-wide counts read these columns only: index-only scans
        # instead of reading every topic's text (benchmarks/reports.py).
        Index("ix_topics_created_at_region_id", "created_at", "region_id"),
        Index("ix_topics_region_id_status_category", "region_id", "status", "category"),
        Index("ix_topics_category_subject_status", "category", "subject", "status", "region_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    # The room's region when the topic was raised: territory checks use it.
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[TopicKind] = mapped_column(enum_column(TopicKind, "topic_kind"))
    source: Mapped[TopicSource] = mapped_column(enum_column(TopicSource, "topic_source"))
    status: Mapped[TopicStatus] = mapped_column(enum_column(TopicStatus, "topic_status"))
    category: Mapped[str | None] = mapped_column(String(24))
    subject: Mapped[str | None] = mapped_column(String(32))
    # What the classifier said and why; a dispatcher's correction overwrites the label
    # and is kept in topic_corrections for the next training.
    category_confidence: Mapped[float | None] = mapped_column(Float)
    subject_confidence: Mapped[float | None] = mapped_column(Float)
    classification_evidence: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    # The unit now responsible (county relay, town or department), set by dispatch.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # Who leads an escalated topic (提级督办), e.g. "县住建局 王局长"; empty otherwise.
    lead: Mapped[str] = mapped_column(String(60), default="", server_default="")
    # A duplicate merged into another topic points at it; its submitter follows that one.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"), index=True)
    submitter_name: Mapped[str] = mapped_column(String(30), default="")
    submitter_phone: Mapped[str] = mapped_column(String(16), default="")
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    device_id: Mapped[str | None] = mapped_column(String(64))
    tracking_digest: Mapped[str] = mapped_column(String(64), unique=True)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Bumped on every change, so two staff acting at once cannot overwrite each other.
    version: Mapped[int] = mapped_column(Integer, default=1)


class TopicPhoto(Base):
    __tablename__ = "topic_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    relpath: Mapped[str] = mapped_column(String(128), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    # Set for photos a handler attached to an event (the result of a resolved topic);
    # the resident's own photos have none.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("topic_events.id"))


class TopicEvent(Base):
    """Append-only: who moved the topic from what to what, when, and why."""

    __tablename__ = "topic_events"
    # The dashboard's monthly "resolved" series reads resolving moves by time, from the
    # index alone.
    __table_args__ = (Index("ix_topic_events_to_status_at", "to_status", "at", "kind", "topic_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_kind: Mapped[ActorKind] = mapped_column(enum_column(ActorKind, "actor_kind"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    from_status: Mapped[TopicStatus | None] = mapped_column(
        enum_column(TopicStatus, "event_from_status")
    )
    to_status: Mapped[TopicStatus] = mapped_column(enum_column(TopicStatus, "event_to_status"))
    note: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    # A move, or a record that leaves the status as it is (from == to): contact with the
    # resident, a progress note, a pause or resumption, an extension asked or decided.
    kind: Mapped[EventKind] = mapped_column(
        enum_column(EventKind, "event_kind"), default=EventKind.MOVE, server_default="move"
    )


class TopicCorrection(Base):
    """A dispatcher's fix of an automatic label: training data for the next model."""

    __tablename__ = "topic_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    field: Mapped[str] = mapped_column(String(16))
    from_label: Mapped[str | None] = mapped_column(String(32))
    to_label: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)


class RoutingRule(Base):
    """Which unit receives a region's topics, optionally by category and subject.

    Empty strings mean "any", so the unique constraint also holds for catch-alls.
    """

    __tablename__ = "routing_rules"
    __table_args__ = (UniqueConstraint("region_id", "category", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    category: Mapped[str] = mapped_column(String(24), default="")
    subject: Mapped[str] = mapped_column(String(32), default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TopicCounter(Base):
    """One row per number series (prefix and year), locked while a number is taken."""

    __tablename__ = "topic_counters"

    key: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class TopicDeadline(Base):
    """One supervised stage of a topic (督办): who must act, by when, and how it ended.

    Open while ``closed_at`` is null. Pausing stops the clock; the working days spent
    paused and approved extensions push ``due_at`` back. ``reminded`` is the last flag
    the responsible staff were told about, so each reminder goes out once.
    """

    __tablename__ = "topic_deadlines"
    __table_args__ = (Index("ix_topic_deadlines_open_due", "closed_at", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    stage: Mapped[Stage] = mapped_column(enum_column(Stage, "deadline_stage"))
    # The responsible unit; none for acceptance, which is the dispatchers' own.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pause_reason: Mapped[str] = mapped_column(String(200), default="")
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    reminded: Mapped[Flag] = mapped_column(enum_column(Flag, "deadline_flag"), default=Flag.OK)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, "deadline_outcome"))


class DeadlineExtension(Base):
    """A request for more time on a stage, and the supervisor's decision."""

    __tablename__ = "deadline_extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("topic_deadlines.id"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[ExtensionStatus] = mapped_column(
        enum_column(ExtensionStatus, "extension_status")
    )
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(String(500), default="")


class Notification(Base):
    """An in-app message to one staff member, e.g. a deadline reminder."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    kind: Mapped[str] = mapped_column(String(32))
    # What the page needs to say it in the reader's language: number, stage, due time.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
