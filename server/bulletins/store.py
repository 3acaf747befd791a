"""Queries for the quarterly bulletin.

One pass is a handful of grouped statements over the whole city, each returning one row
per room (and category): the rooms, topics, deadlines, deliberations, outcomes and
evaluations tables are read, never written. Rolling the rooms up the region tree happens
in Python (model.roll_up).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.bulletins.tables import QuarterlyBulletin
from server.deliberations.model import DeliberationStatus
from server.deliberations.tables import Deliberation
from server.outcomes.model import OutcomeStatus
from server.outcomes.tables import Evaluation, Outcome
from server.rooms.tables import Region, Room
from server.topics.model import EventKind, TopicStatus
from server.topics.supervision import Outcome as DeadlineOutcome
from server.topics.supervision import Stage
from server.topics.tables import Topic, TopicDeadline, TopicEvent

HELD = (DeliberationStatus.LIVE, DeliberationStatus.ENDED, DeliberationStatus.PUBLISHED)
_LOCK_BASE = 0x4D5342_0000  # "MSB": pg_advisory_xact_lock's key for this feature


# --- published snapshots ---------------------------------------------------------------------


async def lock_quarter(session: AsyncSession, quarter: str) -> None:
    """Serialise publishers of one quarter until the transaction ends (an advisory lock on
    PostgreSQL; SQLite's single writer already serialises them). Requires an open write
    transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return
    year, q = quarter.split("-Q")
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_BASE + int(year) * 10 + int(q)}
    )


async def latest_version(session: AsyncSession, quarter: str) -> int:
    """The highest version published for ``quarter``; 0 if none."""
    found = await session.scalar(
        select(func.max(QuarterlyBulletin.version)).where(QuarterlyBulletin.quarter == quarter)
    )
    return int(found or 0)


async def insert_bulletin(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(
        insert(QuarterlyBulletin).values(**values).returning(QuarterlyBulletin.id)
    )
    return int(result.scalar_one())


async def get_bulletin(
    session: AsyncSession, quarter: str, version: int | None = None
) -> QuarterlyBulletin | None:
    """The given version of ``quarter``, or its latest; None if not published."""
    query = select(QuarterlyBulletin).where(QuarterlyBulletin.quarter == quarter)
    if version is not None:
        query = query.where(QuarterlyBulletin.version == version)
    row = await session.execute(query.order_by(QuarterlyBulletin.version.desc()).limit(1))
    return row.scalar_one_or_none()


async def list_versions(session: AsyncSession, quarter: str | None = None) -> Sequence[Any]:
    """(quarter, version, reason, published_at) of every published version, newest
    quarter and version first; one quarter's if asked."""
    query = select(
        QuarterlyBulletin.quarter,
        QuarterlyBulletin.version,
        QuarterlyBulletin.reason,
        QuarterlyBulletin.published_at,
    )
    if quarter is not None:
        query = query.where(QuarterlyBulletin.quarter == quarter)
    rows = await session.execute(
        query.order_by(QuarterlyBulletin.quarter.desc(), QuarterlyBulletin.version.desc())
    )
    return rows.all()


# --- the figures -----------------------------------------------------------------------------


async def list_regions(session: AsyncSession) -> list[tuple[int, str, str, str]]:
    """Every region as (id, level, name, path)."""
    rows = await session.execute(select(Region.id, Region.level, Region.name, Region.path))
    return [(r[0], str(r[1]), r[2], r[3]) for r in rows.all()]


async def list_rooms(session: AsyncSession) -> list[tuple[int, str, str]]:
    """Every room as (id, name, its region's path)."""
    rows = await session.execute(
        select(Room.id, Room.name, Region.path).join(Region, Region.id == Room.region_id)
    )
    return [(r[0], r[1], r[2]) for r in rows.all()]


def _received(start: datetime, end: datetime) -> Any:
    return and_(Topic.created_at >= start, Topic.created_at < end)


async def status_at_end(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int, str, int]]:
    """(room id, status at ``end``, topics) of the topics received in [start, end). A
    topic's status at ``end`` is the target of its last move before ``end``."""
    last = (
        select(TopicEvent.topic_id, func.max(TopicEvent.id).label("last_id"))
        .select_from(TopicEvent)
        .join(Topic, Topic.id == TopicEvent.topic_id)
        .where(_received(start, end), TopicEvent.kind == EventKind.MOVE, TopicEvent.at < end)
        .group_by(TopicEvent.topic_id)
        .subquery()
    )
    rows = await session.execute(
        select(Topic.room_id, TopicEvent.to_status, func.count())
        .select_from(Topic)
        .join(last, last.c.topic_id == Topic.id)
        .join(TopicEvent, TopicEvent.id == last.c.last_id)
        .group_by(Topic.room_id, TopicEvent.to_status)
    )
    return [(r[0], str(r[1]), int(r[2])) for r in rows.all()]


async def acceptance(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int, str, int]]:
    """(room id, how the accept stage stood at ``end``, deadlines) for the topics received
    in [start, end): "met" or "late" if it closed before ``end`` so; "overdue" if still
    open at ``end`` and past due; "pending" if open and not yet due. Cancelled stages
    (none today: the accept stage always ends met or late) are left out."""
    closed = and_(TopicDeadline.closed_at.is_not(None), TopicDeadline.closed_at < end)
    state = case(
        (and_(closed, TopicDeadline.outcome == DeadlineOutcome.MET), literal("met")),
        (and_(closed, TopicDeadline.outcome == DeadlineOutcome.LATE), literal("late")),
        (closed, literal("cancelled")),
        (TopicDeadline.due_at < end, literal("overdue")),
        else_=literal("pending"),
    )
    rows = await session.execute(
        select(Topic.room_id, state, func.count())
        .select_from(TopicDeadline)
        .join(Topic, Topic.id == TopicDeadline.topic_id)
        .where(_received(start, end), TopicDeadline.stage == Stage.ACCEPT)
        .group_by(Topic.room_id, state)
    )
    return [(r[0], str(r[1]), int(r[2])) for r in rows.all() if r[1] != "cancelled"]


async def sessions_held(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int, int]]:
    """(room id, sessions) that went live in [start, end) and were not called off."""
    rows = await session.execute(
        select(Deliberation.room_id, func.count())
        .where(
            Deliberation.status.in_(HELD),
            Deliberation.started_at >= start,
            Deliberation.started_at < end,
        )
        .group_by(Deliberation.room_id)
    )
    return [(r[0], int(r[1])) for r in rows.all()]


async def overdue_deadlines(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int, int]]:
    """(room id, deadlines) of every stage, on any topic, that fell due in [start, end)
    without being closed by then: still open, or closed after ``due_at``. A deadline
    whose clock was stopped (paused) before it fell due is not counted."""
    rows = await session.execute(
        select(Topic.room_id, func.count())
        .select_from(TopicDeadline)
        .join(Topic, Topic.id == TopicDeadline.topic_id)
        .where(
            TopicDeadline.due_at >= start,
            TopicDeadline.due_at < end,
            or_(TopicDeadline.closed_at.is_(None), TopicDeadline.closed_at > TopicDeadline.due_at),
            or_(
                TopicDeadline.paused_at.is_(None),
                TopicDeadline.paused_at > TopicDeadline.due_at,
            ),
        )
        .group_by(Topic.room_id)
    )
    return [(r[0], int(r[1])) for r in rows.all()]


async def outcomes_due(
    session: AsyncSession, first: date, last: date
) -> list[tuple[int, date, datetime | None]]:
    """(room id, due on, completed at) of published outcomes due from ``first`` to
    ``last`` (local dates, inclusive); the caller decides which went overdue."""
    rows = await session.execute(
        select(Topic.room_id, Outcome.due_on, Outcome.completed_at)
        .select_from(Outcome)
        .join(Topic, Topic.id == Outcome.topic_id)
        .where(
            Outcome.status == OutcomeStatus.PUBLISHED,
            Outcome.due_on >= first,
            Outcome.due_on <= last,
        )
    )
    return [(r[0], r[1], r[2]) for r in rows.all()]


async def verdicts(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int, str, int]]:
    """(room id, verdict, evaluations) made before ``end`` on the outcomes of topics
    received in [start, end)."""
    rows = await session.execute(
        select(Topic.room_id, Evaluation.verdict, func.count())
        .select_from(Evaluation)
        .join(Outcome, Outcome.id == Evaluation.outcome_id)
        .join(Topic, Topic.id == Outcome.topic_id)
        .where(_received(start, end), Evaluation.created_at < end)
        .group_by(Topic.room_id, Evaluation.verdict)
    )
    return [(r[0], str(r[1]), int(r[2])) for r in rows.all()]


CLOSED_OUT = (str(TopicStatus.REJECTED), str(TopicStatus.MERGED))
RESOLVED = str(TopicStatus.RESOLVED)
