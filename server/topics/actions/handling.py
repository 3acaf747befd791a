"""Handling a topic (办理): contact with the resident, progress notes, pauses, extensions,
and resolving with a result the submitter reads.

The unit's handlers act on the topics assigned to their unit; dispatchers on any topic in
their territory. None of these records changes the topic's version (they do not change
what two dispatchers could disagree about), except resolving, which is a move.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import actions as accounts
from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.core.files import StagedFile
from server.topics import store
from server.topics.actions import deadlines
from server.topics.actions.common import StaffTopic, publish_for_region
from server.topics.actions.intake import Upload, clean_photos
from server.topics.actions.queue import staff_topic
from server.topics.actions.workflow import _apply_move, _check_note, _load, _may_move, _Place
from server.topics.model import OPEN_STATES, EventKind, TopicStatus
from server.topics.supervision import Stage

CONTACT_METHODS = ("phone", "visit", "meeting", "message", "other")
RESULT_LIMITS = (4, 1000)


def _may_act(actor: Principal, place: _Place) -> None:
    """The topic's own unit, or a dispatcher whose territory holds it."""
    if actor.can(Permission.DISPATCH_TOPICS) and actor.covers(place.region_path):
        actor.require(Permission.DISPATCH_TOPICS, place.region_path)
        return
    if actor.can(Permission.HANDLE_TOPICS) and not actor.must_change_password:
        if place.topic.unit_id is None or place.topic.unit_id != actor.unit_id:
            raise Forbidden("That topic is not assigned to your unit.")
        return
    actor.require(Permission.DISPATCH_TOPICS, place.region_path)


def _require_open(place: _Place) -> None:
    if place.topic.status not in OPEN_STATES:
        raise Conflict(
            f"The topic is {place.topic.status}; records can only be added to open topics.",
            fields={"status": place.topic.status},
        )


async def _record(
    ctx: Context,
    actor: Principal,
    topic_id: int,
    action: str,
    work: Callable[[AsyncSession, _Place], Coroutine[Any, Any, dict[str, Any]]],
    *,
    needs_unit: bool = False,
) -> StaffTopic:
    """Load, authorise, run ``work`` in one transaction with its audit entry, publish."""
    place = await _load(ctx, topic_id)
    _may_act(actor, place)
    _require_open(place)
    if needs_unit and place.topic.unit_id is None:
        raise Conflict(
            "The topic has not been assigned to a unit yet.", fields={"status": place.topic.status}
        )
    async with ctx.db.write() as session:
        current = await store.get_topic(session, topic_id)
        assert current is not None
        if (current.status, current.unit_id) != (place.topic.status, place.topic.unit_id):
            place = _Place(current, place.region_path)  # moved since we looked: check again
            _may_act(actor, place)
            _require_open(place)
        detail = await work(session, place)
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id,
            action=action,
            target=f"topic:{topic_id}",
            detail=detail,
        )
    view = await staff_topic(ctx, topic_id)
    await publish_for_region(ctx, place.region_path, "updated", view)
    return view


async def record_contact(
    ctx: Context, actor: Principal, topic_id: int, *, method: str, note: str = ""
) -> StaffTopic:
    """The handler reached the resident (首次联系): closes the contact deadline.

    The note stays with the staff; the submitter's timeline says only that they were
    contacted, and how.
    """
    if method not in CONTACT_METHODS:
        raise ValidationFailed(
            "Say how the resident was contacted.",
            fields={"method": "One of " + ", ".join(CONTACT_METHODS) + "."},
        )
    note = _check_note(note)

    async def work(session: AsyncSession, place: _Place) -> dict[str, Any]:
        now = ctx.clock.now()
        session.add(
            deadlines.record_event(
                topic_id,
                place.topic.status,
                EventKind.CONTACT,
                actor,
                now,
                f"{method}: {note}" if note else method,
                public=True,  # the public timeline shows only the method (PublicEvent.of)
            )
        )
        await deadlines.close_stage(session, topic_id, Stage.CONTACT, now)
        return {"method": method}

    return await _record(ctx, actor, topic_id, "topic.contact", work, needs_unit=True)


async def add_progress(
    ctx: Context, actor: Principal, topic_id: int, *, note: str, public: bool = True
) -> StaffTopic:
    """A dated note on how the work is going; public ones show on the tracking page."""
    note = _check_note(note)
    if not note:
        raise ValidationFailed("Write the progress note.", fields={"note": "Required."})

    async def work(session: AsyncSession, place: _Place) -> dict[str, Any]:
        session.add(
            deadlines.record_event(
                topic_id,
                place.topic.status,
                EventKind.PROGRESS,
                actor,
                ctx.clock.now(),
                note,
                public=public,
            )
        )
        return {"public": public}

    return await _record(ctx, actor, topic_id, "topic.progress", work)


async def pause_topic(ctx: Context, actor: Principal, topic_id: int, *, reason: str) -> StaffTopic:
    """Stop the deadline clock, with a reason the submitter sees."""
    reason = deadlines.check_reason(reason)

    async def work(session: AsyncSession, place: _Place) -> dict[str, Any]:
        await deadlines.pause(ctx, session, actor, topic_id, place.topic.status, reason)
        return {"reason": reason}

    return await _record(ctx, actor, topic_id, "topic.pause", work)


async def resume_topic(ctx: Context, actor: Principal, topic_id: int) -> StaffTopic:
    async def work(session: AsyncSession, place: _Place) -> dict[str, Any]:
        await deadlines.resume(ctx, session, actor, topic_id, place.topic.status)
        return {}

    return await _record(ctx, actor, topic_id, "topic.resume", work)


async def request_extension(
    ctx: Context,
    actor: Principal,
    topic_id: int,
    *,
    days: int,
    reason: str,
    stage: str | None = None,
) -> StaffTopic:
    """Ask for more working days on a deadline (the resolution one unless named); a
    supervisor decides, and the dispatchers of the region are told."""
    try:
        named = Stage(stage) if stage else None
    except ValueError:
        raise ValidationFailed("Unknown stage.", fields={"stage": "No such stage."}) from None
    asked: dict[str, Any] = {}

    async def work(session: AsyncSession, place: _Place) -> dict[str, Any]:
        ext = await deadlines.request_extension(
            ctx,
            session,
            actor,
            topic_id,
            place.topic.status,
            stage=named,
            days=days,
            reason=reason,
        )
        asked.update(extension_id=ext.id, days=days, region_path=place.region_path)
        return {"extension_id": ext.id, "days": days}

    view = await _record(ctx, actor, topic_id, "topic.extension.request", work)
    supervisors = await accounts.responsible_staff(
        ctx, unit_id=None, region_path=asked["region_path"]
    )
    data = {"number": view.number, "title": view.title, "days": days, "topic_id": topic_id}
    users = await deadlines.notify(
        ctx,
        [u for u in supervisors if u != actor.user_id],
        kind="extension.requested",
        topic_id=topic_id,
        data=data,
    )
    await deadlines.push(ctx, users, "extension.requested", data)
    return view


async def decide_extension(
    ctx: Context,
    actor: Principal,
    topic_id: int,
    extension_id: int,
    *,
    approve: bool,
    note: str = "",
) -> StaffTopic:
    """A supervisor (a dispatcher of the region, not the one who asked) decides."""
    note = _check_note(note)
    place = await _load(ctx, topic_id)
    actor.require(Permission.DISPATCH_TOPICS, place.region_path)
    requester: list[int] = []

    async def work(session: AsyncSession, place: _Place) -> dict[str, Any]:
        ext = await store.get_extension(session, extension_id)
        if ext is None or ext.topic_id != topic_id:
            raise NotFound("No such extension request on this topic.")
        deadline = await deadlines.decide_extension(
            ctx, session, actor, ext, place.topic.status, approve=approve, note=note
        )
        requester.append(ext.requested_by_id)
        return {
            "extension_id": extension_id,
            "approved": approve,
            "due_at": deadline.due_at.astimezone(LOCAL_TZ).isoformat(),
        }

    view = await _record(ctx, actor, topic_id, "topic.extension.decide", work)
    kind = "extension.approved" if approve else "extension.denied"
    data = {"number": view.number, "title": view.title, "topic_id": topic_id, "note": note}
    users = await deadlines.notify(ctx, requester, kind=kind, topic_id=topic_id, data=data)
    await deadlines.push(ctx, users, kind, data)
    return view


async def resolve_topic(
    ctx: Context,
    actor: Principal,
    topic_id: int,
    *,
    version: int,
    result: str,
    photos: Sequence[Upload] = (),
) -> StaffTopic:
    """Resolve with the result the submitter reads (办结), and photos of it if any.

    The photos are checked and re-encoded like a resident's, staged first, and placed
    with the commit; a refused move leaves no file behind.
    """
    result = result.strip()
    lo, hi = RESULT_LIMITS
    if not lo <= len(result) <= hi:
        raise ValidationFailed(
            "Describe the result for the resident.",
            fields={"result": "Required." if not result else f"{lo} to {hi} characters."},
        )
    place = await _load(ctx, topic_id)
    _may_move(actor, place, TopicStatus.RESOLVED)
    images = await clean_photos(ctx, list(photos))
    local = ctx.clock.now().astimezone(LOCAL_TZ)
    staged: list[StagedFile] = []
    try:
        for image in images:
            staged.append(await ctx.files.stage(image.data, f"results/{local:%Y/%m}", ".jpg"))
        return await _apply_move(
            ctx,
            actor,
            place,
            TopicStatus.RESOLVED,
            version=version,
            note=result,
            photos=list(zip(images, staged, strict=True)),
            action="topic.resolve",
        )
    except BaseException:
        ctx.files.discard(staged)
        raise
