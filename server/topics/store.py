"""Queries on topics, their photos, events and number counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from server.rooms.tables import Region, Room
from server.topics.model import OPEN_STATES, TopicKind, TopicSource, TopicStatus
from server.topics.supervision import ExtensionStatus, Flag
from server.topics.tables import (
    DeadlineExtension,
    Notification,
    RoutingRule,
    Topic,
    TopicCorrection,
    TopicCounter,
    TopicDeadline,
    TopicEvent,
    TopicPhoto,
)


async def take_numbers(session: AsyncSession, key: str, count: int) -> int:
    """Advance the series' counter by ``count`` and return its new value (the last number).

    One upsert: the row is created on first use, and its lock is held until the
    caller's transaction ends, so two transactions never take the same values; a
    rolled-back one gives its values back. Requires an open write transaction.
    """
    dialect = session.get_bind().dialect.name
    make_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    upsert = make_insert(TopicCounter).values(key=key, value=count)
    value = await session.scalar(
        upsert.on_conflict_do_update(
            index_elements=["key"], set_={"value": TopicCounter.value + count}
        ).returning(TopicCounter.value)
    )
    assert value is not None
    return int(value)


async def insert_topics(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Insert topics in one statement; their ids, in the order of ``rows``."""
    result = await session.execute(
        insert(Topic).returning(Topic.id, sort_by_parameter_order=True), rows
    )
    return [row[0] for row in result.all()]


async def insert_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(TopicEvent), rows)


def new_event(**values: Any) -> TopicEvent:
    """An event row for ``session.add``, when its id is needed (photos point at it)."""
    return TopicEvent(**values)


async def insert_photos(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(TopicPhoto), rows)


async def get_topic(session: AsyncSession, topic_id: int) -> Topic | None:
    return await session.get(Topic, topic_id)


async def get_topic_with_place(
    session: AsyncSession, topic_id: int
) -> tuple[Topic, Room, Region] | None:
    query = (
        select(Topic, Room, Region)
        .join(Room, Topic.room_id == Room.id)
        .join(Region, Topic.region_id == Region.id)
        .where(Topic.id == topic_id)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1], row[2]) if row else None


async def topics_with_places(
    session: AsyncSession, topic_ids: list[int]
) -> list[tuple[Topic, Room, Region]]:
    query = (
        select(Topic, Room, Region)
        .join(Room, Topic.room_id == Room.id)
        .join(Region, Topic.region_id == Region.id)
        .where(Topic.id.in_(topic_ids))
    )
    return [(t, room, region) for t, room, region in (await session.execute(query)).all()]


async def topics_for_agenda(
    session: AsyncSession,
    *,
    ids: Sequence[int] = (),
    numbers: Sequence[str] = (),
    lock: bool = False,
) -> list[tuple[Topic, str]]:
    """Topics by id or number with their region's path, in the order asked; ``lock``
    holds the topic rows (not the regions') until the transaction ends."""
    if not ids and not numbers:
        return []
    query = (
        select(Topic, Region.path)
        .join(Region, Topic.region_id == Region.id)
        .where(Topic.id.in_(ids) | Topic.number.in_(numbers))
    )
    if lock:
        query = query.with_for_update(of=Topic)
    rows = {t.id: (t, path) for t, path in (await session.execute(query)).all()}
    by_number = {t.number: t.id for t, _ in rows.values()}
    order = [*ids, *(by_number.get(n, -1) for n in numbers)]
    return [rows[i] for i in dict.fromkeys(order) if i in rows]


async def update_topic(
    session: AsyncSession,
    topic_id: int,
    *,
    expected_version: int,
    now: datetime,
    values: dict[str, Any],
) -> bool:
    """Apply ``values`` if the row is still at ``expected_version``; False if it is not.

    The version check is in the UPDATE itself, so of two concurrent writers only one
    can succeed, whatever the isolation level. Requires an open write transaction.
    """
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(Topic)
            .where(Topic.id == topic_id, Topic.version == expected_version)
            .values(**values, version=Topic.version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount > 0


async def list_rules_for_regions(session: AsyncSession, region_ids: list[int]) -> list[RoutingRule]:
    query = select(RoutingRule).where(RoutingRule.region_id.in_(region_ids))
    return list((await session.scalars(query)).all())


async def list_rules(session: AsyncSession, *, under_path: str) -> list[tuple[RoutingRule, Region]]:
    query = (
        select(RoutingRule, Region)
        .join(Region, RoutingRule.region_id == Region.id)
        .where(Region.path.startswith(under_path, autoescape=True))
        .order_by(Region.path, RoutingRule.category, RoutingRule.subject)
    )
    return [(rule, region) for rule, region in (await session.execute(query)).all()]


async def get_rule(
    session: AsyncSession, region_id: int, category: str, subject: str
) -> RoutingRule | None:
    return await session.scalar(
        select(RoutingRule).where(
            RoutingRule.region_id == region_id,
            RoutingRule.category == category,
            RoutingRule.subject == subject,
        )
    )


async def get_rule_by_id(session: AsyncSession, rule_id: int) -> RoutingRule | None:
    return await session.get(RoutingRule, rule_id)


async def get_topic_by_tracking(session: AsyncSession, digest: str) -> Topic | None:
    return await session.scalar(select(Topic).where(Topic.tracking_digest == digest))


async def list_events(
    session: AsyncSession, topic_id: int, *, public_only: bool
) -> list[TopicEvent]:
    query = select(TopicEvent).where(TopicEvent.topic_id == topic_id)
    if public_only:
        query = query.where(TopicEvent.public)
    return list((await session.scalars(query.order_by(TopicEvent.id))).all())


async def list_photos(session: AsyncSession, topic_id: int) -> list[TopicPhoto]:
    query = select(TopicPhoto).where(TopicPhoto.topic_id == topic_id).order_by(TopicPhoto.position)
    return list((await session.scalars(query)).all())


async def count_photos(session: AsyncSession, topic_ids: list[int]) -> dict[int, int]:
    if not topic_ids:
        return {}
    query = (
        select(TopicPhoto.topic_id, func.count(TopicPhoto.id))
        .where(TopicPhoto.topic_id.in_(topic_ids))
        .group_by(TopicPhoto.topic_id)
    )
    return {topic_id: int(n) for topic_id, n in (await session.execute(query)).all()}


async def get_photo(session: AsyncSession, topic_id: int, photo_id: int) -> TopicPhoto | None:
    return await session.scalar(
        select(TopicPhoto).where(TopicPhoto.topic_id == topic_id, TopicPhoto.id == photo_id)
    )


@dataclass(frozen=True, slots=True)
class TopicFilter:
    under_path: str = "/"
    statuses: tuple[TopicStatus, ...] = ()
    categories: tuple[str, ...] = ()
    kind: TopicKind | None = None
    source: TopicSource | None = None
    room_id: int | None = None
    unit_id: int | None = None
    search: str | None = None
    subjects: tuple[str, ...] = ()
    # Topics with a running deadline due at or after due_from, and before due_before or
    # at the latest at due_until: red is [-, now), yellow is [now, end of the warning].
    due_from: datetime | None = None
    due_before: datetime | None = None
    due_until: datetime | None = None


def _conditions(f: TopicFilter) -> list[ColumnElement[bool]]:
    """The filter on the topics table alone: the count needs no join, and the territory
    is the ids of the regions under a path (ix_topics_region_id_id serves them)."""
    conds: list[ColumnElement[bool]] = []
    if f.under_path != "/":
        under = select(Region.id).where(Region.path.startswith(f.under_path, autoescape=True))
        conds.append(Topic.region_id.in_(under))
    if f.statuses:
        conds.append(Topic.status.in_(f.statuses))
    if f.categories:
        conds.append(Topic.category.in_(f.categories))
    if f.kind is not None:
        conds.append(Topic.kind == f.kind)
    if f.source is not None:
        conds.append(Topic.source == f.source)
    if f.room_id is not None:
        conds.append(Topic.room_id == f.room_id)
    if f.unit_id is not None:
        conds.append(Topic.unit_id == f.unit_id)
    if f.subjects:
        conds.append(Topic.subject.in_(f.subjects))
    if f.due_from is not None or f.due_before is not None or f.due_until is not None:
        due = select(TopicDeadline.id).where(
            TopicDeadline.topic_id == Topic.id,
            TopicDeadline.closed_at.is_(None),
            TopicDeadline.paused_at.is_(None),
        )
        if f.due_from is not None:
            due = due.where(TopicDeadline.due_at >= f.due_from)
        if f.due_before is not None:
            due = due.where(TopicDeadline.due_at < f.due_before)
        if f.due_until is not None:
            due = due.where(TopicDeadline.due_at <= f.due_until)
        conds.append(due.exists())
    if f.search:
        term = f.search.strip()
        conds.append(Topic.title.contains(term, autoescape=True) | (Topic.number == term.upper()))
    return conds


async def list_topics(
    session: AsyncSession, f: TopicFilter, *, limit: int, before_id: int | None = None
) -> list[tuple[Topic, Room, Region]]:
    """Newest first; page with ``before_id`` (the last id of the previous page)."""
    query = (
        select(Topic, Room, Region)
        .join(Room, Topic.room_id == Room.id)
        .join(Region, Topic.region_id == Region.id)
        .where(*_conditions(f))
    )
    if before_id is not None:
        query = query.where(Topic.id < before_id)
    rows = await session.execute(query.order_by(Topic.id.desc()).limit(limit))
    return [(t, room, region) for t, room, region in rows.all()]


async def count_topics(session: AsyncSession, f: TopicFilter) -> int:
    query = select(func.count()).select_from(Topic).where(*_conditions(f))
    return int(await session.scalar(query) or 0)


def new_correction(**values: Any) -> TopicCorrection:
    return TopicCorrection(**values)


async def list_corrections(session: AsyncSession) -> list[tuple[str, str, str]]:
    """Every correction as (topic text, field, new label), oldest first."""
    query = select(TopicCorrection.text, TopicCorrection.field, TopicCorrection.to_label)
    rows = await session.execute(query.order_by(TopicCorrection.id))
    return [(text, field, label) for text, field, label in rows.all()]


# --- supervision: deadlines, extensions, notifications -------------------------------------


async def insert_deadlines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(TopicDeadline), rows)


async def open_deadlines(session: AsyncSession, topic_id: int) -> list[TopicDeadline]:
    query = select(TopicDeadline).where(
        TopicDeadline.topic_id == topic_id, TopicDeadline.closed_at.is_(None)
    )
    return list((await session.scalars(query.order_by(TopicDeadline.id))).all())


async def list_deadlines(session: AsyncSession, topic_id: int) -> list[TopicDeadline]:
    query = select(TopicDeadline).where(TopicDeadline.topic_id == topic_id)
    return list((await session.scalars(query.order_by(TopicDeadline.id))).all())


async def get_deadline(session: AsyncSession, deadline_id: int) -> TopicDeadline | None:
    return await session.get(TopicDeadline, deadline_id)


async def earliest_open_deadlines(
    session: AsyncSession, topic_ids: list[int]
) -> dict[int, tuple[datetime, bool]]:
    """Per topic, its most pressing open deadline: (due, paused). Unpaused ones first."""
    if not topic_ids:
        return {}
    query = select(TopicDeadline.topic_id, TopicDeadline.due_at, TopicDeadline.paused_at).where(
        TopicDeadline.topic_id.in_(topic_ids), TopicDeadline.closed_at.is_(None)
    )
    found: dict[int, tuple[datetime, bool]] = {}
    for topic_id, due, paused_at in (await session.execute(query)).all():
        key = (due, paused_at is not None)
        best = found.get(topic_id)
        if best is None or (key[1], key[0]) < (best[1], best[0]):
            found[topic_id] = key
    return found


async def due_deadlines(
    session: AsyncSession, *, until: datetime, limit: int
) -> list[tuple[TopicDeadline, Topic, Region]]:
    """Open, running deadlines due by ``until``: the reminder sweep's work."""
    query = (
        select(TopicDeadline, Topic, Region)
        .join(Topic, TopicDeadline.topic_id == Topic.id)
        .join(Region, Topic.region_id == Region.id)
        .where(
            TopicDeadline.closed_at.is_(None),
            TopicDeadline.paused_at.is_(None),
            TopicDeadline.due_at <= until,
        )
        .order_by(TopicDeadline.due_at, TopicDeadline.id)
        .limit(limit)
    )
    return [(d, t, g) for d, t, g in (await session.execute(query)).all()]


async def mark_reminded(
    session: AsyncSession, deadline_id: int, *, was: Flag, now_flag: Flag
) -> bool:
    """Claim a reminder: only one process moves a deadline from ``was`` to ``now_flag``."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(TopicDeadline)
            .where(
                TopicDeadline.id == deadline_id,
                TopicDeadline.reminded == was,
                TopicDeadline.closed_at.is_(None),
            )
            .values(reminded=now_flag)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount > 0


async def insert_extension(session: AsyncSession, **values: Any) -> DeadlineExtension:
    row = DeadlineExtension(**values)
    session.add(row)
    await session.flush()
    return row


async def get_extension(session: AsyncSession, extension_id: int) -> DeadlineExtension | None:
    return await session.get(DeadlineExtension, extension_id)


async def list_extensions(session: AsyncSession, topic_id: int) -> list[DeadlineExtension]:
    query = select(DeadlineExtension).where(DeadlineExtension.topic_id == topic_id)
    return list((await session.scalars(query.order_by(DeadlineExtension.id))).all())


async def pending_extension(session: AsyncSession, deadline_id: int) -> DeadlineExtension | None:
    return await session.scalar(
        select(DeadlineExtension).where(
            DeadlineExtension.deadline_id == deadline_id,
            DeadlineExtension.status == ExtensionStatus.REQUESTED,
        )
    )


async def insert_notifications(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(Notification), rows)


async def list_notifications(
    session: AsyncSession, user_id: int, *, unread_only: bool, limit: int
) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list((await session.scalars(query.order_by(Notification.id.desc()).limit(limit))).all())


async def count_unread(session: AsyncSession, user_id: int) -> int:
    query = select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int(await session.scalar(query) or 0)


async def mark_notifications_read(
    session: AsyncSession, user_id: int, ids: list[int] | None, now: datetime
) -> int:
    query = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    result = cast(
        CursorResult[Any],
        await session.execute(
            query.values(read_at=now).execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount


async def changed_topics(
    session: AsyncSession, *, since: datetime | None
) -> list[tuple[int, int, datetime, datetime, str, str, TopicStatus]]:
    """Topics changed at or after ``since`` (all, if None), for the similar-topic index:
    (id, room, created, updated, title, description, status)."""
    query = select(
        Topic.id,
        Topic.room_id,
        Topic.created_at,
        Topic.updated_at,
        Topic.title,
        Topic.description,
        Topic.status,
    )
    if since is not None:
        query = query.where(Topic.updated_at >= since)
    else:  # the first build needs only what it will index
        query = query.where(Topic.status.in_(OPEN_STATES))
    rows = await session.execute(query.order_by(Topic.id))
    return [tuple(r) for r in rows.all()]  # type: ignore[misc]
