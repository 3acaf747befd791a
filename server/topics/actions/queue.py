"""The staff queue: topics in a territory, one topic in full."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import Forbidden, NotFound, ValidationFailed
from server.rooms import actions as rooms
from server.topics import store
from server.topics.actions import deadlines
from server.topics.actions.common import (
    StaffTopic,
    staff_view,
)
from server.topics.actions.deadlines import DeadlineView
from server.topics.model import (
    HANDLER_MOVES,
    OPEN_STATES,
    TRANSITIONS,
    ActorKind,
    EventKind,
    TopicKind,
    TopicSource,
    TopicStatus,
)
from server.topics.store import TopicFilter
from server.topics.supervision import Flag
from server.topics.tables import Topic

log = logging.getLogger(__name__)
# Moves with their own actions: they name a unit or a surviving topic.
ROUTED_OR_MERGED = frozenset({TopicStatus.MERGED, TopicStatus.DISPATCHED, TopicStatus.ASSIGNED})


@dataclass(frozen=True, slots=True)
class TopicList:
    topics: list[StaffTopic]
    total: int
    next_before_id: int | None


def handles_only(actor: Principal) -> bool:
    """A handler: sees the topics of its unit, not a territory."""
    return actor.can(Permission.HANDLE_TOPICS) and not actor.can(Permission.VIEW_TOPICS)


def may_see(actor: Principal, topic: Topic, region_path: str) -> None:
    if handles_only(actor):
        if actor.must_change_password:
            actor.require(Permission.HANDLE_TOPICS)
        if topic.unit_id is None or topic.unit_id != actor.unit_id:
            raise Forbidden("That topic is not assigned to your unit.")
        return
    actor.require(Permission.VIEW_TOPICS, region_path)


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
    subjects: tuple[str, ...] = (),
    unit_id: int | None = None,
    flag: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> TopicList:
    """The actor's queue, newest first: topics in their territory, or for a handler the
    topics assigned to their unit."""
    if handles_only(actor):  # a handler's queue is its unit's, whatever was asked
        actor.require(Permission.HANDLE_TOPICS)  # refuses a one-time password
        unit_id = actor.unit_id if actor.unit_id is not None else -1
        own_unit = True
    else:
        actor.require(Permission.VIEW_TOPICS)
        own_unit = False
    # A unit's topics may come from any region it serves, above the handler's own.
    under = "/" if own_unit else actor.region_path
    if region_id is not None:
        region = await rooms.get_region(ctx, region_id)
        if region is None:
            raise ValidationFailed("Unknown region.", fields={"region_id": "No such region."})
        if not own_unit:
            actor.require(Permission.VIEW_TOPICS, region.path)
        under = region.path
    due_from = due_before = due_until = None
    if flag is not None:
        now, near = deadlines.flag_bounds(ctx)
        if flag == "overdue":
            due_before = now
        elif flag == "near":
            due_from, due_until = now, near
        else:
            raise ValidationFailed("Unknown flag.", fields={"flag": "overdue or near."})
    f = TopicFilter(
        due_from=due_from,
        due_before=due_before,
        due_until=due_until,
        subjects=subjects,
        unit_id=unit_id,
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
        page = [t.id for t, _, _ in rows[:limit]]
        counts = await store.count_photos(session, page)
        flags = await deadlines.flags_for(ctx, session, page)
    items = [
        with_flag(staff_view(t, room.name, room.code, region.name, counts.get(t.id, 0)), flags)
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
    may_see(actor, topic, region.path)
    return await ctx.files.read(photo.relpath)


def with_flag(topic: StaffTopic, flags: dict[int, tuple[Flag, datetime]]) -> StaffTopic:
    found = flags.get(topic.id)
    return replace(topic, flag=found[0], due_at=found[1]) if found else topic


@dataclass(frozen=True, slots=True)
class StaffEvent:
    id: int
    kind: EventKind
    at: datetime
    actor_kind: ActorKind
    actor_id: int | None
    from_status: TopicStatus | None
    to_status: TopicStatus
    note: str
    public: bool
    photo_ids: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "photo_ids": list(self.photo_ids),
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
    deadlines: list[DeadlineView] = field(default_factory=list)
    may_handle: bool = False  # contact, progress, pause, extension
    may_supervise: bool = False  # decide extensions

    def to_json(self) -> dict[str, Any]:
        return {
            **self.topic.to_json(),
            "events": [e.to_json() for e in self.events],
            "photo_ids": self.photo_ids,
            "moves": [str(m) for m in self.moves],
            "deadlines": [d.to_json() for d in self.deadlines],
            "may_handle": self.may_handle,
            "may_supervise": self.may_supervise,
        }


async def staff_topic(ctx: Context, topic_id: int) -> StaffTopic:
    """A topic as staff see it, with its deadline flag, for who just changed it: after a
    hand-off the actor may no longer be one who may see it. No authorisation here."""
    async with ctx.db.read() as session:
        found = await store.get_topic_with_place(session, topic_id)
        if found is None:
            raise NotFound(f"No topic with id {topic_id}.")
        topic, room, region = found
        photos = await store.count_photos(session, [topic_id])
        flags = await deadlines.flags_for(ctx, session, [topic_id])
    view = staff_view(topic, room.name, room.code, region.name, photos.get(topic_id, 0))
    return with_flag(view, flags)


async def topic_detail(ctx: Context, actor: Principal, topic_id: int) -> TopicDetail:
    """One topic as staff see it: its full timeline, photos, and the moves open to the actor."""
    async with ctx.db.read() as session:
        found = await store.get_topic_with_place(session, topic_id)
        if found is None:
            raise NotFound(f"No topic with id {topic_id}.")
        topic, room, region = found
        may_see(actor, topic, region.path)
        events = await store.list_events(session, topic_id, public_only=False)
        photos = await store.list_photos(session, topic_id)
        clocks = await deadlines.topic_deadlines(ctx, session, topic_id)
    moves = []
    supervises = actor.can(Permission.DISPATCH_TOPICS) and actor.covers(region.path)
    if supervises:
        moves = sorted(TRANSITIONS[topic.status] - ROUTED_OR_MERGED)
    elif handles_only(actor):
        moves = sorted(TRANSITIONS[topic.status] & HANDLER_MOVES)
    by_event: dict[int, list[int]] = {}
    for p in photos:
        if p.event_id is not None:
            by_event.setdefault(p.event_id, []).append(p.id)
    running = [d for d in clocks if d.flag is not None]
    first = min(running, key=lambda d: (d.flag is Flag.PAUSED, d.due_at), default=None)
    view = staff_view(topic, room.name, room.code, region.name, len(photos))
    if first is not None:
        view = replace(view, flag=first.flag, due_at=first.due_at)
    return TopicDetail(
        topic=view,
        events=[
            StaffEvent(
                e.id,
                e.kind,
                e.at,
                e.actor_kind,
                e.actor_id,
                e.from_status,
                e.to_status,
                e.note,
                e.public,
                tuple(by_event.get(e.id, ())),
            )
            for e in events
        ],
        photo_ids=[p.id for p in photos if p.event_id is None],
        moves=moves,
        deadlines=clocks,
        may_handle=topic.status in OPEN_STATES
        and (supervises or (handles_only(actor) and topic.unit_id == actor.unit_id)),
        may_supervise=supervises,
    )
