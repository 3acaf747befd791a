"""The workflow (解题): moving topics between states, merging duplicates."""

from __future__ import annotations

import logging

from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import InvalidTransitionError, NotFound, StaleUpdate, ValidationFailed
from server.topics import store
from server.topics.actions.common import (
    MAX_NOTE,
    StaffTopic,
    publish_for_region,
    staff_view,
)
from server.topics.actions.queue import topic_detail
from server.topics.model import (
    ActorKind,
    InvalidTransition,
    TopicStatus,
    transition,
)

log = logging.getLogger(__name__)


async def move_topic(
    ctx: Context,
    actor: Principal,
    topic_id: int,
    target: TopicStatus,
    *,
    version: int,
    note: str = "",
) -> StaffTopic:
    """Move a topic along the workflow (解题) and record who, when, from, to and why.

    ``version`` is the version the actor saw: if the topic changed since, nothing is
    written and StaleUpdate names its current state and version, so two dispatchers
    acting at once never overwrite each other. Moves the workflow table does not allow
    raise InvalidTransitionError naming the current state. A rejection needs a reason,
    which the submitter sees on their tracking page.
    """
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed("The note is too long.", fields={"note": f"At most {MAX_NOTE}."})
    if target is TopicStatus.REJECTED and not note:
        raise ValidationFailed("Say why the topic is rejected.", fields={"note": "Required."})
    if target is TopicStatus.MERGED:
        raise ValidationFailed(
            "Merging names the surviving topic; use merge.", fields={"to": "Use merge."}
        )
    async with ctx.db.read() as session:
        found = await store.get_topic_with_place(session, topic_id)
    if found is None:
        raise NotFound(f"No topic with id {topic_id}.")
    _topic, room, region = found
    actor.require(Permission.DISPATCH_TOPICS, region.path)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        current = await store.get_topic(session, topic_id)
        assert current is not None
        if current.version != version:
            raise StaleUpdate(
                f"The topic changed since you loaded it: it is now {current.status} "
                f"(version {current.version}).",
                fields={"status": current.status, "version": str(current.version)},
            )
        try:
            transition(current.status, target)
        except InvalidTransition as exc:
            raise InvalidTransitionError(str(exc), fields={"status": current.status}) from None
        moved = await store.update_topic(
            session, topic_id, expected_version=version, now=now, values={"status": target}
        )
        if not moved:  # another process won the race between our read and our update
            raise StaleUpdate("The topic changed while you were acting; reload it.")
        await store.insert_events(
            session,
            [
                {
                    "topic_id": topic_id,
                    "at": now,
                    "actor_kind": ActorKind.STAFF,
                    "actor_id": actor.user_id,
                    "from_status": current.status,
                    "to_status": target,
                    "note": note,
                    "public": True,
                }
            ],
        )
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="topic.move",
            target=f"topic:{topic_id}",
            detail={"from": current.status, "to": target, "note": note},
        )
        old_status = current.status
    async with ctx.db.read() as session:
        refreshed = await store.get_topic(session, topic_id)
        photos = await store.count_photos(session, [topic_id])
    assert refreshed is not None
    view = staff_view(refreshed, room.name, room.code, region.name, photos.get(topic_id, 0))
    log.info("topic %s moved %s -> %s by %s", view.number, old_status, target, actor.username)
    await publish_for_region(ctx, region.path, "moved", view)
    return view


async def merge_topic(
    ctx: Context,
    actor: Principal,
    topic_id: int,
    into_id: int,
    *,
    version: int,
    note: str = "",
) -> StaffTopic:
    """Merge a duplicate into the topic that says the same thing.

    Nothing is deleted: the duplicate moves to ``merged`` and points at the survivor,
    and its submitter's tracking link follows the survivor from then on. Refused (no
    change) when merging into itself, into a finished topic, across the actor's
    territory, from a state that cannot be merged, or with a stale ``version``.
    """
    if topic_id == into_id:
        raise ValidationFailed(
            "A topic cannot be merged into itself.", fields={"into_id": "Pick another topic."}
        )
    note = note.strip()[:MAX_NOTE]
    async with ctx.db.read() as session:
        source = await store.get_topic_with_place(session, topic_id)
        target = await store.get_topic_with_place(session, into_id)
    if source is None:
        raise NotFound(f"No topic with id {topic_id}.")
    if target is None:
        raise ValidationFailed("Unknown topic to merge into.", fields={"into_id": "No such topic."})
    actor.require(Permission.DISPATCH_TOPICS, source[2].path)
    actor.require(Permission.DISPATCH_TOPICS, target[2].path)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        current = await store.get_topic(session, topic_id)
        survivor = await store.get_topic(session, into_id)
        assert current is not None and survivor is not None
        if current.version != version:
            raise StaleUpdate(
                f"The topic changed since you loaded it: it is now {current.status} "
                f"(version {current.version}).",
                fields={"status": current.status, "version": str(current.version)},
            )
        if survivor.status in (TopicStatus.MERGED, TopicStatus.REJECTED):
            raise InvalidTransitionError(
                f"Cannot merge into {survivor.number}: it is {survivor.status}.",
                fields={"status": survivor.status},
            )
        try:
            transition(current.status, TopicStatus.MERGED)
        except InvalidTransition as exc:
            raise InvalidTransitionError(str(exc), fields={"status": current.status}) from None
        if not await store.update_topic(
            session,
            topic_id,
            expected_version=version,
            now=now,
            values={"status": TopicStatus.MERGED, "merged_into_id": into_id},
        ):
            raise StaleUpdate("The topic changed while you were acting; reload it.")
        await store.insert_events(
            session,
            [
                {
                    "topic_id": topic_id,
                    "at": now,
                    "actor_kind": ActorKind.STAFF,
                    "actor_id": actor.user_id,
                    "from_status": current.status,
                    "to_status": TopicStatus.MERGED,
                    "note": note or f"→ {survivor.number}",
                    "public": True,
                },
            ],
        )
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="topic.merge",
            target=f"topic:{topic_id}",
            detail={"into": survivor.number, "from": current.status, "note": note},
        )
    detail = await topic_detail(ctx, actor, topic_id)
    await publish_for_region(ctx, source[2].path, "moved", detail.topic)
    return detail.topic
