"""The workflow (解题): moving topics between states, routing them to units, merging duplicates.

Every change goes through ``_apply_move``: one transaction that checks the version the
actor saw, checks the move against the workflow table, updates the row (the version
check is inside the UPDATE), and appends the event the submitter's timeline shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import actions as accounts
from server.accounts.actions import UnitView
from server.accounts.model import UnitKind
from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.context import Context
from server.core.errors import (
    Forbidden,
    InvalidTransitionError,
    NotFound,
    StaleUpdate,
    ValidationFailed,
)
from server.core.files import StagedFile
from server.core.hooks import TopicResolved
from server.core.images import CleanImage
from server.topics import store
from server.topics.actions import deadlines
from server.topics.actions.common import MAX_NOTE, StaffTopic, publish_for_region
from server.topics.actions.queue import staff_topic
from server.topics.model import (
    HANDLER_MOVES,
    TRANSITIONS,
    ActorKind,
    EventKind,
    InvalidTransition,
    Rule,
    TopicStatus,
    pick_rule,
    transition,
)
from server.topics.tables import Topic


@dataclass(frozen=True, slots=True)
class _Place:
    topic: Topic
    region_path: str


async def _load(ctx: Context, topic_id: int) -> _Place:
    async with ctx.db.read() as session:
        found = await store.get_topic_with_place(session, topic_id)
    if found is None:
        raise NotFound(f"No topic with id {topic_id}.")
    topic, _room, region = found
    return _Place(topic, region.path)


def _check_note(note: str) -> str:
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed("The note is too long.", fields={"note": f"At most {MAX_NOTE}."})
    return note


def _may_move(actor: Principal, place: _Place, target: TopicStatus) -> None:
    """Dispatchers move topics in their territory; handlers make the handling moves on
    topics assigned to their own unit."""
    if actor.can(Permission.DISPATCH_TOPICS) and actor.covers(place.region_path):
        actor.require(Permission.DISPATCH_TOPICS, place.region_path)  # password check
        return
    if actor.can(Permission.HANDLE_TOPICS) and not actor.must_change_password:
        if place.topic.unit_id is None or place.topic.unit_id != actor.unit_id:
            raise Forbidden("That topic is not assigned to your unit.")
        if target not in HANDLER_MOVES:
            raise Forbidden(f"A handler may not move a topic to {target}.")
        return
    actor.require(Permission.DISPATCH_TOPICS, place.region_path)


async def _apply_move(
    ctx: Context,
    actor: Principal,
    place: _Place,
    target: TopicStatus,
    *,
    version: int,
    note: str,
    values: dict[str, Any] | None = None,
    action: str = "topic.move",
    photos: Sequence[tuple[CleanImage, StagedFile]] = (),
) -> StaffTopic:
    topic_id = place.topic.id
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
        await _record_move(
            ctx,
            session,
            actor,
            current,
            target,
            note=note,
            values=values,
            action=action,
            now=now,
            photos=photos,
        )
    view = await staff_topic(ctx, topic_id)
    await publish_for_region(ctx, place.region_path, "moved", view)
    return view


async def _record_move(
    ctx: Context,
    session: AsyncSession,
    actor: Principal | None,
    current: Topic,
    target: TopicStatus,
    *,
    note: str,
    values: dict[str, Any] | None,
    action: str,
    now: datetime,
    photos: Sequence[tuple[CleanImage, StagedFile]] = (),
) -> None:
    """Write one move in the caller's transaction: the checked transition, the versioned
    UPDATE, the public event, the deadlines, any photos and the audit row. With no
    ``actor`` the move is the resident's (an unsatisfied rating reopening the topic).
    A resolution runs the installed ``topic_resolved`` hooks (the outcome record)."""
    topic_id, version = current.id, current.version
    actor_id = actor.user_id if actor is not None else None
    try:
        transition(current.status, target)
    except InvalidTransition as exc:
        raise InvalidTransitionError(str(exc), fields={"status": current.status}) from None
    if not await store.update_topic(
        session,
        topic_id,
        expected_version=version,
        now=now,
        values={"status": target, **(values or {})},
    ):  # another process won the race between our read and our update
        raise StaleUpdate("The topic changed while you were acting; reload it.")
    event = store.new_event(
        topic_id=topic_id,
        at=now,
        actor_kind=ActorKind.STAFF if actor is not None else ActorKind.RESIDENT,
        actor_id=actor_id,
        from_status=current.status,
        to_status=target,
        note=note,
        public=True,
        kind=EventKind.MOVE,
    )
    session.add(event)
    unit_id = (values or {}).get("unit_id", current.unit_id)
    await deadlines.apply_plan(
        ctx, session, topic_id, current.status, target, unit_id=unit_id, now=now
    )
    if photos:
        await session.flush()  # the event's id, for its photos
        await store.insert_photos(
            session,
            [
                {
                    "topic_id": topic_id,
                    "event_id": event.id,
                    "position": 100 + i,  # after the resident's own photos
                    "relpath": file.relpath,
                    "width": image.width,
                    "height": image.height,
                    "size": len(image.data),
                }
                for i, (image, file) in enumerate(photos)
            ],
        )
        await session.flush()
        ctx.files.place([file for _, file in photos])
    if target is TopicStatus.RESOLVED:
        await session.flush()  # the event's id
        await ctx.hooks.resolved(
            session, TopicResolved(topic_id, unit_id, note, event.id, actor_id, now)
        )
    record_audit(
        session,
        at=now,
        actor_id=actor_id,
        action=action,
        target=f"topic:{topic_id}",
        detail={
            "from": current.status,
            "to": target,
            "note": note,
            **{k: v for k, v in (values or {}).items() if k != "status"},
        },
    )


async def move_topic(
    ctx: Context,
    actor: Principal,
    topic_id: int,
    target: TopicStatus,
    *,
    version: int,
    note: str = "",
    lead: str = "",
    unit_id: int | None = None,
) -> StaffTopic:
    """Move a topic along the workflow and record who, when, from, to and why.

    ``version`` is the version the actor saw: if the topic changed since, nothing is
    written and StaleUpdate names its current state and version, so two staff acting at
    once never overwrite each other. Moves the workflow table does not allow raise
    InvalidTransitionError naming the current state. A rejection needs a reason, which
    the submitter sees. Dispatching and merging have their own actions (they name a
    unit or a surviving topic).
    """
    note = _check_note(note)
    needs_note = {
        TopicStatus.REJECTED: "Say why the topic is rejected.",
        TopicStatus.RESOLVED: "Describe the result for the resident.",
        TopicStatus.REOPENED: "Say why the topic is reopened.",
    }

    if target in (TopicStatus.MERGED, TopicStatus.DISPATCHED, TopicStatus.ASSIGNED):
        raise ValidationFailed(
            f"Moving to {target} names a {'topic' if target is TopicStatus.MERGED else 'unit'};"
            f" use {'merge' if target is TopicStatus.MERGED else 'route'}.",
            fields={"to": "Use its own action."},
        )
    place = await _load(ctx, topic_id)
    _may_move(actor, place, target)
    try:  # the move's own check, again in its transaction; first so it is what they hear
        transition(place.topic.status, target)
    except InvalidTransition as exc:
        raise InvalidTransitionError(str(exc), fields={"status": place.topic.status}) from None
    if target in needs_note and not note:
        raise ValidationFailed(needs_note[target], fields={"note": "Required."})
    values: dict[str, Any] = {}
    if target is TopicStatus.ESCALATED:
        values = await _escalation(ctx, actor, place, lead, unit_id)
        note = note or f"→ {values['lead']}"
    elif lead or unit_id is not None:
        raise ValidationFailed(
            "Only an escalation names a lead or a unit.", fields={"lead": "Only when escalating."}
        )
    return await _apply_move(ctx, actor, place, target, version=version, note=note, values=values)


async def _escalation(
    ctx: Context, actor: Principal, place: _Place, lead: str, unit_id: int | None
) -> dict[str, Any]:
    """Escalation (提级督办) names who leads it, and may hand it to a department."""
    lead = lead.strip()
    if not 2 <= len(lead) <= 60:
        raise ValidationFailed(
            "Name who leads the escalated topic (department and person).",
            fields={"lead": "2 to 60 characters."},
        )
    values: dict[str, Any] = {"lead": lead}
    if unit_id is not None:
        unit = await accounts.get_unit(ctx, unit_id)
        if unit is None:
            raise ValidationFailed("Unknown unit.", fields={"unit_id": "No such unit."})
        if unit.kind is UnitKind.RELAY:
            raise ValidationFailed(
                "Escalate to a town or department, not a relay.",
                fields={"unit_id": "Not a relay."},
            )
        if not place.region_path.startswith(unit.region_path) or not (
            actor.covers(unit.region_path)
            or unit.region_path.startswith(actor.region_path)
            or actor.region_path.startswith(unit.region_path)
        ):
            raise Forbidden(f"{unit.name} does not serve this topic's region.")
        values["unit_id"] = unit.id
    return values


async def suggest_unit(ctx: Context, actor: Principal, topic_id: int) -> UnitView | None:
    """The unit the routing table sends this topic to, if any rule matches."""
    place = await _load(ctx, topic_id)
    actor.require(Permission.VIEW_TOPICS, place.region_path)
    return await _suggested(ctx, place)


async def _suggested(ctx: Context, place: _Place) -> UnitView | None:
    chain = [int(p) for p in place.region_path.strip("/").split("/") if p]
    depth = {region_id: i for i, region_id in enumerate(chain)}
    async with ctx.db.read() as session:
        rows = await store.list_rules_for_regions(session, chain)
    rule = pick_rule(
        [Rule(depth[r.region_id], r.category, r.subject, r.unit_id) for r in rows],
        category=place.topic.category,
        subject=place.topic.subject,
    )
    return await accounts.get_unit(ctx, rule.unit_id) if rule else None


async def route_topic(
    ctx: Context,
    actor: Principal,
    topic_id: int,
    *,
    version: int,
    unit_id: int | None = None,
    note: str = "",
) -> StaffTopic:
    """Send a topic to a unit (派单): to a county relay it is ``dispatched``, to a town or
    department it is ``assigned``. Without ``unit_id`` the routing table decides; the
    dispatcher may override it with any unit in their territory.
    """
    note = _check_note(note)
    place = await _load(ctx, topic_id)
    actor.require(Permission.DISPATCH_TOPICS, place.region_path)
    if unit_id is None:
        unit = await _suggested(ctx, place)
        if unit is None:
            raise ValidationFailed(
                "No routing rule matches; choose a unit.", fields={"unit_id": "Required."}
            )
    else:
        unit = await accounts.get_unit(ctx, unit_id)
        if unit is None:
            raise ValidationFailed("Unknown unit.", fields={"unit_id": "No such unit."})
    if not actor.covers(unit.region_path) or not place.region_path.startswith(unit.region_path):
        raise Forbidden(f"{unit.name} does not serve this topic's region, or is outside yours.")
    target = TopicStatus.DISPATCHED if unit.kind is UnitKind.RELAY else TopicStatus.ASSIGNED
    return await _apply_move(
        ctx,
        actor,
        place,
        target,
        version=version,
        note=note or f"→ {unit.name}",
        values={"unit_id": unit.id},
        action="topic.route",
    )


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    topic_id: int
    ok: bool
    error: str = ""
    topic: StaffTopic | None = None


async def route_topics(
    ctx: Context,
    actor: Principal,
    items: list[tuple[int, int]],
    *,
    unit_id: int | None = None,
) -> list[RouteOutcome]:
    """Bulk dispatch: route each (topic id, version); one refusal does not stop the rest."""
    if not items:
        raise ValidationFailed("Choose at least one topic.", fields={"topics": "Required."})
    if len(items) > 200:
        raise ValidationFailed("At most 200 topics at once.", fields={"topics": "Too many."})
    outcomes = []
    for topic_id, version in items:
        try:
            topic = await route_topic(ctx, actor, topic_id, version=version, unit_id=unit_id)
        except (ValidationFailed, Forbidden, NotFound, StaleUpdate, InvalidTransitionError) as exc:
            outcomes.append(RouteOutcome(topic_id, False, exc.code))
        else:
            outcomes.append(RouteOutcome(topic_id, True, topic=topic))
    return outcomes


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
    change) when merging into itself, into a merged or rejected topic, across the
    actor's territory, from a state that cannot be merged, or with a stale ``version``.
    """
    if topic_id == into_id:
        raise ValidationFailed(
            "A topic cannot be merged into itself.", fields={"into_id": "Pick another topic."}
        )
    note = _check_note(note)
    place = await _load(ctx, topic_id)
    try:
        survivor = await _load(ctx, into_id)
    except NotFound:
        raise ValidationFailed(
            "Unknown topic to merge into.", fields={"into_id": "No such topic."}
        ) from None
    actor.require(Permission.DISPATCH_TOPICS, place.region_path)
    actor.require(Permission.DISPATCH_TOPICS, survivor.region_path)
    if survivor.topic.status in (TopicStatus.MERGED, TopicStatus.REJECTED):
        raise InvalidTransitionError(
            f"Cannot merge into {survivor.topic.number}: it is {survivor.topic.status}.",
            fields={"status": survivor.topic.status},
        )
    return await _apply_move(
        ctx,
        actor,
        place,
        TopicStatus.MERGED,
        version=version,
        note=note or f"→ {survivor.topic.number}",
        values={"merged_into_id": into_id},
        action="topic.merge",
    )


# Deliberation sessions (协商议事会) bring key topics along with them: announcing one
# schedules its agenda, ending it marks the topics deliberated, cancelling it sends them
# back to escalated. The deliberations feature calls these inside its own transaction,
# so the session and its topics change together or not at all.

# The states of a topic that may stand on a session's agenda (重点议题 under supervision).
AGENDA_STATES = frozenset({TopicStatus.ESCALATED, TopicStatus.SCHEDULED})


@dataclass(frozen=True, slots=True)
class AgendaTopic:
    id: int
    number: str
    title: str
    status: TopicStatus
    room_id: int
    region_path: str


async def agenda_topics(
    session: AsyncSession,
    *,
    ids: Sequence[int] = (),
    numbers: Sequence[str] = (),
    lock: bool = False,
) -> list[AgendaTopic]:
    """Topics named by id or number, for a session's agenda; unknown ones are left out.

    No authorisation here: the caller checks status and territory. With ``lock`` (in a
    write transaction) the topic rows stay locked until it ends, so two sessions
    taking the same topic at once are serialised (PostgreSQL; SQLite has one writer).
    """
    rows = await store.topics_for_agenda(session, ids=ids, numbers=numbers, lock=lock)
    return [AgendaTopic(t.id, t.number, t.title, t.status, t.room_id, path) for t, path in rows]


@dataclass(frozen=True, slots=True)
class TopicMove:
    """A move written in a caller's transaction, to be told to the consoles after commit."""

    topic_id: int
    region_path: str


async def move_for_deliberation(
    ctx: Context,
    session: AsyncSession,
    actor: Principal,
    topic_ids: Sequence[int],
    target: TopicStatus,
    *,
    note: str,
) -> list[TopicMove]:
    """Move a session's agenda topics to ``target`` in the caller's write transaction.

    Each topic in AGENDA_STATES whose move the workflow table allows is moved, with its
    event (who, when, from, to, ``note``), deadlines and audit row, exactly as
    ``move_topic`` writes them; topics elsewhere in the workflow (already scheduled,
    merged or resolved meanwhile) stay as they are. The actor's authority over the
    session is the caller's check: the topics move because the session does. Rows are
    locked while read; a topic changed under us raises StaleUpdate and the caller's
    whole transaction rolls back. Publish the result with ``publish_moves`` after commit.
    """
    note = _check_note(note)
    now = ctx.clock.now()
    moved = []
    for found in await store.topics_for_agenda(session, ids=topic_ids, lock=True):
        current, region_path = found
        if current.status not in AGENDA_STATES or target not in TRANSITIONS[current.status]:
            continue
        await _record_move(
            ctx,
            session,
            actor,
            current,
            target,
            note=note,
            values=None,
            action="topic.deliberation",
            now=now,
        )
        moved.append(TopicMove(current.id, region_path))
    return moved


async def move_in_transaction(
    ctx: Context,
    session: AsyncSession,
    actor: Principal | None,
    topic_ids: Sequence[int],
    target: TopicStatus,
    *,
    note: str,
    action: str,
) -> list[TopicMove]:
    """Move topics to ``target`` in the caller's write transaction, for another
    feature's use case (publishing a session's outcomes, completing one, a proposer's
    unsatisfied rating). Topics whose move the workflow table does not allow stay as
    they are; the caller checked its own authority. Rows are locked while read; a topic
    changed under us raises StaleUpdate. Publish with ``publish_moves`` after commit."""
    note = _check_note(note)
    now = ctx.clock.now()
    moved = []
    for current, region_path in await store.topics_for_agenda(session, ids=topic_ids, lock=True):
        if target not in TRANSITIONS[current.status]:
            continue
        await _record_move(
            ctx, session, actor, current, target, note=note, values=None, action=action, now=now
        )
        moved.append(TopicMove(current.id, region_path))
    return moved


async def publish_moves(ctx: Context, moves: Sequence[TopicMove]) -> None:
    """Tell the staff consoles about moves written by ``move_for_deliberation``; after
    the caller's commit only."""
    for move in moves:
        view = await staff_topic(ctx, move.topic_id)
        await publish_for_region(ctx, move.region_path, "moved", view)
