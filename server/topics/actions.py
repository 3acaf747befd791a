"""Use cases for topics: intake (征题), tracking, and the staff queue."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.audit import record_audit
from server.core.auth import Permission, Principal, new_token, token_digest
from server.core.batch import GroupCommit
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import Gone, InvalidTransitionError, NotFound, StaleUpdate, ValidationFailed
from server.core.files import StagedFile
from server.core.images import CleanImage, clean_image
from server.core.ratelimit import enforce
from server.rooms import actions as rooms
from server.rooms.actions import RoomView
from server.rooms.model import RoomCodeStatus
from server.topics import store
from server.topics.model import (
    TRANSITIONS,
    ActorKind,
    InvalidTransition,
    Submission,
    TopicKind,
    TopicSource,
    TopicStatus,
    clean_submission,
    counter_key,
    format_number,
    mask_phone,
    transition,
)
from server.topics.store import TopicFilter
from server.topics.tables import Topic

log = logging.getLogger(__name__)

STAFF_NAMESPACE = "/staff"
MAX_NOTE = 1000
MAX_MERGE_CHAIN = 20


def region_room(region_id: int) -> str:
    """The socket.io room of staff whose territory is this region."""
    return f"region:{region_id}"


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as it arrived; nothing about it is trusted."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SubmittedTopic:
    topic_id: int
    number: str
    tracking_token: str
    tracking_url: str


@dataclass(frozen=True, slots=True)
class PublicEvent:
    at: datetime
    status: TopicStatus
    note: str


@dataclass(frozen=True, slots=True)
class TrackedTopic:
    number: str
    title: str
    description: str
    kind: TopicKind
    status: TopicStatus
    room_name: str
    room_code: str
    created_at: datetime
    photo_ids: tuple[int, ...]
    timeline: tuple[PublicEvent, ...]
    # A duplicate merged into another topic: the submitter follows the surviving one.
    followed: FollowedTopic | None = None


@dataclass(frozen=True, slots=True)
class FollowedTopic:
    number: str
    title: str
    status: TopicStatus
    timeline: tuple[PublicEvent, ...]


@dataclass(frozen=True, slots=True)
class PublicTopic:
    number: str
    title: str
    kind: TopicKind
    status: TopicStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RoomPageView:
    room: RoomView
    status: RoomCodeStatus
    topics: list[PublicTopic]


@dataclass(frozen=True, slots=True)
class StaffTopic:
    id: int
    number: str
    title: str
    description: str
    kind: TopicKind
    source: TopicSource
    status: TopicStatus
    category: str | None
    room_id: int
    room_name: str
    room_code: str
    region_id: int
    region_name: str
    submitter_name: str
    submitter_phone_masked: str
    photo_count: int
    created_at: datetime
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "description": self.description,
            "kind": self.kind,
            "source": self.source,
            "status": self.status,
            "category": self.category,
            "room": {"id": self.room_id, "name": self.room_name, "code": self.room_code},
            "region": {"id": self.region_id, "name": self.region_name},
            "submitter": {"name": self.submitter_name, "phone": self.submitter_phone_masked},
            "photo_count": self.photo_count,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class TopicList:
    topics: list[StaffTopic]
    total: int
    next_before_id: int | None


def tracking_url(ctx: Context, token: str) -> str:
    return f"{ctx.settings.public_base_url}/t/{token}"


async def _clean_photos(ctx: Context, uploads: list[Upload]) -> list[CleanImage]:
    if len(uploads) > ctx.settings.max_photos:
        raise ValidationFailed(
            f"At most {ctx.settings.max_photos} photos.",
            fields={"photos": f"At most {ctx.settings.max_photos} photos."},
        )
    cleaned = []
    for i, upload in enumerate(uploads, start=1):
        if len(upload.data) > ctx.settings.max_photo_bytes:
            limit_mb = f"{ctx.settings.max_photo_bytes / (1024 * 1024):.3g}"
            raise ValidationFailed(
                f"Photo {i} is over {limit_mb} MB.",
                fields={"photos": f"Photo {i} is over {limit_mb} MB."},
            )
        # Decoding is CPU work: keep it off the event loop.
        cleaned.append(
            await asyncio.to_thread(
                clean_image,
                upload.data,
                max_pixels=ctx.settings.max_image_pixels,
                name=f"Photo {i}",
            )
        )
    return cleaned


async def submit_topic(
    ctx: Context,
    submission: Submission,
    photos: list[Upload],
    *,
    room_code: str | None = None,
    room_id: int | None = None,
    actor: Principal | None = None,
    device_id: str | None = None,
    ip: str = "",
) -> SubmittedTopic:
    """Validate, number and store a new topic with its photos, then tell the staff.

    Residents name the room by its code (public, rate-limited per device and IP);
    an info officer entering a paper topic names it by id and must cover its region.
    Photos are re-encoded first. The topic then joins the intake queue, where
    concurrent submissions share one transaction (group commit): numbers come from a
    counter row locked in that transaction and photos are placed just before its
    commit. A refusal at any step leaves no row and no file.
    """
    if actor is None:
        checks = [
            (f"topic-ip:{ip}", ctx.settings.rate_limit_ip.count, ctx.settings.rate_limit_ip.seconds)
        ]
        if device_id:
            checks.append(
                (
                    f"topic-dev:{device_id}",
                    ctx.settings.rate_limit_device.count,
                    ctx.settings.rate_limit_device.seconds,
                )
            )
        await enforce(ctx.limiter, checks)
    clean, errors = clean_submission(submission)
    if clean is None:
        raise ValidationFailed("Some fields need attention.", fields=errors)
    room = await _resolve_room(ctx, room_code=room_code, room_id=room_id, actor=actor)
    images = await _clean_photos(ctx, photos)

    now = ctx.clock.now()
    local = now.astimezone(LOCAL_TZ)
    token = new_token(24)
    staged: list[StagedFile] = []
    try:
        for image in images:
            staged.append(await ctx.files.stage(image.data, f"topics/{local:%Y/%m}", ".jpg"))
    except BaseException:
        ctx.files.discard(staged)
        raise
    item = NewTopic(
        values={
            "room_id": room.id,
            "region_id": room.region_id,
            "title": clean.title,
            "description": clean.description,
            "kind": clean.kind,
            "source": TopicSource.QR if actor is None else TopicSource.OFFLINE,
            "status": TopicStatus.SUBMITTED,
            "submitter_name": clean.name,
            "submitter_phone": clean.phone,
            "consent": submission.consent,
            "device_id": device_id if actor is None else None,
            "tracking_digest": token_digest(token),
            "entered_by_id": actor.user_id if actor else None,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        },
        series=counter_key(ctx.settings.topic_number_prefix, local.year),
        year=local.year,
        photos=list(zip(images, staged, strict=True)),
    )
    # From here the intake queue owns the staged files: it places them with the commit,
    # or discards them if the topic cannot be written.
    topic_id, number = await _intake_queue(ctx).submit(item)

    summary = StaffTopic(
        id=topic_id,
        number=number,
        title=clean.title,
        description=clean.description,
        kind=clean.kind,
        source=item.values["source"],
        status=TopicStatus.SUBMITTED,
        category=None,
        room_id=room.id,
        room_name=room.name,
        room_code=room.code,
        region_id=room.region_id,
        region_name=room.region_names[-1],
        submitter_name=clean.name,
        submitter_phone_masked=mask_phone(clean.phone),
        photo_count=len(images),
        created_at=now,
    )
    await _publish(ctx, room, "submitted", summary)
    return SubmittedTopic(topic_id, number, token, tracking_url(ctx, token))


@dataclass(frozen=True, slots=True)
class NewTopic:
    """A validated topic waiting in the intake queue for its number and its commit."""

    values: dict[str, Any]
    series: str
    year: int
    photos: list[tuple[CleanImage, StagedFile]]


def _intake_queue(ctx: Context) -> GroupCommit[NewTopic, tuple[int, str]]:
    """The process's intake queue: concurrent submissions share one transaction."""
    queue: GroupCommit[NewTopic, tuple[int, str]] | None = ctx.db.shared.get("topics.intake")
    if queue is None:

        async def apply(session: AsyncSession, items: list[NewTopic]) -> list[tuple[int, str]]:
            return await _store_topics(ctx, session, items)

        def discard(item: NewTopic) -> None:
            ctx.files.discard([file for _, file in item.photos])

        queue = GroupCommit(ctx.db, apply, on_failure=discard)
        ctx.db.shared["topics.intake"] = queue
    return queue


async def _store_topics(
    ctx: Context, session: AsyncSession, items: list[NewTopic]
) -> list[tuple[int, str]]:
    """Number and insert a batch of topics with their photos and first events.

    Requires an open write transaction. Each series' counter is advanced once for the
    whole batch (its row stays locked until commit), so numbers are consecutive in
    queue order and never reused. The photos are moved into place last, just before
    the caller commits.
    """
    prefix = ctx.settings.topic_number_prefix
    for series in dict.fromkeys(item.series for item in items):
        members = [item for item in items if item.series == series]
        last = await store.take_numbers(session, series, len(members))
        for seq, item in enumerate(members, start=last - len(members) + 1):
            item.values["number"] = format_number(prefix, item.year, seq)
    numbers: list[str] = [item.values["number"] for item in items]
    ids = await store.insert_topics(session, [item.values for item in items])
    events, photos = [], []
    for topic_id, item in zip(ids, items, strict=True):
        staff = item.values["entered_by_id"]
        events.append(
            {
                "topic_id": topic_id,
                "at": item.values["created_at"],
                "actor_kind": ActorKind.STAFF if staff else ActorKind.RESIDENT,
                "actor_id": staff,
                "from_status": None,
                "to_status": TopicStatus.SUBMITTED,
                "note": "",
                "public": True,
            }
        )
        for position, (image, file) in enumerate(item.photos):
            photos.append(
                {
                    "topic_id": topic_id,
                    "position": position,
                    "relpath": file.relpath,
                    "width": image.width,
                    "height": image.height,
                    "size": len(image.data),
                }
            )
        if staff:
            record_audit(
                session,
                at=item.values["created_at"],
                actor_id=staff,
                action="topic.enter",
                target=f"topic:{topic_id}",
                detail={"number": item.values["number"]},
            )
    await store.insert_events(session, events)
    await store.insert_photos(session, photos)
    await session.flush()
    ctx.files.place([file for item in items for _, file in item.photos])
    return list(zip(ids, numbers, strict=True))


async def _resolve_room(
    ctx: Context, *, room_code: str | None, room_id: int | None, actor: Principal | None
) -> RoomView:
    if actor is not None:
        if room_id is None:
            raise ValidationFailed("Choose a room.", fields={"room_id": "Required."})
        try:
            room, _codes = await rooms.get_room(ctx, actor, room_id)
        except NotFound:
            raise ValidationFailed("Unknown room.", fields={"room_id": "No such room."}) from None
        actor.require(Permission.ENTER_TOPICS, room.region_path)
        return room
    lookup = await rooms.lookup_room_code(ctx, room_code or "")
    if lookup is None:
        raise NotFound("There is no room with that code.")
    if lookup.status is RoomCodeStatus.REVOKED:
        raise Gone("This room code is no longer in use.")
    return lookup.room


async def _publish(ctx: Context, room: RoomView, op: str, topic: StaffTopic) -> None:
    await _publish_to_region(ctx, room.region_path, op, topic)


async def _publish_to_region(ctx: Context, region_path: str, op: str, topic: StaffTopic) -> None:
    """Tell the staff whose territory holds the topic, and nobody else. After commit only."""
    ancestors = [int(p) for p in region_path.strip("/").split("/") if p]
    try:
        await ctx.notifier.emit(
            "topic",
            {"type": "topic", "op": op, "topic": topic.to_json()},
            namespace=STAFF_NAMESPACE,
            rooms=[region_room(r) for r in ancestors],
        )
    except Exception:  # the topic is stored; a lost push is repaired by the next page load
        log.exception("could not publish topic %s", topic.number)


def _staff_topic(
    topic: Topic, room_name: str, room_code: str, region_name: str, photo_count: int
) -> StaffTopic:
    return StaffTopic(
        id=topic.id,
        number=topic.number,
        title=topic.title,
        description=topic.description,
        kind=topic.kind,
        source=topic.source,
        status=topic.status,
        category=topic.category,
        room_id=topic.room_id,
        room_name=room_name,
        room_code=room_code,
        region_id=topic.region_id,
        region_name=region_name,
        submitter_name=topic.submitter_name,
        submitter_phone_masked=mask_phone(topic.submitter_phone),
        photo_count=photo_count,
        created_at=topic.created_at,
        version=topic.version,
    )


async def track_topic(ctx: Context, token: str) -> TrackedTopic:
    """What the submitter's private link shows: the topic and its public timeline."""
    if not token or len(token) > 64:
        raise NotFound("No topic behind this link.")
    async with ctx.db.read() as session:
        topic = await store.get_topic_by_tracking(session, token_digest(token))
        if topic is None:
            raise NotFound("No topic behind this link.")
        events = await store.list_events(session, topic.id, public_only=True)
        photos = await store.list_photos(session, topic.id)
        followed = None
        survivor = topic
        for _ in range(MAX_MERGE_CHAIN):  # merges can chain: A into B, later B into C
            if survivor.merged_into_id is None:
                break
            nxt = await store.get_topic(session, survivor.merged_into_id)
            assert nxt is not None
            survivor = nxt
        if survivor is not topic:
            survivor_events = await store.list_events(session, survivor.id, public_only=True)
            followed = FollowedTopic(
                survivor.number,
                survivor.title,
                survivor.status,
                tuple(PublicEvent(e.at, e.to_status, e.note) for e in survivor_events),
            )
    room, _ = await rooms.get_room(ctx, None, topic.room_id)
    return TrackedTopic(
        number=topic.number,
        title=topic.title,
        description=topic.description,
        kind=topic.kind,
        status=topic.status,
        room_name=room.name,
        room_code=room.code,
        created_at=topic.created_at,
        photo_ids=tuple(p.id for p in photos),
        timeline=tuple(PublicEvent(e.at, e.to_status, e.note) for e in events),
        followed=followed,
    )


async def tracked_photo(ctx: Context, token: str, photo_id: int) -> bytes:
    async with ctx.db.read() as session:
        topic = await store.get_topic_by_tracking(session, token_digest(token))
        photo = await store.get_photo(session, topic.id, photo_id) if topic else None
    if photo is None:
        raise NotFound("No such photo.")
    return await ctx.files.read(photo.relpath)


async def room_page(ctx: Context, code: str, *, limit: int = 30) -> RoomPageView:
    """The public face of a room: who and where it is, and its latest topics."""
    lookup = await rooms.lookup_room_code(ctx, code)
    if lookup is None:
        raise NotFound("There is no room with that code.")
    topics: list[PublicTopic] = []
    if lookup.status is not RoomCodeStatus.REVOKED:
        async with ctx.db.read() as session:
            rows = await store.list_topics(
                session, TopicFilter(room_id=lookup.room.id), limit=limit
            )
        topics = [
            PublicTopic(t.number, t.title, t.kind, t.status, t.created_at)
            for t, _room, _region in rows
            if t.status is not TopicStatus.REJECTED
        ]
    return RoomPageView(lookup.room, lookup.status, topics)


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
        _staff_topic(t, room.name, room.code, region.name, counts.get(t.id, 0))
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
        moved = await store.update_topic_status(
            session, topic_id, expected_version=version, status=target, now=now
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
    view = _staff_topic(refreshed, room.name, room.code, region.name, photos.get(topic_id, 0))
    log.info("topic %s moved %s -> %s by %s", view.number, old_status, target, actor.username)
    await _publish_to_region(ctx, region.path, "moved", view)
    return view


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
        topic=_staff_topic(topic, room.name, room.code, region.name, len(photos)),
        events=[
            StaffEvent(e.at, e.actor_kind, e.actor_id, e.from_status, e.to_status, e.note, e.public)
            for e in events
        ],
        photo_ids=[p.id for p in photos],
        moves=moves,
    )


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
        if not await store.merge_topic(
            session, topic_id, into_id, expected_version=version, now=now
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
    await _publish_to_region(ctx, source[2].path, "moved", detail.topic)
    return detail.topic
