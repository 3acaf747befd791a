"""What the public sees of sessions: the list, one session's page, a room's upcoming
sessions, the sessions that took up a topic, and the calendar file.

A session is public from its announcement on; a draft, and a draft cancelled before it
was announced, never is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.context import Context
from server.core.errors import Gone, NotFound
from server.deliberations import store
from server.deliberations.model import (
    SIGNUP_STATES,
    CalendarEntry,
    DeliberationStatus,
    RegistrationStatus,
    calendar_file,
)
from server.deliberations.store import DeliberationFilter, PlacedRow
from server.rooms import actions as rooms
from server.rooms.model import RoomCodeStatus
from server.topics import actions as topics
from server.topics.model import TopicStatus

D = DeliberationStatus
LIST_MAX = 100


class When(StrEnum):
    UPCOMING = "upcoming"  # live, announced and not over, or cancelled and not yet due
    PAST = "past"  # ended (minutes published or not)


@dataclass(frozen=True, slots=True)
class PublicAgendaItem:
    number: str
    title: str
    status: TopicStatus


@dataclass(frozen=True, slots=True)
class PublicDeliberation:
    id: int
    title: str
    description: str
    place: str
    starts_at: datetime
    ends_at: datetime
    status: DeliberationStatus
    room_name: str
    room_code: str
    host_name: str
    moderators: str
    agenda: tuple[PublicAgendaItem, ...]
    capacity: int
    seats_left: int
    waitlist: int
    cancel_reason: str
    open_for_signup: bool
    version: int

    def to_json(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "place": self.place,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "status": self.status,
            "room": {"name": self.room_name, "code": self.room_code},
            "host_name": self.host_name,
            "moderators": self.moderators,
            "agenda": [
                {"number": a.number, "title": a.title, "status": a.status} for a in self.agenda
            ],
            "capacity": self.capacity,
            "seats_left": self.seats_left,
            "waitlist": self.waitlist,
            "cancel_reason": self.cancel_reason,
            "open_for_signup": self.open_for_signup,
            "url": f"{base_url}/d/{self.id}",
            "calendar_url": f"{base_url}/d/{self.id}.ics",
            "watch_url": f"{base_url}/watch/{self.id}" if self.status is D.LIVE else None,
        }


@dataclass(frozen=True, slots=True)
class PublicList:
    items: list[PublicDeliberation]
    total: int


async def _views(
    ctx: Context, session: AsyncSession, rows: list[PlacedRow]
) -> list[PublicDeliberation]:
    ids = [d.id for d, *_ in rows]
    agendas = await store.agendas_of(session, ids)
    found = await topics.agenda_topics(
        session, ids=[t for items in agendas.values() for t in items]
    )
    by_id = {t.id: t for t in found}
    counts = await store.count_registrations(session, ids)
    now = ctx.clock.now()
    out = []
    for d, _path, room_name, room_code in rows:
        registered = counts[d.id].get(RegistrationStatus.REGISTERED, 0)
        out.append(
            PublicDeliberation(
                id=d.id,
                title=d.title,
                description=d.description,
                place=d.place,
                starts_at=d.starts_at,
                ends_at=d.ends_at,
                status=d.status,
                room_name=room_name,
                room_code=room_code,
                host_name=d.host_name,
                moderators=d.moderators,
                agenda=tuple(
                    PublicAgendaItem(by_id[t].number, by_id[t].title, by_id[t].status)
                    for t in agendas[d.id]
                    if t in by_id
                ),
                capacity=d.capacity,
                seats_left=max(0, d.capacity - registered),
                waitlist=counts[d.id].get(RegistrationStatus.WAITLISTED, 0),
                cancel_reason=d.cancel_reason,
                open_for_signup=d.status in SIGNUP_STATES and d.ends_at > now,
                version=d.version,
            )
        )
    return out


async def list_public(
    ctx: Context,
    *,
    when: When = When.UPCOMING,
    region_id: int | None = None,
    limit: int = 20,
    offset: int = 0,
) -> PublicList:
    """Announced sessions, in a region if named: upcoming ones soonest first, past ones
    latest first. NotFound for an unknown region."""
    under = "/"
    if region_id is not None:
        region = await rooms.get_region(ctx, region_id)
        if region is None:
            raise NotFound(f"No region with id {region_id}.")
        under = region.path
    now = ctx.clock.now()
    f = (
        DeliberationFilter(under_path=under, announced_only=True, upcoming_at=now)
        if when is When.UPCOMING
        else DeliberationFilter(
            under_path=under, announced_only=True, statuses=(D.ENDED, D.PUBLISHED)
        )
    )
    limit = max(1, min(limit, LIST_MAX))
    async with ctx.db.read() as session:
        rows = await store.list_deliberations(
            session, f, soonest_first=when is When.UPCOMING, limit=limit, offset=offset
        )
        total = await store.count_deliberations(session, f)
        return PublicList(await _views(ctx, session, rows), total)


async def public_deliberation(ctx: Context, deliberation_id: int) -> PublicDeliberation:
    """One session's public page; NotFound unless it was announced."""
    async with ctx.db.read() as session:
        found = await store.get_with_place(session, deliberation_id)
        if found is None or found[0].announced_at is None:
            raise NotFound("No such deliberation.")
        (view,) = await _views(ctx, session, [found])
        return view


async def room_deliberations(
    ctx: Context, code: str, *, limit: int = 10
) -> list[PublicDeliberation]:
    """The room page's upcoming sessions (a retired code finds its room; a revoked one is
    Gone)."""
    lookup = await rooms.lookup_room_code(ctx, code)
    if lookup is None:
        raise NotFound("There is no room with that code.")
    if lookup.status is RoomCodeStatus.REVOKED:
        raise Gone("This room code is no longer in use.")
    f = DeliberationFilter(room_id=lookup.room.id, announced_only=True, upcoming_at=ctx.clock.now())
    async with ctx.db.read() as session:
        rows = await store.list_deliberations(session, f, soonest_first=True, limit=limit, offset=0)
        return await _views(ctx, session, rows)


async def topic_deliberations(ctx: Context, number: str) -> list[PublicDeliberation]:
    """The announced sessions that take up this topic, latest first (the tracking page).
    NotFound for an unknown number."""
    async with ctx.db.read() as session:
        found = await topics.agenda_topics(session, numbers=[number.strip().upper()])
        if not found:
            raise NotFound(f"No topic {number}.")
        f = DeliberationFilter(topic_id=found[0].id, announced_only=True)
        rows = await store.list_deliberations(
            session, f, soonest_first=False, limit=LIST_MAX, offset=0
        )
        return await _views(ctx, session, rows)


def calendar_uid(ctx: Context, deliberation_id: int) -> str:
    """Stable for the session's life: calendars update the entry instead of adding one."""
    host = urlsplit(ctx.settings.public_base_url).hostname or "mashangyi"
    return f"deliberation-{deliberation_id}@{host}"


async def calendar(ctx: Context, deliberation_id: int) -> str:
    """The session as an iCalendar file (RFC 5545). Its SEQUENCE is the session's version,
    so an edited or cancelled session replaces the entry people saved."""
    d = await public_deliberation(ctx, deliberation_id)
    agenda = "\n".join(f"{a.number} {a.title}" for a in d.agenda)
    base = ctx.settings.public_base_url
    return calendar_file(
        CalendarEntry(
            uid=calendar_uid(ctx, d.id),
            title=d.title,
            description="\n\n".join(p for p in (d.description, agenda, d.cancel_reason) if p),
            place=f"{d.room_name} {d.place}",
            starts_at=d.starts_at,
            ends_at=d.ends_at,
            url=f"{base}/d/{d.id}",
            cancelled=d.status is D.CANCELLED,
            sequence=d.version,
            stamp=ctx.clock.now(),
        )
    )
