"""Intake (征题): residents and info officers raise topics; submitters follow them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.audit import record_audit
from server.core.auth import Permission, Principal, new_token, token_digest
from server.core.batch import GroupCommit
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import Gone, NotFound, ValidationFailed
from server.core.files import StagedFile
from server.core.images import CleanImage, clean_image
from server.core.ratelimit import enforce
from server.rooms import actions as rooms
from server.rooms.actions import RoomView
from server.rooms.model import RoomCodeStatus
from server.topics import store
from server.topics.actions import deadlines
from server.topics.actions.classification import classifier
from server.topics.actions.common import (
    MAX_MERGE_CHAIN,
    StaffTopic,
    publish_for_room,
)
from server.topics.model import (
    ActorKind,
    EventKind,
    Submission,
    TopicKind,
    TopicSource,
    TopicStatus,
    clean_submission,
    counter_key,
    format_number,
    mask_phone,
)
from server.topics.store import TopicFilter
from server.topics.supervision import Stage
from server.topics.tables import TopicEvent, TopicPhoto

log = logging.getLogger(__name__)


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
    kind: EventKind = EventKind.MOVE
    photo_ids: tuple[int, ...] = ()

    @classmethod
    def of(cls, e: TopicEvent, photos: Sequence[TopicPhoto] = ()) -> PublicEvent:
        """The submitter's view of an event: what happened, never staff-only detail.

        A contact record shows only how the resident was reached (its note stays with
        the staff); photos are those attached to the event (a result's).
        """
        note = e.note.split(":", 1)[0] if e.kind is EventKind.CONTACT else e.note
        return cls(
            e.at, e.to_status, note, e.kind, tuple(p.id for p in photos if p.event_id == e.id)
        )


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


def tracking_url(ctx: Context, token: str) -> str:
    return f"{ctx.settings.public_base_url}/t/{token}"


async def clean_photos(ctx: Context, uploads: list[Upload]) -> list[CleanImage]:
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
    images = await clean_photos(ctx, photos)

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
    category, subject = (await classifier(ctx)).classify(clean.title, clean.description)
    item = NewTopic(
        values={
            "category": category.label,
            "category_confidence": round(category.confidence, 4),
            "subject": subject.label,
            "subject_confidence": round(subject.confidence, 4),
            "classification_evidence": {
                "category": list(category.evidence),
                "subject": list(subject.evidence),
            },
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
        category=category.label,
        subject=subject.label,
        category_confidence=item.values["category_confidence"],
        subject_confidence=item.values["subject_confidence"],
        evidence=item.values["classification_evidence"],
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
    await publish_for_room(ctx, room, "submitted", summary)
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
    events, photos, clocks = [], [], []
    pol = deadlines.policy(ctx)
    for topic_id, item in zip(ids, items, strict=True):
        clocks.append(
            deadlines.new_deadline(
                ctx, pol, topic_id, Stage.ACCEPT, None, item.values["created_at"]
            )
        )
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
    await store.insert_deadlines(session, clocks)
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
        own = [p for p in photos if p.event_id is None]
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
            survivor_photos = await store.list_photos(session, survivor.id)
            followed = FollowedTopic(
                survivor.number,
                survivor.title,
                survivor.status,
                tuple(PublicEvent.of(e, survivor_photos) for e in survivor_events),
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
        photo_ids=tuple(p.id for p in own),
        timeline=tuple(PublicEvent.of(e, photos) for e in events),
        followed=followed,
    )


async def tracked_photo(ctx: Context, token: str, photo_id: int) -> bytes:
    """A photo of the tracked topic, or a result photo of the topic it was merged into
    (its submitter follows that one); never a resident's photo of another topic."""
    async with ctx.db.read() as session:
        topic = await store.get_topic_by_tracking(session, token_digest(token))
        photo = await store.get_photo(session, topic.id, photo_id) if topic else None
        for _ in range(MAX_MERGE_CHAIN):
            if photo is not None or topic is None or topic.merged_into_id is None:
                break
            topic = await store.get_topic(session, topic.merged_into_id)
            found = await store.get_photo(session, topic.id, photo_id) if topic else None
            photo = found if found is not None and found.event_id is not None else None
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
