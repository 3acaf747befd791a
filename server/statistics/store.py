"""Queries behind the dashboard (数据大屏), open data and Open311.

The statistics feature keeps no tables: it reads the topics, deliberations, outcomes,
rooms and accounts tables read-only (docs/architecture.md, "store modules may join
another feature's tables read-only"). Each dashboard query is one set-based statement;
``region_path`` (a materialised path such as "/1/4/") limits it to that region's
subtree, None means everywhere. Every function takes the session first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.accounts.tables import Unit
from server.deliberations.model import DeliberationStatus
from server.deliberations.tables import Deliberation
from server.outcomes.model import OutcomeStatus
from server.outcomes.tables import Evaluation, Outcome
from server.rooms.model import RegionLevel
from server.rooms.tables import Region, Room
from server.topics.model import EventKind, TopicStatus
from server.topics.tables import Topic, TopicDeadline, TopicEvent

PETITION = "petition"
# A session counts as held once it went live: live, ended, or with its minutes published.
HELD = (DeliberationStatus.LIVE, DeliberationStatus.ENDED, DeliberationStatus.PUBLISHED)
RESOLVED = TopicStatus.RESOLVED


def _in_region(column: Any, region_path: str | None) -> ColumnElement[bool] | None:
    """``column`` (a region id) lies in the subtree at ``region_path``."""
    if region_path is None:
        return None
    subtree = select(Region.id).where(Region.path.startswith(region_path, autoescape=True))
    return column.in_(subtree)  # type: ignore[no-any-return]


Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")
AnySelect = Select[*tuple[Any, ...]]


def _where(query: Q, *conditions: ColumnElement[bool] | None) -> Q:
    for condition in conditions:
        if condition is not None:
            query = query.where(condition)
    return query


def _resolved() -> ColumnElement[int]:
    return func.sum(case((Topic.status == RESOLVED, 1), else_=0))


def _petition_resolved() -> ColumnElement[int]:
    return func.sum(case((and_(Topic.status == RESOLVED, Topic.category == PETITION), 1), else_=0))


async def read_one_snapshot(session: AsyncSession) -> None:
    """Make every following statement of this (fresh) session read the same snapshot, so
    the panels of one dashboard agree. PostgreSQL's default READ COMMITTED lets each
    statement see newer commits; SQLite's deferred BEGIN already reads one snapshot."""
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


# --- regions ----------------------------------------------------------------------------


async def get_region(session: AsyncSession, region_id: int) -> Region | None:
    return await session.get(Region, region_id)


async def list_root_regions(session: AsyncSession) -> list[Region]:
    rows = await session.scalars(
        select(Region).where(Region.parent_id.is_(None)).order_by(Region.id)
    )
    return list(rows)


async def list_regions(session: AsyncSession, region_path: str | None) -> list[Region]:
    """Every region in the subtree (all regions for None), in path order."""
    query = _where(
        select(Region).order_by(Region.path),
        None if region_path is None else Region.path.startswith(region_path, autoescape=True),
    )
    return list(await session.scalars(query))


async def region_paths(session: AsyncSession, region_path: str | None) -> dict[int, str]:
    """Every region's path in the subtree (all for None), as plain tuples: a snapshot of
    the whole city needs 1,900 of them, not 1,900 mapped objects."""
    query = _where(
        select(Region.id, Region.path),
        None if region_path is None else Region.path.startswith(region_path, autoescape=True),
    )
    return {int(i): p for i, p in (await session.execute(query)).all()}


async def child_regions(session: AsyncSession, region_id: int) -> list[Region]:
    return list(
        await session.scalars(
            select(Region).where(Region.parent_id == region_id).order_by(Region.name)
        )
    )


async def regions_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[Region]:
    if not ids:
        return []
    return list(await session.scalars(select(Region).where(Region.id.in_(ids))))


# --- the dashboard ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Headline:
    topics_collected: int
    sessions_held: int
    petition_risks_defused: int
    livelihood_solved: int


async def headline_figures(session: AsyncSession, region_path: str | None) -> Headline:
    """The four headline figures (docs/statistics.md defines them) in one statement."""
    topics = _where(
        select(
            func.count().label("n"),
            func.coalesce(_resolved(), 0).label("resolved"),
            func.coalesce(_petition_resolved(), 0).label("petition"),
        ),
        _in_region(Topic.region_id, region_path),
    ).subquery()
    sessions = _where(
        select(func.count()).select_from(Deliberation).where(Deliberation.status.in_(HELD)),
        _in_region(Deliberation.region_id, region_path),
    ).scalar_subquery()
    row = (
        await session.execute(select(topics.c.n, topics.c.resolved, topics.c.petition, sessions))
    ).one()
    return Headline(int(row[0]), int(row[3]), int(row[2]), int(row[1]))


def _bucket(column: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """The index of the [bounds[i], bounds[i+1]) interval ``column`` falls in (the last
    index past the end). A balanced tree of comparisons: four per row for a year of
    months, not up to twelve, which is most of the trend's cost on 30,000 topics."""

    def pick(lo: int, hi: int) -> Any:  # the index in lo..hi, knowing column >= bounds[lo]
        if lo == hi:
            return literal(lo)
        mid = (lo + hi + 1) // 2
        return case((column < bounds[mid], pick(lo, mid - 1)), else_=pick(mid, hi))

    last = len(bounds) - 1
    return case((column < bounds[1], literal(0)), else_=pick(1, last)) if last else literal(0)


async def monthly_trend(
    session: AsyncSession, region_path: str | None, bounds: Sequence[datetime]
) -> list[tuple[str, int, int]]:
    """(series, month index, count) for topics received, topics resolved and sessions
    held in each interval ``bounds[i] <= t < bounds[i + 1]`` (UTC instants of local month
    starts). Resolved counts topics moved to resolved in the month, each once a month."""
    start, end = bounds[0], bounds[-1]
    # Group by the bucket's label in a subquery: PostgreSQL would not match the same
    # CASE repeated in GROUP BY, whose bound parameters are numbered anew.
    created = _where(
        select(_bucket(Topic.created_at, bounds).label("month")).where(
            Topic.created_at >= start, Topic.created_at < end
        ),
        _in_region(Topic.region_id, region_path),
    ).subquery()
    received = select(literal("received"), created.c.month, func.count()).group_by(created.c.month)
    resolving = select(TopicEvent.topic_id, _bucket(TopicEvent.at, bounds).label("month"))
    if region_path is not None:  # the whole city needs no join with the topics
        resolving = resolving.join(Topic, Topic.id == TopicEvent.topic_id)
    moved = _where(
        resolving.where(
            TopicEvent.to_status == RESOLVED,
            TopicEvent.kind == EventKind.MOVE,
            TopicEvent.at >= start,
            TopicEvent.at < end,
        ).distinct(),
        _in_region(Topic.region_id, region_path),
    ).subquery()
    resolved = select(literal("resolved"), moved.c.month, func.count()).group_by(moved.c.month)
    started = _where(
        select(_bucket(Deliberation.started_at, bounds).label("month")).where(
            Deliberation.status.in_(HELD),
            Deliberation.started_at >= start,
            Deliberation.started_at < end,
        ),
        _in_region(Deliberation.region_id, region_path),
    ).subquery()
    sessions = select(literal("sessions"), started.c.month, func.count()).group_by(started.c.month)
    rows = await session.execute(union_all(received, resolved, sessions))
    return [(str(s), int(m), int(n)) for s, m, n in rows.all()]


async def category_counts(
    session: AsyncSession, region_path: str | None
) -> list[tuple[str | None, str | None, int, int]]:
    """(category, subject, topics, resolved) for every pair that has topics."""
    query = _where(
        select(Topic.category, Topic.subject, func.count(), _resolved()).group_by(
            Topic.category, Topic.subject
        ),
        _in_region(Topic.region_id, region_path),
    )
    rows = await session.execute(query)
    return [(c, s, int(n), int(r or 0)) for c, s, n, r in rows.all()]


@dataclass(frozen=True, slots=True)
class RegionCounts:
    region_id: int
    topics: int = 0
    resolved: int = 0
    petition_resolved: int = 0
    sessions: int = 0


async def counts_by_region(session: AsyncSession, region_path: str | None) -> list[RegionCounts]:
    """Topics, resolved, petition resolved and sessions held per region (the region
    a topic or session belongs to, not rolled up): the caller sums subtrees."""
    topics = _where(
        select(
            Topic.region_id.label("region_id"),
            func.count().label("topics"),
            _resolved().label("resolved"),
            _petition_resolved().label("petition"),
            literal(0).label("sessions"),
        ).group_by(Topic.region_id),
        _in_region(Topic.region_id, region_path),
    )
    sessions = _where(
        select(
            Deliberation.region_id,
            literal(0),
            literal(0),
            literal(0),
            func.count(),
        )
        .where(Deliberation.status.in_(HELD))
        .group_by(Deliberation.region_id),
        _in_region(Deliberation.region_id, region_path),
    )
    merged: dict[int, list[int]] = {}
    for region_id, n, resolved, petition, held in (
        await session.execute(union_all(topics, sessions))
    ).all():
        acc = merged.setdefault(int(region_id), [0, 0, 0, 0])
        for i, value in enumerate((n, resolved, petition, held)):
            acc[i] += int(value or 0)
    return [RegionCounts(rid, *acc) for rid, acc in merged.items()]


async def verdicts_by_region(
    session: AsyncSession, region_path: str | None, *, towns: bool = False
) -> list[tuple[int, str, int]]:
    """(rated topic's region id, verdict, evaluations). Only published outcomes can be
    rated, so every evaluation counts.

    ``towns``: a community's evaluations are counted under its town, for callers that
    need nothing finer (the city's and a county's dashboards, the open figures): a
    few hundred rows for the whole city instead of thousands."""
    if towns:
        region: Any = case(
            (Region.level == RegionLevel.COMMUNITY, Region.parent_id), else_=Region.id
        ).label("region_id")
        query = select(region, Evaluation.verdict, func.count()).join(
            Region, Region.id == Evaluation.region_id
        )
    else:
        region = Evaluation.region_id
        query = select(region, Evaluation.verdict, func.count())
    query = _where(
        query.group_by(region, Evaluation.verdict), _in_region(Evaluation.region_id, region_path)
    )
    return [(int(r), str(v), int(n)) for r, v, n in (await session.execute(query)).all()]


async def overdue_deadlines(
    session: AsyncSession, region_path: str | None, now: datetime
) -> list[tuple[str, int]]:
    """(stage, count) of supervised deadlines still open, not paused, and past due."""
    query = _where(
        select(TopicDeadline.stage, func.count())
        .join(Topic, Topic.id == TopicDeadline.topic_id)
        .where(
            TopicDeadline.closed_at.is_(None),
            TopicDeadline.paused_at.is_(None),
            TopicDeadline.due_at < now,
        )
        .group_by(TopicDeadline.stage),
        _in_region(Topic.region_id, region_path),
    )
    return [(str(s), int(n)) for s, n in (await session.execute(query)).all()]


async def outcome_due_counts(
    session: AsyncSession, region_path: str | None
) -> list[tuple[date, bool, int]]:
    """(due date, complete, count) of published outcomes: the caller flags each group with
    ``outcomes.model.outcome_flag``, so the dashboard flags exactly as the outcome pages."""
    published = select(
        Outcome.due_on.label("due_on"), (Outcome.percent >= 100).label("done")
    ).where(Outcome.status == OutcomeStatus.PUBLISHED)
    if region_path is not None:  # the whole city needs no join with the topics
        published = published.join(Topic, Topic.id == Outcome.topic_id)
    due = _where(published, _in_region(Topic.region_id, region_path)).subquery()
    query = select(due.c.due_on, due.c.done, func.count()).group_by(due.c.due_on, due.c.done)
    return [(d, bool(c), int(n)) for d, c, n in (await session.execute(query)).all()]


async def list_live_sessions(
    session: AsyncSession, region_path: str | None, *, limit: int = 20
) -> list[tuple[int, str, str, datetime | None]]:
    """(id, title, room name, started at) of sessions live now, latest started first."""
    query = _where(
        select(Deliberation.id, Deliberation.title, Room.name, Deliberation.started_at)
        .join(Room, Room.id == Deliberation.room_id)
        .where(Deliberation.status == DeliberationStatus.LIVE)
        .order_by(Deliberation.started_at.desc(), Deliberation.id.desc())
        .limit(limit),
        _in_region(Deliberation.region_id, region_path),
    )
    return [(int(i), t, r, s) for i, t, r, s in (await session.execute(query)).all()]


# --- open data: published outcomes --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishedOutcome:
    id: int
    number: str
    title: str
    category: str | None
    region_id: int
    decision: str
    unit_name: str | None
    lead: str
    due_on: date
    percent: int
    published_at: datetime | None


def _published_outcomes() -> AnySelect:
    return (
        select(
            Outcome.id,
            Topic.number,
            Topic.title,
            Topic.category,
            Topic.region_id,
            Outcome.decision,
            Unit.name,
            Outcome.lead,
            Outcome.due_on,
            Outcome.percent,
            Outcome.published_at,
        )
        .join(Topic, Topic.id == Outcome.topic_id)
        .outerjoin(Unit, Unit.id == Outcome.unit_id)
        .where(Outcome.status == OutcomeStatus.PUBLISHED)
    )


async def count_published_outcomes(session: AsyncSession) -> int:
    query = select(func.count()).select_from(Outcome)
    return int(await session.scalar(query.where(Outcome.status == OutcomeStatus.PUBLISHED)) or 0)


async def list_published_outcomes(
    session: AsyncSession, *, limit: int, offset: int = 0, after_id: int | None = None
) -> list[PublishedOutcome]:
    """Published outcomes by id (oldest first); ``after_id`` pages by key for exports."""
    query = _published_outcomes().order_by(Outcome.id).limit(limit).offset(offset)
    if after_id is not None:
        query = query.where(Outcome.id > after_id)
    return [PublishedOutcome(*row) for row in (await session.execute(query)).all()]


async def verdicts_of_outcomes(
    session: AsyncSession, outcome_ids: Sequence[int]
) -> list[tuple[int, str, int]]:
    if not outcome_ids:
        return []
    rows = await session.execute(
        select(Evaluation.outcome_id, Evaluation.verdict, func.count())
        .where(Evaluation.outcome_id.in_(outcome_ids))
        .group_by(Evaluation.outcome_id, Evaluation.verdict)
    )
    return [(int(o), str(v), int(n)) for o, v, n in rows.all()]


# --- Open311 ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: int
    number: str
    status: TopicStatus
    category: str | None
    subject: str | None
    title: str
    description: str
    unit_name: str | None
    room_name: str
    region_id: int
    created_at: datetime
    updated_at: datetime
    merged_into: str | None


@dataclass(frozen=True, slots=True)
class RequestFilter:
    numbers: tuple[str, ...] = ()  # when given, the other filters do not apply
    category: str | None = None
    subject: str | None = None
    unclassified: bool = False
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[TopicStatus, ...] = ()


def _requests(f: RequestFilter) -> AnySelect:
    survivor = aliased(Topic)
    query = (
        select(
            Topic.id,
            Topic.number,
            Topic.status,
            Topic.category,
            Topic.subject,
            Topic.title,
            Topic.description,
            Unit.name,
            Room.name,
            Topic.region_id,
            Topic.created_at,
            Topic.updated_at,
            survivor.number,
        )
        .join(Room, Room.id == Topic.room_id)
        .outerjoin(Unit, Unit.id == Topic.unit_id)
        .outerjoin(survivor, survivor.id == Topic.merged_into_id)
    )
    if f.numbers:
        return query.where(Topic.number.in_(f.numbers))
    if f.unclassified:
        query = query.where(or_(Topic.category.is_(None), Topic.subject.is_(None)))
    if f.category is not None:
        query = query.where(Topic.category == f.category)
    if f.subject is not None:
        query = query.where(Topic.subject == f.subject)
    if f.start is not None:
        query = query.where(Topic.created_at >= f.start)
    if f.end is not None:
        query = query.where(Topic.created_at <= f.end)
    if f.statuses:
        query = query.where(Topic.status.in_(f.statuses))
    return query


async def list_requests(
    session: AsyncSession, f: RequestFilter, *, limit: int, offset: int
) -> list[RequestRow]:
    """Topics as service requests, newest first."""
    query = _requests(f).order_by(Topic.created_at.desc(), Topic.id.desc())
    rows = await session.execute(query.limit(limit).offset(offset))
    return [RequestRow(*row) for row in rows.all()]


async def latest_public_notes(session: AsyncSession, topic_ids: Sequence[int]) -> dict[int, str]:
    """Each topic's latest public event note that says something."""
    if not topic_ids:
        return {}
    latest = (
        select(func.max(TopicEvent.id))
        .where(
            TopicEvent.topic_id.in_(topic_ids),
            TopicEvent.public.is_(True),
            TopicEvent.note != "",
        )
        .group_by(TopicEvent.topic_id)
    )
    rows = await session.execute(
        select(TopicEvent.topic_id, TopicEvent.note).where(TopicEvent.id.in_(latest))
    )
    return {int(t): n for t, n in rows.all()}


async def published_outcomes_of(
    session: AsyncSession, topic_ids: Sequence[int]
) -> dict[int, tuple[str, date, datetime]]:
    """topic id → (decision, due date, updated at) of its published outcome."""
    if not topic_ids:
        return {}
    rows = await session.execute(
        select(Outcome.topic_id, Outcome.decision, Outcome.due_on, Outcome.updated_at).where(
            Outcome.topic_id.in_(topic_ids), Outcome.status == OutcomeStatus.PUBLISHED
        )
    )
    return {int(t): (d, due, u) for t, d, due, u in rows.all()}


async def open_deadlines_of(session: AsyncSession, topic_ids: Sequence[int]) -> dict[int, datetime]:
    """topic id → the earliest due time of its open supervised deadlines."""
    if not topic_ids:
        return {}
    rows = await session.execute(
        select(TopicDeadline.topic_id, func.min(TopicDeadline.due_at))
        .where(TopicDeadline.topic_id.in_(topic_ids), TopicDeadline.closed_at.is_(None))
        .group_by(TopicDeadline.topic_id)
    )
    return {int(t): d for t, d in rows.all()}
