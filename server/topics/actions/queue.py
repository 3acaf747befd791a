"""The staff queue: topics in a territory, one topic in full."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import NotFound, ValidationFailed
from server.rooms import actions as rooms
from server.topics import store
from server.topics.actions.common import (
    StaffTopic,
    staff_view,
)
from server.topics.model import (
    TRANSITIONS,
    ActorKind,
    TopicKind,
    TopicSource,
    TopicStatus,
)
from server.topics.store import TopicFilter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicList:
    topics: list[StaffTopic]
    total: int
    next_before_id: int | None


async def list_topics(
    ctx: Context,
    actor: Principal,
    *,
    region_id: int | None = None,
    statuses: tuple[TopicStatus, ...] = (),
    categories: tuple[str, ...] = (),
    kind: TopicKind | None = None,
    source: TopicSource | None = None,
    search: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> TopicList:
    """The actor's queue: topics in their territory, newest first."""
    actor.require(Permission.VIEW_TOPICS)
    under = actor.region_path
    if region_id is not None:
        region = await rooms.get_region(ctx, region_id)
        if region is None:
            raise ValidationFailed("Unknown region.", fields={"region_id": "No such region."})
        actor.require(Permission.VIEW_TOPICS, region.path)
        under = region.path
    f = TopicFilter(
        under_path=under,
        statuses=statuses,
        categories=categories,
        kind=kind,
        source=source,
        search=search,
    )
    async with ctx.db.read() as session:
        rows = await store.list_topics(session, f, limit=limit + 1, before_id=before_id)
        total = await store.count_topics(session, f)
        counts = await store.count_photos(session, [t.id for t, _, _ in rows[:limit]])
    items = [
        staff_view(t, room.name, room.code, region.name, counts.get(t.id, 0))
        for t, room, region in rows[:limit]
    ]
    more = len(rows) > limit
    return TopicList(items, total, items[-1].id if more and items else None)


async def staff_photo(ctx: Context, actor: Principal, topic_id: int, photo_id: int) -> bytes:
    async with ctx.db.read() as session:
        topic = await store.get_topic(session, topic_id)
        photo = await store.get_photo(session, topic_id, photo_id) if topic else None
    if topic is None or photo is None:
        raise NotFound("No such photo.")
    region = await rooms.get_region(ctx, topic.region_id)
    assert region is not None
    actor.require(Permission.VIEW_TOPICS, region.path)
    return await ctx.files.read(photo.relpath)


@dataclass(frozen=True, slots=True)
class StaffEvent:
    at: datetime
    actor_kind: ActorKind
    actor_id: int | None
    from_status: TopicStatus | None
    to_status: TopicStatus
    note: str
    public: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id,
            "from": self.from_status,
            "to": self.to_status,
            "note": self.note,
            "public": self.public,
        }


@dataclass(frozen=True, slots=True)
class TopicDetail:
    topic: StaffTopic
    events: list[StaffEvent]
    photo_ids: list[int]
    moves: list[TopicStatus]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.topic.to_json(),
            "events": [e.to_json() for e in self.events],
            "photo_ids": self.photo_ids,
            "moves": [str(m) for m in self.moves],
        }


async def topic_detail(ctx: Context, actor: Principal, topic_id: int) -> TopicDetail:
    """One topic as staff see it: its full timeline, photos, and the moves open to the actor."""
    async with ctx.db.read() as session:
        found = await store.get_topic_with_place(session, topic_id)
        if found is None:
            raise NotFound(f"No topic with id {topic_id}.")
        topic, room, region = found
        actor.require(Permission.VIEW_TOPICS, region.path)
        events = await store.list_events(session, topic_id, public_only=False)
        photos = await store.list_photos(session, topic_id)
    moves = []
    if actor.can(Permission.DISPATCH_TOPICS):
        moves = sorted(TRANSITIONS[topic.status] - {TopicStatus.MERGED})
    return TopicDetail(
        topic=staff_view(topic, room.name, room.code, region.name, len(photos)),
        events=[
            StaffEvent(e.at, e.actor_kind, e.actor_id, e.from_status, e.to_status, e.note, e.public)
            for e in events
        ],
        photo_ids=[p.id for p in photos],
        moves=moves,
    )
