"""Queries for monthly disclosures.

Generation reads the whole city's month in a handful of set-based statements (the
month's topics are one subquery reused by each), read-only across the rooms, topics,
deliberations and outcomes tables; grouping by region happens in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Select,
    String,
    TypeDecorator,
    and_,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.tables import Unit
from server.deliberations.model import DeliberationStatus
from server.deliberations.tables import AgendaItem, Deliberation
from server.disclosures.model import HANDLED_STATES, HANDLING_RECORDS, INTAKE_STATES
from server.disclosures.tables import MonthlyDisclosure
from server.outcomes.model import OutcomeStatus
from server.outcomes.tables import Outcome, OutcomeUpdate
from server.rooms.model import RegionLevel
from server.rooms.tables import Region, Room
from server.topics.model import EventKind
from server.topics.tables import Topic, TopicEvent

HELD = (DeliberationStatus.LIVE, DeliberationStatus.ENDED, DeliberationStatus.PUBLISHED)
# pg_advisory_xact_lock's key space: this feature's constant, plus the month.
_LOCK_BASE = 0x4D5359_0000  # "MSY"


async def lock_month(session: AsyncSession, month: str) -> None:
    """Serialise publishers of one month until the transaction ends. PostgreSQL takes a
    transaction-scoped advisory lock; SQLite's single writer already serialises them.
    Requires an open write transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = _LOCK_BASE + int(month.replace("-", ""))
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def latest_versions(session: AsyncSession, month: str) -> dict[int, int]:
    """Region id -> the highest version published for ``month``."""
    rows = await session.execute(
        select(MonthlyDisclosure.region_id, func.max(MonthlyDisclosure.version))
        .where(MonthlyDisclosure.month == month)
        .group_by(MonthlyDisclosure.region_id)
    )
    return {r[0]: r[1] for r in rows.all()}


async def month_published(session: AsyncSession, month: str) -> bool:
    row = await session.execute(
        select(MonthlyDisclosure.id).where(MonthlyDisclosure.month == month).limit(1)
    )
    return row.first() is not None


async def list_regions(session: AsyncSession) -> list[tuple[int, str, str, str]]:
    """Every region as (id, level, name, path)."""
    rows = await session.execute(select(Region.id, Region.level, Region.name, Region.path))
    return [(r[0], str(r[1]), r[2], r[3]) for r in rows.all()]


def month_topic_ids(start: datetime, end: datetime) -> Select[Any]:
    """The topics dispatched or handled in [start, end): a public event that
    ``model.qualifies``, or a progress update on the topic's published outcome."""
    moves = and_(
        TopicEvent.kind == EventKind.MOVE,
        or_(
            TopicEvent.to_status.in_(sorted(HANDLED_STATES)),
            and_(
                TopicEvent.from_status.is_not(None),
                TopicEvent.from_status.not_in(sorted(INTAKE_STATES)),
            ),
        ),
    )
    by_event = select(TopicEvent.topic_id).where(
        TopicEvent.public.is_(True),
        TopicEvent.at >= start,
        TopicEvent.at < end,
        or_(moves, TopicEvent.kind.in_(sorted(HANDLING_RECORDS))),
    )
    by_progress = (
        select(Outcome.topic_id)
        .join(OutcomeUpdate, OutcomeUpdate.outcome_id == Outcome.id)
        .where(
            Outcome.status == OutcomeStatus.PUBLISHED,
            OutcomeUpdate.at >= start,
            OutcomeUpdate.at < end,
        )
    )
    return select(Topic.id).where(or_(Topic.id.in_(by_event), Topic.id.in_(by_progress)))


TopicIds = Select[Any] | list[int]


async def month_topic_set(session: AsyncSession, start: datetime, end: datetime) -> TopicIds:
    """The month's topics for the queries below. PostgreSQL runs the selection once and
    the others take its ids as one array parameter; SQLite (no arrays) reuses the
    subquery in each."""
    ids = month_topic_ids(start, end)
    if session.get_bind().dialect.name != "postgresql":
        return ids
    rows = await session.execute(ids)
    return [r[0] for r in rows.all()]


def _among(column: Any, ids: TopicIds) -> ColumnElement[bool]:
    if isinstance(ids, list):
        return column == any_(bindparam("topic_ids", ids, type_=ARRAY(Integer)))  # type: ignore[no-any-return]
    return column.in_(ids)  # type: ignore[no-any-return]


async def month_topics(session: AsyncSession, ids: TopicIds) -> Sequence[Any]:
    """The topics with their room, the room's region path and the responsible unit's
    name. The submitter's name and phone come along only so that public text can be
    scrubbed of them; they are never written to a disclosure."""
    rows = await session.execute(
        select(
            Topic.id,
            Topic.number,
            Topic.title,
            Topic.kind,
            Topic.category,
            Topic.subject,
            Topic.lead,
            Room.id,
            Room.name,
            Region.path,
            Unit.name,
            Topic.submitter_name,
            Topic.submitter_phone,
        )
        .join(Room, Room.id == Topic.room_id)
        .join(Region, Region.id == Room.region_id)
        .outerjoin(Unit, Unit.id == Topic.unit_id)
        .where(_among(Topic.id, ids))
        .order_by(Topic.id)
    )
    return rows.all()


async def month_events(session: AsyncSession, ids: TopicIds, end: datetime) -> Sequence[Any]:
    """Public events of the topics before ``end``: (topic id, at, kind, from, to, note),
    in order."""
    rows = await session.execute(
        select(
            TopicEvent.topic_id,
            TopicEvent.at,
            # Plain strings: a month's events are many, and turning three columns of
            # each into enum members costs more than the query.
            type_coerce(TopicEvent.kind, String),
            type_coerce(TopicEvent.from_status, String),
            type_coerce(TopicEvent.to_status, String),
            TopicEvent.note,
        )
        .where(_among(TopicEvent.topic_id, ids), TopicEvent.public.is_(True), TopicEvent.at < end)
        .order_by(TopicEvent.topic_id, TopicEvent.at, TopicEvent.id)
    )
    return rows.all()


async def topic_sessions(session: AsyncSession, ids: TopicIds, end: datetime) -> Sequence[Any]:
    """(topic id, session id, title, started at) of sessions held before ``end`` with
    the topic on their agenda."""
    rows = await session.execute(
        select(AgendaItem.topic_id, Deliberation.id, Deliberation.title, Deliberation.started_at)
        .join(Deliberation, Deliberation.id == AgendaItem.deliberation_id)
        .where(
            _among(AgendaItem.topic_id, ids),
            Deliberation.status.in_(HELD),
            Deliberation.started_at.is_not(None),
            Deliberation.started_at < end,
        )
        .order_by(Deliberation.started_at, Deliberation.id)
    )
    return rows.all()


async def topic_outcomes(session: AsyncSession, ids: TopicIds, end: datetime) -> Sequence[Any]:
    """Outcomes published before ``end``: (topic id, outcome id, source, decision, unit
    name, lead, due on, published at, completed at)."""
    rows = await session.execute(
        select(
            Outcome.topic_id,
            Outcome.id,
            Outcome.source,
            Outcome.decision,
            Unit.name,
            Outcome.lead,
            Outcome.due_on,
            Outcome.published_at,
            Outcome.completed_at,
        )
        .outerjoin(Unit, Unit.id == Outcome.unit_id)
        .where(
            _among(Outcome.topic_id, ids),
            Outcome.status == OutcomeStatus.PUBLISHED,
            Outcome.published_at < end,
        )
    )
    return rows.all()


async def outcome_updates(session: AsyncSession, ids: TopicIds, end: datetime) -> Sequence[Any]:
    """Progress updates before ``end`` on the topics' outcomes: (outcome id, at, percent,
    note), in order."""
    rows = await session.execute(
        select(
            OutcomeUpdate.outcome_id, OutcomeUpdate.at, OutcomeUpdate.percent, OutcomeUpdate.note
        )
        .join(Outcome, Outcome.id == OutcomeUpdate.outcome_id)
        .where(_among(Outcome.topic_id, ids), OutcomeUpdate.at < end)
        .order_by(OutcomeUpdate.outcome_id, OutcomeUpdate.at, OutcomeUpdate.id)
    )
    return rows.all()


async def held_sessions(session: AsyncSession, start: datetime, end: datetime) -> Sequence[Any]:
    """Sessions that went live in [start, end): (id, title, started at, room name, the
    room's region path)."""
    rows = await session.execute(
        select(Deliberation.id, Deliberation.title, Deliberation.started_at, Room.name, Region.path)
        .join(Room, Room.id == Deliberation.room_id)
        .join(Region, Region.id == Room.region_id)
        .where(
            Deliberation.status.in_(HELD),
            Deliberation.started_at >= start,
            Deliberation.started_at < end,
        )
        .order_by(Deliberation.started_at, Deliberation.id)
    )
    return rows.all()


class _EncodedJSON(TypeDecorator[str]):
    """A JSON column's value already encoded as JSON text: bound as it is (PostgreSQL
    still sees a json parameter)."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


async def insert_disclosures(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """All of a month's new rows in one statement; each row's ``content_json`` is the
    content as JSON text. Requires an open write transaction; a row that already exists
    (region, month, version) raises IntegrityError."""
    if rows:
        stmt = insert(MonthlyDisclosure).values(
            content=bindparam("content_json", type_=_EncodedJSON())
        )
        await session.execute(stmt, rows)


# --- reading what was published -------------------------------------------------------------

LISTED = (
    MonthlyDisclosure.id,
    MonthlyDisclosure.region_id,
    MonthlyDisclosure.month,
    MonthlyDisclosure.version,
    MonthlyDisclosure.region_name,
    MonthlyDisclosure.topic_count,
    MonthlyDisclosure.counts,
    MonthlyDisclosure.reason,
    MonthlyDisclosure.published_at,
    Region.level,
    Region.path,
)


async def list_disclosures(
    session: AsyncSession,
    *,
    month: str | None,
    region_path: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    """Published disclosures (every version), newest month first, then by region path
    (towns before their communities) and version; and how many match."""
    where = []
    if month is not None:
        where.append(MonthlyDisclosure.month == month)
    if region_path is not None:
        where.append(Region.path.startswith(region_path, autoescape=True))
    base = select(*LISTED).join(Region, Region.id == MonthlyDisclosure.region_id).where(*where)
    total = await session.scalar(
        select(func.count())
        .select_from(MonthlyDisclosure)
        .join(Region, Region.id == MonthlyDisclosure.region_id)
        .where(*where)
    )
    rows = await session.execute(
        base.order_by(MonthlyDisclosure.month.desc(), Region.path, MonthlyDisclosure.version.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), int(total or 0)


async def list_months(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(MonthlyDisclosure.month).distinct().order_by(MonthlyDisclosure.month.desc())
    )
    return [r[0] for r in rows.all()]


async def get_disclosure(session: AsyncSession, disclosure_id: int) -> Any | None:
    """(row, region level, region path) or None."""
    row = await session.execute(
        select(MonthlyDisclosure, Region.level, Region.path)
        .join(Region, Region.id == MonthlyDisclosure.region_id)
        .where(MonthlyDisclosure.id == disclosure_id)
    )
    return row.first()


async def list_versions(session: AsyncSession, region_id: int, month: str) -> list[Any]:
    """(id, version, reason, published at) of every version of a region's month."""
    rows = await session.execute(
        select(
            MonthlyDisclosure.id,
            MonthlyDisclosure.version,
            MonthlyDisclosure.reason,
            MonthlyDisclosure.published_at,
        )
        .where(MonthlyDisclosure.region_id == region_id, MonthlyDisclosure.month == month)
        .order_by(MonthlyDisclosure.version)
    )
    return list(rows.all())


async def list_filter_regions(session: AsyncSession) -> list[tuple[int, str, str, str]]:
    """Counties, parks and towns for the archive's filter: (id, level, name, path)."""
    rows = await session.execute(
        select(Region.id, Region.level, Region.name, Region.path)
        .where(Region.level.in_([RegionLevel.COUNTY, RegionLevel.PARK, RegionLevel.TOWN]))
        .order_by(Region.path)
    )
    return [(r[0], str(r[1]), r[2], r[3]) for r in rows.all()]


async def get_region_path(session: AsyncSession, region_id: int) -> str | None:
    return await session.scalar(select(Region.path).where(Region.id == region_id))
