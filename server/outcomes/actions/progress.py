"""Carrying outcomes out (办理进展): the handler's outcome of a resolved one-person topic,
dated progress updates with percent and photos, and the outcome pages' views.

Only the responsible unit (its handlers) or a dispatcher covering the topic's region
updates an outcome. Reaching 100 % completes it and resolves an implementing topic in
the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, StaleUpdate, ValidationFailed
from server.core.files import StagedFile
from server.core.hooks import TopicResolved
from server.outcomes import store
from server.outcomes.model import (
    MAX_PHOTOS,
    Invalid,
    OutcomeSource,
    OutcomeStatus,
    Satisfaction,
    check_progress,
    outcome_flag,
)
from server.outcomes.tables import Outcome, OutcomePhoto, OutcomeUpdate
from server.topics import actions as topics
from server.topics.actions.intake import Upload, clean_photos
from server.topics.model import TopicStatus


def install(ctx: Context) -> None:
    """Record an outcome whenever a topic is resolved (see ``server.core.hooks``)."""

    async def on_resolved(session: AsyncSession, event: TopicResolved) -> None:
        await record_resolution(session, event)

    if not ctx.hooks.topic_resolved:
        ctx.hooks.topic_resolved.append(on_resolved)


async def record_resolution(session: AsyncSession, event: TopicResolved) -> None:
    """A resolved topic's outcome, in the resolving move's transaction.

    A topic without an outcome (a one-person topic, or a key topic resolved without a
    session) gets a published handler's outcome: the result as its decision, complete.
    A session's outcome that was not yet complete gets its final update at 100 %."""
    existing = await store.get_outcome_by_topic(session, event.topic_id, lock=True)
    if existing is None:
        topic_lead = await store.topic_lead(session, event.topic_id)
        outcome = Outcome(
            topic_id=event.topic_id,
            deliberation_id=None,
            source=OutcomeSource.HANDLER,
            status=OutcomeStatus.PUBLISHED,
            decision=event.result,
            unit_id=event.unit_id,
            lead=topic_lead,
            due_on=event.at.astimezone(LOCAL_TZ).date(),
            percent=100,
            created_at=event.at,
            updated_at=event.at,
            published_at=event.at,
            completed_at=event.at,
            version=1,
        )
        session.add(outcome)
        await session.flush()
        outcome_id = outcome.id
    elif existing.percent < 100:
        outcome_id = existing.id
        await store.update_outcome(
            session,
            existing.id,
            expected_version=existing.version,
            values={"percent": 100, "completed_at": event.at, "updated_at": event.at},
        )
    else:
        return
    if event.actor_id is not None:
        session.add(
            OutcomeUpdate(
                outcome_id=outcome_id,
                at=event.at,
                percent=100,
                note=event.result,
                by_id=event.actor_id,
                unit_id=event.unit_id,
            )
        )


@dataclass(frozen=True, slots=True)
class OutcomeView:
    """An outcome as its pages show it. ``public()`` is what anyone may read."""

    id: int
    topic_id: int
    topic_number: str
    topic_title: str
    topic_status: TopicStatus
    category: str | None
    room_name: str
    region_name: str
    region_path: str
    deliberation_id: int | None
    source: OutcomeSource
    status: OutcomeStatus
    decision: str
    unit_id: int | None
    unit_name: str
    lead: str
    due_on: str
    percent: int
    flag: str
    published_at: datetime | None
    completed_at: datetime | None
    version: int
    updates: list[dict[str, Any]]
    satisfaction: Satisfaction
    score_average: float | None
    comments: list[dict[str, Any]]

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topic_number": self.topic_number,
            "topic_title": self.topic_title,
            "topic_status": self.topic_status,
            "category": self.category,
            "room_name": self.room_name,
            "region_name": self.region_name,
            "deliberation_id": self.deliberation_id,
            "source": self.source,
            "decision": self.decision,
            "unit_name": self.unit_name,
            "lead": self.lead,
            "due_on": self.due_on,
            "percent": self.percent,
            "flag": self.flag,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "updates": self.updates,
            "satisfaction": self.satisfaction.as_dict(),
            "score_average": self.score_average,
            "comments": [c for c in self.comments if c["status"] == "visible"],
        }

    def staff(self) -> dict[str, Any]:
        return {
            **self.public(),
            "topic_id": self.topic_id,
            "status": self.status,
            "unit_id": self.unit_id,
            "version": self.version,
            "comments": self.comments,
        }


def comment_json(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "proposer": e.proposer,
        "score": e.score,
        "verdict": e.verdict,
        "comment": e.comment if e.comment_status == "visible" else "",
        "status": e.comment_status,
        "reason": e.reason,
        "at": e.created_at.isoformat(),
    }


async def _view(ctx: Context, session: AsyncSession, outcome_id: int) -> OutcomeView:
    found = await store.get_outcome(session, outcome_id)
    if found is None:
        raise NotFound("No such outcome.")
    o, topic, path, room_name, region_name = found
    names = await store.unit_names(session, [o.unit_id])
    updates = await store.list_updates(session, o.id)
    photos = await store.list_photos(session, o.id)
    counts = Satisfaction.of(await store.verdict_counts(session, o.id))
    scores = await store.score_sum(session, o.id)
    evaluations = await store.visible_evaluations(session, o.id)
    today = ctx.clock.now().astimezone(LOCAL_TZ).date()
    return OutcomeView(
        id=o.id,
        topic_id=topic.id,
        topic_number=topic.number,
        topic_title=topic.title,
        topic_status=topic.status,
        category=topic.category,
        room_name=room_name,
        region_name=region_name,
        region_path=path,
        deliberation_id=o.deliberation_id,
        source=o.source,
        status=o.status,
        decision=o.decision,
        unit_id=o.unit_id,
        unit_name=names.get(o.unit_id, "") if o.unit_id else "",
        lead=o.lead,
        due_on=o.due_on.isoformat(),
        percent=o.percent,
        flag=outcome_flag(o.due_on, o.percent, today),
        published_at=o.published_at,
        completed_at=o.completed_at,
        version=o.version,
        updates=[
            {
                "at": u.at.isoformat(),
                "percent": u.percent,
                "note": u.note,
                "photos": [
                    {"id": p.id, "width": p.width, "height": p.height}
                    for p in photos
                    if p.update_id == u.id
                ],
            }
            for u in updates
        ],
        satisfaction=counts,
        score_average=round(scores / counts.total, 2) if counts.total else None,
        comments=[comment_json(e) for e in evaluations if e.comment],
    )


def may_update(actor: Principal, outcome: Outcome, region_path: str) -> None:
    """The responsible unit's handlers, or a dispatcher covering the topic's region."""
    if actor.must_change_password:
        raise Forbidden("Change your one-time password first.")
    if actor.can(Permission.DISPATCH_TOPICS) and actor.covers(region_path):
        return
    if actor.can(Permission.HANDLE_TOPICS):
        if outcome.unit_id is None or actor.unit_id != outcome.unit_id:
            raise Forbidden("This outcome is carried out by another unit.")
        return
    actor.require(Permission.DISPATCH_TOPICS, region_path)


def _may_read(actor: Principal, outcome: Outcome, region_path: str) -> None:
    if actor.can(Permission.HANDLE_TOPICS) and outcome.unit_id == actor.unit_id:
        return
    actor.require(Permission.VIEW_TOPICS, region_path)


async def staff_outcome(ctx: Context, actor: Principal, outcome_id: int) -> OutcomeView:
    async with ctx.db.read() as session:
        found = await store.get_outcome(session, outcome_id)
        if found is None:
            raise NotFound("No such outcome.")
        _may_read(actor, found[0], found[2])
        return await _view(ctx, session, outcome_id)


async def public_outcome(ctx: Context, outcome_id: int) -> OutcomeView:
    """A published outcome for anyone; a draft is NotFound, as if it did not exist."""
    async with ctx.db.read() as session:
        found = await store.get_outcome(session, outcome_id)
        if found is None or found[0].status is not OutcomeStatus.PUBLISHED:
            raise NotFound("No such outcome.")
        return await _view(ctx, session, outcome_id)


async def outcome_for_topic(ctx: Context, topic_id: int) -> int | None:
    """The id of the topic's published outcome, for its tracking page."""
    async with ctx.db.read() as session:
        o = await store.get_outcome_by_topic(session, topic_id)
        return o.id if o is not None and o.status is OutcomeStatus.PUBLISHED else None


async def outcome_photo(ctx: Context, outcome_id: int, photo_id: int) -> bytes:
    async with ctx.db.read() as session:
        found = await store.get_outcome(session, outcome_id)
        if found is None or found[0].status is not OutcomeStatus.PUBLISHED:
            raise NotFound("No such photo.")
        photo = await store.get_photo(session, outcome_id, photo_id)
        if photo is None:
            raise NotFound("No such photo.")
        relpath = photo.relpath
    return await ctx.files.read(relpath)


async def add_progress(
    ctx: Context,
    actor: Principal,
    outcome_id: int,
    *,
    version: int,
    percent: object,
    note: str,
    photos: Sequence[Upload] = (),
) -> OutcomeView:
    """Record a dated progress update (percent complete, a note, up to MAX_PHOTOS photos).

    Refused with nothing written: a draft outcome (Conflict: publish the minutes first),
    another unit's outcome (Forbidden), percent out of range or going back, an empty note
    (ValidationFailed), a changed outcome (StaleUpdate). Photos are re-encoded and staged,
    then placed with the commit. At 100 % the outcome is complete and an implementing
    topic is resolved, with the note as its result."""
    if len(photos) > MAX_PHOTOS:
        raise ValidationFailed("Too many photos.", fields={"photos": f"At most {MAX_PHOTOS}."})
    async with ctx.db.read() as session:
        found = await store.get_outcome(session, outcome_id)
        if found is None:
            raise NotFound("No such outcome.")
        may_update(actor, found[0], found[2])
    images = await clean_photos(ctx, list(photos))
    local = ctx.clock.now().astimezone(LOCAL_TZ)
    staged: list[StagedFile] = []
    try:
        for image in images:
            staged.append(await ctx.files.stage(image.data, f"outcomes/{local:%Y/%m}", ".jpg"))
        return await _write_progress(
            ctx, actor, outcome_id, version, percent, note, list(zip(images, staged, strict=True))
        )
    except BaseException:
        ctx.files.discard(staged)
        raise


async def _write_progress(
    ctx: Context,
    actor: Principal,
    outcome_id: int,
    version: int,
    percent: object,
    note: str,
    photos: list[tuple[Any, StagedFile]],
) -> OutcomeView:
    now = ctx.clock.now()
    moves: list[topics.TopicMove] = []
    async with ctx.db.write() as session:
        found = await store.get_outcome(session, outcome_id, lock=True)
        assert found is not None
        o, topic, path, _, _ = found
        may_update(actor, o, path)
        if o.status is not OutcomeStatus.PUBLISHED:
            raise Conflict(
                "This outcome is not published yet: publish the session's minutes first."
            )
        if o.version != version:
            raise StaleUpdate(
                f"The outcome changed since you loaded it (now version {o.version}).",
                fields={"version": str(o.version)},
            )
        try:
            value, text = check_progress(percent, note, o.percent)
        except Invalid as exc:
            raise ValidationFailed("The update needs attention.", fields=exc.fields) from None
        values: dict[str, Any] = {"percent": value, "updated_at": now}
        if value >= 100 and o.completed_at is None:
            values["completed_at"] = now
        await store.update_outcome(session, o.id, expected_version=o.version, values=values)
        update = OutcomeUpdate(
            outcome_id=o.id,
            at=now,
            percent=value,
            note=text,
            by_id=actor.user_id,
            unit_id=o.unit_id,
        )
        session.add(update)
        await session.flush()
        for image, file in photos:
            session.add(
                OutcomePhoto(
                    update_id=update.id,
                    outcome_id=o.id,
                    relpath=file.relpath,
                    width=image.width,
                    height=image.height,
                    size=len(image.data),
                )
            )
        if value >= 100 and topic.status is TopicStatus.IMPLEMENTING:
            moves = await topics.move_in_transaction(
                ctx,
                session,
                actor,
                [topic.id],
                TopicStatus.RESOLVED,
                note=text,
                action="topic.outcome",
            )
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="outcome.progress",
            target=f"outcome:{o.id}",
            detail={"percent": value, "photos": len(photos)},
        )
        await session.flush()
        if photos:
            ctx.files.place([file for _, file in photos])
    await topics.publish_moves(ctx, moves)
    async with ctx.db.read() as session:
        return await _view(ctx, session, outcome_id)


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    id: int
    topic_number: str
    topic_title: str
    room_name: str
    status: OutcomeStatus
    unit_name: str
    due_on: str
    percent: int
    flag: str
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topic_number": self.topic_number,
            "topic_title": self.topic_title,
            "room_name": self.room_name,
            "status": self.status,
            "unit_name": self.unit_name,
            "due_on": self.due_on,
            "percent": self.percent,
            "flag": self.flag,
            "updated_at": self.updated_at.isoformat(),
        }


async def list_outcomes(
    ctx: Context,
    actor: Principal,
    *,
    overdue: bool = False,
    mine: bool = False,
    before_id: int | None = None,
    limit: int = 50,
) -> list[OutcomeRow]:
    """Outcomes in the actor's territory, newest first; a handler's are its unit's.
    ``overdue``: only unfinished outcomes past their due date (red)."""
    unit_id: int | None = None
    if actor.can(Permission.HANDLE_TOPICS) and not actor.can(Permission.VIEW_TOPICS):
        if actor.unit_id is None:
            raise Forbidden("You belong to no unit.")
        unit_id = actor.unit_id
    else:
        actor.require(Permission.VIEW_TOPICS)
        if mine:
            unit_id = actor.unit_id
    today = ctx.clock.now().astimezone(LOCAL_TZ).date()
    async with ctx.db.read() as session:
        rows = await store.list_outcomes(
            session,
            region_path="/" if unit_id is not None else actor.region_path,
            unit_id=unit_id,
            overdue_before=today if overdue else None,
            before_id=before_id,
            limit=min(max(limit, 1), 200),
        )
        names = await store.unit_names(session, [o.unit_id for o, _, _ in rows])
    return [
        OutcomeRow(
            o.id,
            t.number,
            t.title,
            room,
            o.status,
            names.get(o.unit_id, "") if o.unit_id else "",
            o.due_on.isoformat(),
            o.percent,
            outcome_flag(o.due_on, o.percent, today),
            o.updated_at,
        )
        for o, t, room in rows
    ]


async def outcome_for_number(ctx: Context, number: str) -> int | None:
    """The id of the published outcome of the topic numbered ``number`` (None without
    one); NotFound for an unknown number."""
    async with ctx.db.read() as session:
        topic_id = await store.topic_id_by_number(session, number)
        if topic_id is None:
            raise NotFound("No such topic.")
        o = await store.get_outcome_by_topic(session, topic_id)
        return o.id if o is not None and o.status is OutcomeStatus.PUBLISHED else None
