"""Supervised deadlines (督办) on topics, pauses, extensions, reminders and notifications.

A move opens and closes deadlines through ``apply_plan`` (inside the move's own
transaction, so a refused move changes no deadline). The reminder sweep tells the
responsible staff once when a deadline turns yellow and once when it turns red: in
the app, live over socket.io, and by the optional outgoing webhook. All time comes
from ``ctx.clock``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import actions as accounts
from server.core.auth import Principal
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, ValidationFailed
from server.core.webhook import post_json
from server.settings import Settings
from server.topics import store
from server.topics.actions.common import STAFF_NAMESPACE, user_room
from server.topics.model import ActorKind, EventKind, TopicStatus
from server.topics.supervision import (
    ExtensionStatus,
    Flag,
    Outcome,
    Policy,
    Stage,
    due_at,
    flag,
    make_policy,
    near_until,
    outcome,
    plan_for_move,
)
from server.topics.tables import DeadlineExtension, TopicDeadline

log = logging.getLogger(__name__)
MAX_EXTENSION_DAYS = 30
REASON_LIMITS = (2, 200)


def policy_of(settings: Settings) -> Policy:
    """Raises ValueError for an unknown stage; the app checks this as it starts."""
    return make_policy(settings.deadline_days, settings.warn_days)


def policy(ctx: Context) -> Policy:
    return policy_of(ctx.settings)


def _due(
    ctx: Context,
    pol: Policy,
    *,
    started_at: datetime,
    stage: Stage,
    paused_days: int = 0,
    extension_days: int = 0,
) -> datetime:
    return due_at(
        started_at,
        stage,
        pol,
        ctx.settings.calendar,
        LOCAL_TZ,
        paused_days=paused_days,
        extension_days=extension_days,
    )


def _due_of(ctx: Context, d: TopicDeadline, pol: Policy) -> datetime:
    return _due(
        ctx,
        pol,
        started_at=d.started_at,
        stage=d.stage,
        paused_days=d.paused_days,
        extension_days=d.extension_days,
    )


def new_deadline(
    ctx: Context, pol: Policy, topic_id: int, stage: Stage, unit_id: int | None, now: datetime
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "topic_id": topic_id,
        "stage": stage,
        "unit_id": unit_id,
        "started_at": now,
        "paused_days": 0,
        "extension_days": 0,
        "pause_reason": "",
        "reminded": Flag.OK,
    }
    row["due_at"] = _due(ctx, pol, started_at=now, stage=stage)
    return row


async def apply_plan(
    ctx: Context,
    session: AsyncSession,
    topic_id: int,
    current: TopicStatus,
    target: TopicStatus,
    *,
    unit_id: int | None,
    now: datetime,
) -> None:
    """Close and open the topic's deadlines for a move. Inside the move's transaction."""
    plan = plan_for_move(current, target)
    if not (plan.done or plan.cancel or plan.start):
        return
    still_open = set()
    for d in await store.open_deadlines(session, topic_id):
        if d.stage in plan.done:
            d.closed_at, d.outcome = now, outcome(now, d.due_at, paused=d.paused_at is not None)
        elif d.stage in plan.cancel:
            d.closed_at, d.outcome = now, Outcome.CANCELLED
        else:
            still_open.add(d.stage)
    pol = policy(ctx)
    await store.insert_deadlines(
        session,
        [
            new_deadline(ctx, pol, topic_id, stage, unit_id, now)
            for stage in plan.start
            if stage not in still_open
        ],
    )


async def close_stage(
    session: AsyncSession, topic_id: int, stage: Stage, now: datetime
) -> TopicDeadline | None:
    """Mark an open stage done (first contact recorded, say); None if none was open."""
    for d in await store.open_deadlines(session, topic_id):
        if d.stage is stage:
            d.closed_at, d.outcome = now, outcome(now, d.due_at, paused=d.paused_at is not None)
            return d
    return None


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExtensionView:
    id: int
    days: int
    reason: str
    status: ExtensionStatus
    requested_by_id: int
    requested_at: datetime
    decided_by_id: int | None
    decided_at: datetime | None
    decision_note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "days": self.days,
            "reason": self.reason,
            "status": self.status,
            "requested_by_id": self.requested_by_id,
            "requested_at": self.requested_at.isoformat(),
            "decided_by_id": self.decided_by_id,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decision_note": self.decision_note,
        }


@dataclass(frozen=True, slots=True)
class DeadlineView:
    id: int
    stage: Stage
    unit_id: int | None
    started_at: datetime
    due_at: datetime
    flag: Flag | None  # None once closed
    pause_reason: str
    paused_days: int
    extension_days: int
    closed_at: datetime | None
    outcome: Outcome | None
    extensions: tuple[ExtensionView, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stage": self.stage,
            "unit_id": self.unit_id,
            "started_at": self.started_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "flag": self.flag,
            "pause_reason": self.pause_reason,
            "paused_days": self.paused_days,
            "extension_days": self.extension_days,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "outcome": self.outcome,
            "extensions": [e.to_json() for e in self.extensions],
        }


def current_flag(ctx: Context, pol: Policy, due: datetime, paused: bool, now: datetime) -> Flag:
    if paused:
        return Flag.PAUSED
    return flag(now, due, pol, ctx.settings.calendar, LOCAL_TZ)


async def topic_deadlines(ctx: Context, session: AsyncSession, topic_id: int) -> list[DeadlineView]:
    """Every deadline of a topic, open ones with their flag, and their extensions."""
    now, pol = ctx.clock.now(), policy(ctx)
    extensions: dict[int, list[ExtensionView]] = {}
    for e in await store.list_extensions(session, topic_id):
        extensions.setdefault(e.deadline_id, []).append(_extension_view(e))
    return [
        DeadlineView(
            d.id,
            d.stage,
            d.unit_id,
            d.started_at,
            d.due_at,
            None if d.closed_at else current_flag(ctx, pol, d.due_at, d.paused_at is not None, now),
            d.pause_reason,
            d.paused_days,
            d.extension_days,
            d.closed_at,
            d.outcome,
            tuple(extensions.get(d.id, ())),
        )
        for d in await store.list_deadlines(session, topic_id)
    ]


def _extension_view(e: DeadlineExtension) -> ExtensionView:
    return ExtensionView(
        e.id,
        e.days,
        e.reason,
        e.status,
        e.requested_by_id,
        e.requested_at,
        e.decided_by_id,
        e.decided_at,
        e.decision_note,
    )


async def flags_for(
    ctx: Context, session: AsyncSession, topic_ids: list[int]
) -> dict[int, tuple[Flag, datetime]]:
    """Per topic, the flag and due time of its most pressing open deadline."""
    now, pol = ctx.clock.now(), policy(ctx)
    return {
        topic_id: (current_flag(ctx, pol, due, paused, now), due)
        for topic_id, (due, paused) in (
            await store.earliest_open_deadlines(session, topic_ids)
        ).items()
    }


def flag_bounds(ctx: Context) -> tuple[datetime, datetime]:
    """(now, end of the yellow window): a queue filter's bounds for red and yellow."""
    now = ctx.clock.now()
    return now, near_until(now, policy(ctx), ctx.settings.calendar, LOCAL_TZ)


# --- acting ------------------------------------------------------------------------------------


def check_reason(reason: str, field: str = "reason") -> str:
    reason = reason.strip()
    lo, hi = REASON_LIMITS
    if len(reason) < lo:
        raise ValidationFailed("Give a reason.", fields={field: "Required."})
    if len(reason) > hi:
        raise ValidationFailed("The reason is too long.", fields={field: f"At most {hi}."})
    return reason


def record_event(
    topic_id: int,
    status: TopicStatus,
    kind: EventKind,
    actor: Principal,
    now: datetime,
    note: str,
    *,
    public: bool,
) -> Any:
    """An event that leaves the status as it is (from == to)."""
    return store.new_event(
        topic_id=topic_id,
        at=now,
        actor_kind=ActorKind.STAFF,
        actor_id=actor.user_id,
        from_status=status,
        to_status=status,
        note=note,
        public=public,
        kind=kind,
    )


async def pause(
    ctx: Context,
    session: AsyncSession,
    actor: Principal,
    topic_id: int,
    status: TopicStatus,
    reason: str,
) -> None:
    """Stop the clock on the topic's running deadlines (waiting on the resident, say)."""
    now = ctx.clock.now()
    running = [d for d in await store.open_deadlines(session, topic_id) if d.paused_at is None]
    if not running:
        raise Conflict("No deadline of this topic is running: nothing to pause.")
    for d in running:
        d.paused_at, d.pause_reason = now, reason
    session.add(record_event(topic_id, status, EventKind.PAUSE, actor, now, reason, public=True))


async def resume(
    ctx: Context, session: AsyncSession, actor: Principal, topic_id: int, status: TopicStatus
) -> None:
    """Restart the clock; the working days spent paused push each deadline back."""
    now, pol, cal = ctx.clock.now(), policy(ctx), ctx.settings.calendar
    paused = [d for d in await store.open_deadlines(session, topic_id) if d.paused_at]
    if not paused:
        raise Conflict("The topic's deadlines are not paused.")
    for d in paused:
        assert d.paused_at is not None
        d.paused_days += cal.working_days_between(
            d.paused_at.astimezone(LOCAL_TZ).date(), now.astimezone(LOCAL_TZ).date()
        )
        d.paused_at, d.pause_reason = None, ""
        d.due_at = _due_of(ctx, d, pol)
        d.reminded = Flag.OK  # a later deadline earns its reminders again
    session.add(record_event(topic_id, status, EventKind.RESUME, actor, now, "", public=True))


async def request_extension(
    ctx: Context,
    session: AsyncSession,
    actor: Principal,
    topic_id: int,
    status: TopicStatus,
    *,
    stage: Stage | None,
    days: int,
    reason: str,
) -> DeadlineExtension:
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise ValidationFailed(
            f"Ask for 1 to {MAX_EXTENSION_DAYS} working days.",
            fields={"days": f"1 to {MAX_EXTENSION_DAYS}."},
        )
    reason = check_reason(reason)
    open_ = await store.open_deadlines(session, topic_id)
    if stage is not None:
        candidates = [d for d in open_ if d.stage is stage]
    else:  # the resolution deadline unless another is named
        candidates = sorted(
            open_, key=lambda d: d.stage not in (Stage.RESOLVE_INDIVIDUAL, Stage.RESOLVE_ESCALATED)
        )
    if not candidates:
        raise Conflict("There is no open deadline to extend.")
    deadline = candidates[0]
    if await store.pending_extension(session, deadline.id) is not None:
        raise Conflict("An extension of this deadline is already waiting for a decision.")
    now = ctx.clock.now()
    extension = await store.insert_extension(
        session,
        deadline_id=deadline.id,
        topic_id=topic_id,
        days=days,
        reason=reason,
        status=ExtensionStatus.REQUESTED,
        requested_by_id=actor.user_id,
        requested_at=now,
        decision_note="",
    )
    session.add(
        record_event(
            topic_id, status, EventKind.EXTENSION, actor, now, f"+{days} {reason}", public=False
        )
    )
    return extension


async def decide_extension(
    ctx: Context,
    session: AsyncSession,
    actor: Principal,
    extension: DeadlineExtension,
    status: TopicStatus,
    *,
    approve: bool,
    note: str,
) -> TopicDeadline:
    """Approve or refuse a request; approval pushes the deadline back by its days."""
    if extension.requested_by_id == actor.user_id:
        raise Forbidden("Someone else must decide on your own request.")
    if extension.status is not ExtensionStatus.REQUESTED:
        raise Conflict(f"This request was already {extension.status}.")
    deadline = await store.get_deadline(session, extension.deadline_id)
    assert deadline is not None
    if deadline.closed_at is not None:
        raise Conflict("That deadline is already closed.")
    now = ctx.clock.now()
    extension.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.DENIED
    extension.decided_by_id, extension.decided_at = actor.user_id, now
    extension.decision_note = note
    if approve:
        deadline.extension_days += extension.days
        deadline.due_at = _due_of(ctx, deadline, policy(ctx))
        deadline.reminded = Flag.OK
    mark = f"✓ +{extension.days}" if approve else "✗"
    session.add(
        record_event(
            extension.topic_id,
            status,
            EventKind.EXTENSION,
            actor,
            now,
            f"{mark} {note}".strip(),
            public=False,
        )
    )
    return deadline


# --- reminders and notifications -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    kind: str
    topic_id: int | None
    data: dict[str, Any]
    created_at: datetime
    read: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "topic_id": self.topic_id,
            "data": self.data,
            "created_at": self.created_at.isoformat(),
            "read": self.read,
        }


async def notify(
    ctx: Context,
    user_ids: list[int],
    *,
    kind: str,
    topic_id: int | None,
    data: dict[str, Any],
    session: AsyncSession | None = None,
) -> list[int]:
    """Store a notification for each user; push them after commit with ``push``."""
    now = ctx.clock.now()
    rows = [
        {"user_id": u, "topic_id": topic_id, "kind": kind, "data": data, "created_at": now}
        for u in dict.fromkeys(user_ids)
    ]
    if session is not None:
        await store.insert_notifications(session, rows)
    else:
        async with ctx.db.write() as s:
            await store.insert_notifications(s, rows)
    return list(dict.fromkeys(user_ids))


async def push(ctx: Context, user_ids: list[int], kind: str, data: dict[str, Any]) -> None:
    """Tell the users' open consoles; the stored notification is the record."""
    if not user_ids:
        return
    try:
        await ctx.notifier.emit(
            "notification",
            {"type": "notification", "kind": kind, "data": data},
            namespace=STAFF_NAMESPACE,
            rooms=[user_room(u) for u in user_ids],
        )
    except Exception:
        log.exception("could not push a notification")


async def run_reminders(ctx: Context, *, limit: int = 500) -> int:
    """One sweep: remind the responsible staff of deadlines that turned yellow or red.

    Safe to run in several processes at once: each reminder is claimed by a
    conditional update, so it is sent once. Returns how many deadlines were reminded.
    """
    now, pol = ctx.clock.now(), policy(ctx)
    until = near_until(now, pol, ctx.settings.calendar, LOCAL_TZ)
    async with ctx.db.read() as session:
        rows = await store.due_deadlines(session, until=until, limit=limit)
    sent = 0
    for d, topic, region in rows:
        level = flag(now, d.due_at, pol, ctx.settings.calendar, LOCAL_TZ)
        if level is Flag.OK or d.reminded is level or d.reminded is Flag.OVERDUE:
            continue
        recipients = await accounts.responsible_staff(
            ctx, unit_id=d.unit_id, region_path=region.path
        )
        data = {
            "number": topic.number,
            "title": topic.title,
            "stage": str(d.stage),
            "flag": str(level),
            "due_at": d.due_at.isoformat(),
            "unit_id": d.unit_id,
        }
        kind = f"deadline.{level}"
        async with ctx.db.write() as session:
            if not await store.mark_reminded(session, d.id, was=d.reminded, now_flag=level):
                continue  # another process sent it, or the deadline just closed
            users = await notify(
                ctx, recipients, kind=kind, topic_id=topic.id, data=data, session=session
            )
        sent += 1
        await push(ctx, users, kind, {**data, "topic_id": topic.id})
        if ctx.settings.webhook_url:
            await post_json(
                ctx.settings.webhook_url,
                {"event": kind, "topic_id": topic.id, "region_id": region.id, **data},
                secret=ctx.settings.webhook_secret,
            )
    return sent


async def reminder_loop(ctx: Context) -> None:
    """Sweep every ``reminder_seconds`` until cancelled."""
    while True:
        try:
            sent = await run_reminders(ctx)
            if sent:
                log.info("sent %d deadline reminders", sent)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the reminder sweep failed; trying again next time")
        await asyncio.sleep(ctx.settings.reminder_seconds)


async def list_notifications(
    ctx: Context, actor: Principal, *, unread_only: bool = False, limit: int = 50
) -> tuple[list[NotificationView], int]:
    """The actor's notifications, newest first, and how many are unread."""
    async with ctx.db.read() as session:
        rows = await store.list_notifications(
            session, actor.user_id, unread_only=unread_only, limit=limit
        )
        unread = await store.count_unread(session, actor.user_id)
    views = [
        NotificationView(n.id, n.kind, n.topic_id, n.data, n.created_at, n.read_at is not None)
        for n in rows
    ]
    return views, unread


async def mark_read(ctx: Context, actor: Principal, ids: list[int] | None) -> int:
    """Mark the actor's own notifications read (all of them if ``ids`` is None)."""
    if ids is not None and (len(ids) > 500 or not all(isinstance(i, int) for i in ids)):
        raise ValidationFailed("Send at most 500 notification ids.", fields={"ids": "Invalid."})
    async with ctx.db.write() as session:
        return await store.mark_notifications_read(session, actor.user_id, ids, ctx.clock.now())
