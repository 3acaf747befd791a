"""Scheduling sessions (协商议事会) and their life: create, edit, agenda, announce, start,
end, cancel; and the staff's view of them.

Every write locks the session's row and checks the version the actor saw. The agenda's
topics move through the topics workflow in the same transaction as the session:
announcing schedules them, ending marks them deliberated, cancelling an announced
session sends them back to escalated.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import (
    Forbidden,
    InvalidTransitionError,
    NotFound,
    StaleUpdate,
    ValidationFailed,
)
from server.deliberations import store
from server.deliberations.actions import room
from server.deliberations.actions.common import Place, load, publish_session, require_host
from server.deliberations.actions.signup import fill_seats
from server.deliberations.model import (
    AGENDA_MAX,
    EDITABLE_STATES,
    NAME_MAX,
    REASON_MAX,
    TRANSITIONS,
    DeliberationStatus,
    Invalid,
    InvalidMove,
    ModerationMode,
    RegistrationStatus,
    clean_text,
    require_text,
    transition,
    validate_schedule,
)
from server.deliberations.store import DeliberationFilter
from server.deliberations.tables import Deliberation
from server.rooms import actions as rooms
from server.topics import actions as topics
from server.topics.actions import AgendaTopic, TopicMove
from server.topics.model import TopicStatus

log = logging.getLogger(__name__)

D = DeliberationStatus
MODERATORS_MAX = 120
# What the agenda's topics do when the session makes a move.
TOPIC_MOVES = {
    D.ANNOUNCED: TopicStatus.SCHEDULED,
    D.ENDED: TopicStatus.DELIBERATED,
}
# Moves the staff make here, forward ones first; publishing the minutes belongs to the
# outcomes.
MOVE_ORDER = (D.ANNOUNCED, D.LIVE, D.ENDED, D.CANCELLED)
STAFF_MOVES = frozenset(MOVE_ORDER)


@dataclass(frozen=True, slots=True)
class SessionFields:
    """A session as the host typed it; checked by ``check_fields``."""

    title: str
    description: str
    place: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    moderation: str = ModerationMode.POST_THEN_HIDE.value
    host_name: str = ""
    moderators: str = ""


class AgendaEntry(NamedTuple):
    """One agenda topic, as the live room and public pages show it."""

    topic_id: int
    number: str
    title: str


@dataclass(frozen=True, slots=True)
class Counts:
    registered: int = 0
    waitlisted: int = 0
    cancelled: int = 0
    checked_in: int = 0


@dataclass(frozen=True, slots=True)
class DeliberationView:
    """A session as its hosts see it."""

    id: int
    room_id: int
    room_name: str
    room_code: str
    region_id: int
    title: str
    description: str
    place: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    status: DeliberationStatus
    moderation: ModerationMode
    host_name: str
    moderators: str
    cancel_reason: str
    created_at: datetime
    updated_at: datetime
    announced_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    version: int
    agenda: tuple[AgendaTopic, ...]
    counts: Counts
    moves: tuple[DeliberationStatus, ...]

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE_STATES

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "room": {"id": self.room_id, "name": self.room_name, "code": self.room_code},
            "region_id": self.region_id,
            "title": self.title,
            "description": self.description,
            "place": self.place,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "capacity": self.capacity,
            "status": self.status,
            "moderation": self.moderation,
            "host_name": self.host_name,
            "moderators": self.moderators,
            "cancel_reason": self.cancel_reason,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "announced_at": iso(self.announced_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "version": self.version,
            "agenda": [
                {"topic_id": t.id, "number": t.number, "title": t.title, "status": t.status}
                for t in self.agenda
            ],
            "counts": {
                "registered": self.counts.registered,
                "waitlisted": self.counts.waitlisted,
                "cancelled": self.counts.cancelled,
                "checked_in": self.counts.checked_in,
            },
            "moves": [str(m) for m in self.moves],
            "editable": self.editable,
        }


@dataclass(frozen=True, slots=True)
class DeliberationList:
    items: list[DeliberationView]
    total: int


# --- reading ---------------------------------------------------------------------------------


async def agenda(ctx: Context, deliberation_id: int) -> list[AgendaEntry]:
    """A session's agenda in order: (topic id, number, title). No authorisation."""
    async with ctx.db.read() as session:
        return await agenda_in(session, deliberation_id)


async def agenda_in(session: AsyncSession, deliberation_id: int) -> list[AgendaEntry]:
    """``agenda`` inside the caller's session."""
    ids = await store.agenda_topic_ids(session, deliberation_id)
    return [
        AgendaEntry(t.id, t.number, t.title) for t in await topics.agenda_topics(session, ids=ids)
    ]


def _counts(by_status: dict[RegistrationStatus, int], checked_in: int) -> Counts:
    return Counts(
        by_status.get(RegistrationStatus.REGISTERED, 0),
        by_status.get(RegistrationStatus.WAITLISTED, 0),
        by_status.get(RegistrationStatus.CANCELLED, 0),
        checked_in,
    )


def _view(
    d: Deliberation, room_name: str, room_code: str, agenda: Sequence[AgendaTopic], counts: Counts
) -> DeliberationView:
    return DeliberationView(
        id=d.id,
        room_id=d.room_id,
        room_name=room_name,
        room_code=room_code,
        region_id=d.region_id,
        title=d.title,
        description=d.description,
        place=d.place,
        starts_at=d.starts_at,
        ends_at=d.ends_at,
        capacity=d.capacity,
        status=d.status,
        moderation=d.moderation,
        host_name=d.host_name,
        moderators=d.moderators,
        cancel_reason=d.cancel_reason,
        created_at=d.created_at,
        updated_at=d.updated_at,
        announced_at=d.announced_at,
        started_at=d.started_at,
        ended_at=d.ended_at,
        version=d.version,
        agenda=tuple(agenda),
        counts=counts,
        moves=tuple(m for m in MOVE_ORDER if m in TRANSITIONS[d.status]),
    )


async def _detail(session: AsyncSession, place: Place) -> DeliberationView:
    d = place.deliberation
    ids = await store.agenda_topic_ids(session, d.id)
    items = await topics.agenda_topics(session, ids=ids)
    by_status = (await store.count_registrations(session, [d.id]))[d.id]
    counts = _counts(by_status, await store.count_checked_in(session, d.id))
    return _view(d, place.room_name, place.room_code, items, counts)


async def deliberation_detail(
    ctx: Context, actor: Principal, deliberation_id: int
) -> DeliberationView:
    """One session as its hosts see it; NotFound, or Forbidden outside the territory."""
    async with ctx.db.read() as session:
        place = await load(session, deliberation_id)
        require_host(actor, place)
        return await _detail(session, place)


async def list_deliberations(
    ctx: Context,
    actor: Principal,
    *,
    statuses: tuple[DeliberationStatus, ...] = (),
    limit: int = 50,
    offset: int = 0,
) -> DeliberationList:
    """Sessions in the actor's territory, latest start first."""
    actor.require(Permission.HOST_DELIBERATIONS)
    f = DeliberationFilter(under_path=actor.region_path, statuses=statuses)
    async with ctx.db.read() as session:
        rows = await store.list_deliberations(
            session, f, soonest_first=False, limit=limit, offset=offset
        )
        total = await store.count_deliberations(session, f)
        ids = [d.id for d, *_ in rows]
        agendas = await store.agendas_of(session, ids)
        found = await topics.agenda_topics(
            session, ids=[t for items in agendas.values() for t in items]
        )
        by_id = {t.id: t for t in found}
        counts = await store.count_registrations(session, ids)
        checked_in = await store.count_checked_in_many(session, ids)
    return DeliberationList(
        [
            _view(
                d,
                name,
                code,
                [by_id[t] for t in agendas[d.id] if t in by_id],
                _counts(counts[d.id], checked_in[d.id]),
            )
            for d, _path, name, code in rows
        ],
        total,
    )


# --- checks ----------------------------------------------------------------------------------


def check_fields(fields: SessionFields) -> dict[str, Any]:
    """The session's columns from what the host typed; ValidationFailed names each field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        schedule = validate_schedule(
            title=fields.title,
            description=fields.description,
            place=fields.place,
            starts_at=fields.starts_at,
            ends_at=fields.ends_at,
            capacity=fields.capacity,
        )
    except Invalid as exc:
        errors.update(exc.fields)
    else:
        values.update(
            title=schedule.title,
            description=schedule.description,
            place=schedule.place,
            # Stored and compared in UTC, however the host's zone was written.
            starts_at=schedule.starts_at.astimezone(UTC),
            ends_at=schedule.ends_at.astimezone(UTC),
            capacity=schedule.capacity,
        )
    try:
        values["moderation"] = ModerationMode(fields.moderation)
    except ValueError:
        errors["moderation"] = "post or hold."
    for name, value, limit in (
        ("host_name", fields.host_name, NAME_MAX),
        ("moderators", fields.moderators, MODERATORS_MAX),
    ):
        try:
            values[name] = require_text(name, value, limit, required=False)
        except Invalid as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationFailed("Some fields need attention.", fields=errors)
    return values


def _check_future(ctx: Context, starts_at: datetime) -> None:
    if starts_at <= ctx.clock.now():
        raise ValidationFailed(
            "The session must start in the future.", fields={"starts_at": "In the future."}
        )


def _check_version(d: Deliberation, version: int | None) -> None:
    if version is not None and d.version != version:
        raise StaleUpdate(
            f"The session changed since you loaded it: it is now {d.status} (version {d.version}).",
            fields={"status": d.status, "version": str(d.version)},
        )


def _check_move(d: Deliberation, target: DeliberationStatus) -> None:
    try:
        transition(d.status, target)
    except InvalidMove as exc:
        raise InvalidTransitionError(str(exc), fields={"status": d.status}) from None


async def _locked(session: AsyncSession, actor: Principal, deliberation_id: int) -> Place:
    found = await store.get_with_place(session, deliberation_id, lock=True)
    if found is None:
        raise NotFound("No such deliberation.")
    place = Place(*found)
    require_host(actor, place)
    return place


def _normalise_refs(refs: Sequence[int | str]) -> list[int | str]:
    """Ids as given, numbers as people type them (HA2026-000012, ha2026-000012 )."""
    return [r if isinstance(r, int) else r.strip().upper() for r in refs]


async def _resolve_agenda(
    session: AsyncSession, actor: Principal, refs: Sequence[int | str]
) -> list[AgendaTopic]:
    """The agenda's topics in order, locked: each a key topic (escalated or scheduled)
    in the actor's territory. A topic may stand on more than one session's agenda (a
    second round, say)."""
    if len(refs) > AGENDA_MAX:
        raise ValidationFailed(
            f"At most {AGENDA_MAX} topics on one agenda.",
            fields={"agenda": f"At most {AGENDA_MAX}."},
        )
    wanted = _normalise_refs(refs)
    ids = [r for r in wanted if isinstance(r, int)]
    numbers = [r for r in wanted if isinstance(r, str)]
    fetched = await topics.agenda_topics(session, ids=ids, numbers=numbers, lock=True)
    by_ref: dict[int | str, AgendaTopic] = {t.id: t for t in fetched}
    by_ref.update({t.number: t for t in fetched})
    missing = [str(r) for r in wanted if r not in by_ref]
    if missing:
        raise ValidationFailed(
            f"No topic {', '.join(missing)}.", fields={"agenda": f"Unknown: {', '.join(missing)}."}
        )
    found = [by_ref[r] for r in wanted]  # in the order given
    if len({t.id for t in found}) != len(found):
        raise ValidationFailed("A topic is on the agenda twice.", fields={"agenda": "Each once."})
    for t in found:
        if not actor.covers(t.region_path):
            raise Forbidden(f"Topic {t.number} is outside your region.")
        if t.status not in topics.AGENDA_STATES:
            raise ValidationFailed(
                f"Topic {t.number} is {t.status}: only key topics (escalated or scheduled) "
                "go on an agenda.",
                fields={"agenda": f"{t.number} is {t.status}."},
            )
    return found


def _note(d: Deliberation) -> str:
    """What the topic's timeline says about the session."""
    when = d.starts_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
    return f"{d.title} · {when} · {d.place}"


async def _publish(
    ctx: Context, d: Deliberation, view: DeliberationView, moves: Sequence[TopicMove]
) -> None:
    """After commit: the agenda's topics to the staff consoles, the session's state to its
    live room."""
    await topics.publish_moves(ctx, moves)
    try:
        await publish_session(ctx, d)
    except Exception:  # stored; a lost push is repaired by the next page load
        log.exception("could not publish deliberation %s", view.id)


async def _unschedulable(
    session: AsyncSession, deliberation_id: int, topic_ids: Sequence[int]
) -> list[int]:
    """Of these topics, those no other announced or live session holds: they may go back
    to escalated when this session lets them go."""
    held = await store.agendas_holding(
        session, topic_ids, (D.ANNOUNCED, D.LIVE), except_id=deliberation_id
    )
    others = {topic_id for topic_id, _ in held}
    return [t for t in topic_ids if t not in others]


# --- writing ---------------------------------------------------------------------------------


async def create_deliberation(
    ctx: Context,
    actor: Principal,
    *,
    room_id: int,
    title: str,
    description: str,
    place: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    moderation: str = ModerationMode.POST_THEN_HIDE.value,
    host_name: str = "",
    moderators: str = "",
    agenda: Sequence[int | str] = (),
) -> DeliberationView:
    """A draft session in a room the actor may host in, with an optional agenda.

    Raises ValidationFailed (fields, unknown room, a start in the past, an agenda topic
    that is not a key topic), Forbidden (the room or a topic outside the territory) or
    Nothing is written unless all of it holds.
    """
    actor.require(Permission.HOST_DELIBERATIONS)
    values = check_fields(
        SessionFields(
            title,
            description,
            place,
            starts_at,
            ends_at,
            capacity,
            moderation,
            host_name,
            moderators,
        )
    )
    _check_future(ctx, values["starts_at"])
    try:
        room, _codes = await rooms.get_room(ctx, None, room_id)
    except NotFound:
        raise ValidationFailed("Unknown room.", fields={"room_id": "No such room."}) from None
    actor.require(Permission.HOST_DELIBERATIONS, room.region_path)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        items = await _resolve_agenda(session, actor, agenda) if agenda else []
        d = await store.insert_deliberation(
            session,
            {
                **values,
                "room_id": room.id,
                "region_id": room.region_id,
                "status": D.DRAFT,
                "cancel_reason": "",
                "created_by_id": actor.user_id,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            },
        )
        await store.replace_agenda(session, d.id, [t.id for t in items])
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="deliberation.create",
            target=f"deliberation:{d.id}",
            detail={"title": d.title, "room_id": room.id, "agenda": [t.number for t in items]},
        )
        return _view(d, room.name, room.code, items, Counts())


async def edit_deliberation(
    ctx: Context,
    actor: Principal,
    deliberation_id: int,
    *,
    version: int,
    title: str,
    description: str,
    place: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    moderation: str = ModerationMode.POST_THEN_HIDE.value,
    host_name: str = "",
    moderators: str = "",
) -> DeliberationView:
    """Change a draft or announced session. Raising the capacity seats the waiting list
    in sign-up order; lowering it below the number registered is refused. An announced
    session's calendar entry takes the new version as its SEQUENCE.

    Raises InvalidTransitionError once live or finished, StaleUpdate if the session
    changed since ``version``, ValidationFailed for bad fields.
    """
    values = check_fields(
        SessionFields(
            title,
            description,
            place,
            starts_at,
            ends_at,
            capacity,
            moderation,
            host_name,
            moderators,
        )
    )
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        located = await _locked(session, actor, deliberation_id)
        d = located.deliberation
        if d.status not in EDITABLE_STATES:
            raise InvalidTransitionError(
                f"A {d.status} session can no longer be edited.", fields={"status": d.status}
            )
        _check_version(d, version)
        if values["starts_at"] != d.starts_at:
            _check_future(ctx, values["starts_at"])
        registered = (await store.count_registrations(session, [d.id]))[d.id].get(
            RegistrationStatus.REGISTERED, 0
        )
        if values["capacity"] < registered:
            raise ValidationFailed(
                f"{registered} people are registered: the capacity cannot be lower.",
                fields={"capacity": f"At least {registered}."},
            )
        changed = {k: v for k, v in values.items() if getattr(d, k) != v}
        if not await store.update_deliberation(
            session, d.id, expected_version=version, now=now, values=values
        ):
            raise StaleUpdate("The session changed while you were editing; reload it.")
        located = await _locked(session, actor, deliberation_id)
        await fill_seats(session, located.deliberation, now)
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="deliberation.edit",
            target=f"deliberation:{d.id}",
            detail={k: str(v) for k, v in changed.items()},
        )
        view = await _detail(session, located)
    await _publish(ctx, located.deliberation, view, ())
    return view


async def set_agenda(
    ctx: Context,
    actor: Principal,
    deliberation_id: int,
    *,
    version: int,
    topic_refs: Sequence[int | str],
) -> DeliberationView:
    """Replace a draft or announced session's agenda with 1 to AGENDA_MAX key topics
    (ids or numbers), in order. On an announced session, added topics are scheduled and
    removed ones go back to escalated, in the same transaction.

    Refused, with nothing written: a topic that is unknown, not escalated or scheduled,
    or outside the actor's territory (Forbidden); a stale ``version``; a session past
    announcement. A dropped topic another announced session still holds stays
    scheduled.
    """
    if not topic_refs:
        raise ValidationFailed(
            "Put at least one topic on the agenda.", fields={"agenda": "Required."}
        )
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        place = await _locked(session, actor, deliberation_id)
        d = place.deliberation
        if d.status not in EDITABLE_STATES:
            raise InvalidTransitionError(
                f"A {d.status} session's agenda is fixed.", fields={"status": d.status}
            )
        _check_version(d, version)
        before = await store.agenda_topic_ids(session, d.id)
        items = await _resolve_agenda(session, actor, topic_refs)
        after = [t.id for t in items]
        await store.replace_agenda(session, d.id, after)
        if not await store.update_deliberation(
            session, d.id, expected_version=version, now=now, values={}
        ):
            raise StaleUpdate("The session changed while you were editing; reload it.")
        moves: list[TopicMove] = []
        if d.status is D.ANNOUNCED:
            note = _note(d)
            added = [t for t in after if t not in before]
            dropped = [t for t in before if t not in after]
            moves += await topics.move_for_deliberation(
                ctx, session, actor, added, TopicStatus.SCHEDULED, note=note
            )
            moves += await topics.move_for_deliberation(
                ctx,
                session,
                actor,
                await _unschedulable(session, d.id, dropped),
                TopicStatus.ESCALATED,
                note=note,
            )
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="deliberation.agenda",
            target=f"deliberation:{d.id}",
            detail={"agenda": [t.number for t in items]},
        )
        located = await _locked(session, actor, deliberation_id)
        view = await _detail(session, located)
    await _publish(ctx, located.deliberation, view, moves)
    return view


async def move(
    ctx: Context,
    actor: Principal,
    deliberation_id: int,
    target: DeliberationStatus,
    *,
    version: int | None = None,
    reason: str = "",
) -> DeliberationView:
    """Announce (draft → announced), start (announced → live), end (live → ended) or
    cancel (draft or announced → cancelled, with a reason the public sees).

    Announcing needs an agenda and a start still ahead, and schedules the agenda's
    escalated topics; ending closes the live room's open poll and speaker queue and
    marks the scheduled topics deliberated; cancelling an
    announced session sends them back to escalated. Each topic move is recorded in its
    timeline in the same transaction. Moves the table does not allow raise
    InvalidTransitionError naming the current state; with ``version``, a session
    changed since raises StaleUpdate.
    """
    if target not in STAFF_MOVES:
        raise ValidationFailed(f"Cannot move a session to {target}.", fields={"to": "Not here."})
    if target is D.CANCELLED:
        try:
            reason = require_text("reason", reason, REASON_MAX)
        except Invalid as exc:
            raise ValidationFailed("Say why the session is cancelled.", fields=exc.fields) from None
    elif clean_text(reason):
        raise ValidationFailed(
            "Only a cancellation takes a reason.", fields={"reason": "Leave out."}
        )
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        place = await _locked(session, actor, deliberation_id)
        d = place.deliberation
        _check_move(d, target)
        _check_version(d, version)
        agenda_ids = await store.agenda_topic_ids(session, d.id)
        values: dict[str, Any] = {"status": target}
        topic_target: TopicStatus | None = TOPIC_MOVES.get(target)
        if target is D.ANNOUNCED:
            if not agenda_ids:
                raise ValidationFailed(
                    "Put at least one topic on the agenda before announcing.",
                    fields={"agenda": "Required."},
                )
            if d.starts_at <= now:
                raise ValidationFailed(
                    "The start time has passed; change it before announcing.",
                    fields={"starts_at": "In the future."},
                )
            for t in await topics.agenda_topics(session, ids=agenda_ids, lock=True):
                if t.status not in topics.AGENDA_STATES:
                    raise ValidationFailed(
                        f"Topic {t.number} is now {t.status}; take it off the agenda first.",
                        fields={"agenda": f"{t.number} is {t.status}."},
                    )
            values["announced_at"] = now
        elif target is D.LIVE:
            values["started_at"] = now
        elif target is D.ENDED:
            values["ended_at"] = now
            await room.wind_down(session, d.id, now)  # the open poll closes, the queue ends
        elif target is D.CANCELLED:
            values["cancel_reason"] = reason
            # Only an announcement scheduled the topics; a draft's stay where they are, and
            # so do those another announced session still holds.
            topic_target = TopicStatus.ESCALATED if d.status is D.ANNOUNCED else None
            agenda_ids = await _unschedulable(session, d.id, agenda_ids)
        if not await store.update_deliberation(
            session, d.id, expected_version=d.version, now=now, values=values
        ):
            raise StaleUpdate("The session changed while you were acting; reload it.")
        note = f"{_note(d)} · {reason}" if reason else _note(d)
        moves = (
            await topics.move_for_deliberation(
                ctx, session, actor, agenda_ids, topic_target, note=note
            )
            if topic_target is not None
            else []
        )
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action=f"deliberation.{target}",
            target=f"deliberation:{d.id}",
            detail={
                "from": d.status,
                "to": target,
                "reason": reason,
                "topics": [m.topic_id for m in moves],
            },
        )
        located = await _locked(session, actor, deliberation_id)
        view = await _detail(session, located)
    await _publish(ctx, located.deliberation, view, moves)
    return view


async def announce(
    ctx: Context, actor: Principal, deliberation_id: int, *, version: int | None = None
) -> DeliberationView:
    return await move(ctx, actor, deliberation_id, D.ANNOUNCED, version=version)


async def start(
    ctx: Context, actor: Principal, deliberation_id: int, *, version: int | None = None
) -> DeliberationView:
    return await move(ctx, actor, deliberation_id, D.LIVE, version=version)


async def end(
    ctx: Context, actor: Principal, deliberation_id: int, *, version: int | None = None
) -> DeliberationView:
    return await move(ctx, actor, deliberation_id, D.ENDED, version=version)


async def cancel(
    ctx: Context,
    actor: Principal,
    deliberation_id: int,
    *,
    reason: str,
    version: int | None = None,
) -> DeliberationView:
    return await move(ctx, actor, deliberation_id, D.CANCELLED, version=version, reason=reason)


@dataclass(frozen=True, slots=True)
class CandidateTopic:
    """A topic the agenda picker looked up by number, and whether it may go on."""

    topic: AgendaTopic
    problem: str  # empty when it may


async def find_agenda_topic(ctx: Context, actor: Principal, number: str) -> CandidateTopic:
    """The agenda picker's lookup: the topic with this number and why it may not go on an
    agenda, if it may not. NotFound for an unknown number, Forbidden outside the actor's
    territory."""
    actor.require(Permission.HOST_DELIBERATIONS)
    async with ctx.db.read() as session:
        found = await topics.agenda_topics(session, numbers=[number.strip().upper()])
        if not found:
            raise NotFound(f"No topic {number}.")
        (topic,) = found
        if not actor.covers(topic.region_path):
            raise Forbidden(f"Topic {topic.number} is outside your region.")
        problem = ""
        if topic.status not in topics.AGENDA_STATES:
            problem = f"{topic.number} is {topic.status}: not a key topic."
    return CandidateTopic(topic, problem)


async def mark_published(session: AsyncSession, deliberation: Deliberation, now: datetime) -> None:
    """The session's minutes and outcomes were published (ended → published), in the
    caller's write transaction with the deliberation row locked. Raises
    InvalidTransitionError naming the current state; StaleUpdate if it changed."""
    _check_move(deliberation, D.PUBLISHED)
    if not await store.update_deliberation(
        session,
        deliberation.id,
        expected_version=deliberation.version,
        now=now,
        values={"status": D.PUBLISHED},
    ):
        raise StaleUpdate("The session changed while you were acting; reload it.")
