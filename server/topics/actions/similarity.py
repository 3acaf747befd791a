"""Similar topics (相似议题) and clusters of widespread matters (普遍性问题), for staff.

Each process keeps an in-memory index (server/topics/similar.py) of the open topics'
text: a cache of the database. It is built once in a worker thread when the app starts
and then catches up on what changed (in this process or any other) before a lookup,
at most every ``SYNC_SECONDS``: rows whose ``updated_at`` moved since the last catch-up,
re-read with an overlap so a transaction that committed late is not missed. Intake does
not touch the index, so a resident's request never pays for it; staff pay for one
catch-up query when they look.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import Forbidden, NotFound, ValidationFailed
from server.topics import store
from server.topics.actions.common import StaffTopic, staff_view
from server.topics.actions.queue import may_see
from server.topics.model import OPEN_STATES
from server.topics.similar import Cluster, Doc, Match, SimilarityIndex, clusters
from server.topics.tables import Topic

log = logging.getLogger(__name__)
SYNC_SECONDS = 0.5
OVERLAP = timedelta(seconds=10)  # longer than any write transaction
_Row = tuple[int, int, datetime, datetime, str, str, Any]


@dataclass
class _State:
    index: SimilarityIndex = field(default_factory=SimilarityIndex)
    watermark: datetime | None = None
    synced_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    building: asyncio.Task[int] | None = None


def _state(ctx: Context) -> _State:
    state: _State | None = ctx.db.shared.get("topics.similar")
    if state is None:
        state = _State()
        ctx.db.shared["topics.similar"] = state
    return state


def _doc(row: _Row) -> Doc:
    topic_id, room_id, created_at, _updated, title, description, _status = row
    return Doc(topic_id, room_id, created_at, f"{title}\n{description}")


def _apply(index: SimilarityIndex, rows: list[_Row]) -> datetime | None:
    """Bring the index in line with these rows; the latest ``updated_at`` among them."""
    latest = None
    for row in rows:
        topic_id, status, updated = row[0], row[6], row[3]
        if status in OPEN_STATES:
            if topic_id not in index:  # a topic's text never changes
                index.add(_doc(row))
        else:
            index.remove(topic_id)
        latest = updated if latest is None or updated > latest else latest
    return latest


def start_building(ctx: Context) -> asyncio.Task[int]:
    """Build the index in the background (the app does this as it starts); the first
    lookup waits for it. Idempotent."""
    state = _state(ctx)
    if state.building is None:
        state.building = asyncio.get_running_loop().create_task(build(ctx))
    return state.building


async def build(ctx: Context) -> int:
    """Build the index from every open topic, in a worker thread. Returns its size."""
    state = _state(ctx)
    async with state.lock:
        async with ctx.db.read() as session:
            rows = await store.changed_topics(session, since=None)

        def make() -> tuple[SimilarityIndex, datetime | None]:
            index = SimilarityIndex()
            return index, _apply(index, rows)

        state.index, state.watermark = await asyncio.to_thread(make)
        state.synced_at = ctx.clock.monotonic()
    log.info("similar-topic index built: %d open topics", len(state.index))
    return len(state.index)


@asynccontextmanager
async def _index(ctx: Context) -> AsyncIterator[SimilarityIndex]:
    """The index, caught up, held for the block: one user at a time (it is not
    thread-safe, and clustering runs in a worker thread)."""
    state = _state(ctx)
    await asyncio.shield(start_building(ctx))
    async with state.lock:
        if ctx.clock.monotonic() - state.synced_at >= SYNC_SECONDS:
            since = state.watermark - OVERLAP if state.watermark else None
            async with ctx.db.read() as session:
                rows = await store.changed_topics(session, since=since)
            if len(rows) > 500:  # a bulk change: keep the loop responsive
                latest = await asyncio.to_thread(_apply, state.index, rows)
            else:
                latest = _apply(state.index, rows)
            if latest is not None and (state.watermark is None or latest > state.watermark):
                state.watermark = latest
            state.synced_at = ctx.clock.monotonic()
        yield state.index


@dataclass(frozen=True, slots=True)
class SimilarTopic:
    topic: StaffTopic
    score: float
    shared: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic.to_json(), "score": round(self.score, 3), "shared": self.shared}


async def _visible(ctx: Context, actor: Principal, ids: list[int]) -> dict[int, StaffTopic]:
    """The topics among ``ids`` the actor may see, as staff see them."""
    if not ids:
        return {}
    async with ctx.db.read() as session:
        rows = await store.topics_with_places(session, ids)
        counts = await store.count_photos(session, ids)
    seen = {}
    for topic, room, region in rows:
        try:
            may_see(actor, topic, region.path)
        except Forbidden:  # outside the actor's territory or unit
            continue
        seen[topic.id] = staff_view(
            topic, room.name, room.code, region.name, counts.get(topic.id, 0)
        )
    return seen


async def similar_topics(
    ctx: Context, actor: Principal, topic: Topic, *, limit: int = 8
) -> list[SimilarTopic]:
    """Open topics that say the same thing as ``topic``, in any room the actor may see,
    best first. The caller has checked that the actor may see ``topic`` itself."""
    async with _index(ctx) as index:
        matches = index.similar(
            f"{topic.title}\n{topic.description}",
            limit=limit * 3,  # some may be outside the actor's territory
            threshold=ctx.settings.similar_threshold,
            exclude={topic.id},
        )
    seen = await _visible(ctx, actor, [m.topic_id for m in matches])
    return [
        SimilarTopic(seen[m.topic_id], m.score, m.shared) for m in matches if m.topic_id in seen
    ][:limit]


async def similar_to_text(ctx: Context, text: str, *, limit: int = 8) -> list[Match]:
    """Matches for text not yet stored (the benchmark's "new submission" lookup)."""
    async with _index(ctx) as index:
        return index.similar(text, limit=limit, threshold=ctx.settings.similar_threshold)


@dataclass(frozen=True, slots=True)
class ClusterView:
    topics: list[StaffTopic]
    room_count: int
    top_terms: tuple[str, ...]
    first_at: datetime
    last_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "topics": [t.to_json() for t in self.topics],
            "topic_count": len(self.topics),
            "room_count": self.room_count,
            "top_terms": self.top_terms,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ClusterQuery:
    days: int
    threshold: float
    min_topics: int
    min_rooms: int


def cluster_query(
    ctx: Context,
    *,
    days: int | None = None,
    threshold: float | None = None,
    min_topics: int | None = None,
    min_rooms: int | None = None,
) -> ClusterQuery:
    """The settings' thresholds, overridden by what the dispatcher asked for, checked."""
    s = ctx.settings
    q = ClusterQuery(
        days if days is not None else s.cluster_days,
        threshold if threshold is not None else s.cluster_threshold,
        min_topics if min_topics is not None else s.cluster_min_topics,
        min_rooms if min_rooms is not None else s.cluster_min_rooms,
    )
    errors = {}
    if not 1 <= q.days <= 366:
        errors["days"] = "1 to 366."
    if not 0.05 <= q.threshold <= 1:
        errors["threshold"] = "0.05 to 1."
    if not 2 <= q.min_topics <= 1000:
        errors["min_topics"] = "2 to 1000."
    if not 1 <= q.min_rooms <= 1000:
        errors["min_rooms"] = "1 to 1000."
    if errors:
        raise ValidationFailed("The cluster thresholds are out of range.", fields=errors)
    return q


async def topic_clusters(ctx: Context, actor: Principal, q: ClusterQuery) -> list[ClusterView]:
    """Groups of similar open topics from several rooms raised in the last ``q.days``:
    candidates for escalation. Only the topics in the actor's territory count; a
    group that falls below the thresholds without the others is not shown."""
    actor.require(Permission.VIEW_TOPICS)  # handlers have a unit's queue, not a territory
    until = ctx.clock.now() + timedelta(seconds=1)
    since = until - timedelta(days=q.days)
    async with _index(ctx) as index:
        found: list[Cluster] = await asyncio.to_thread(
            clusters,
            index,
            threshold=q.threshold,
            min_topics=q.min_topics,
            min_rooms=q.min_rooms,
            since=since,
            until=until,
        )
    seen = await _visible(ctx, actor, [i for c in found for i in c.topic_ids])
    views = []
    for c in found:
        members = [seen[i] for i in c.topic_ids if i in seen]
        room_ids = {t.room_id for t in members}
        if len(members) < q.min_topics or len(room_ids) < q.min_rooms:
            continue
        views.append(
            ClusterView(
                members,
                len(room_ids),
                c.top_terms,
                min(t.created_at for t in members),
                max(t.created_at for t in members),
            )
        )
    return views


async def similar_for_topic(
    ctx: Context, actor: Principal, topic_id: int, *, limit: int = 8
) -> list[SimilarTopic]:
    """Open topics like this one that the actor may see (it must see this one too)."""
    async with ctx.db.read() as session:
        found = await store.get_topic_with_place(session, topic_id)
    if found is None:
        raise NotFound(f"No topic with id {topic_id}.")
    topic, _room, region = found
    may_see(actor, topic, region.path)
    return await similar_topics(ctx, actor, topic, limit=limit)
