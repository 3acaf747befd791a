"""Queries for deliberations. Each takes the session first and never raises HTTP errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from server.deliberations.model import (
    AttendeeKind,
    DeliberationStatus,
    RegistrationStatus,
)
from server.deliberations.tables import AgendaItem, Deliberation, Invitation, Registration
from server.rooms.tables import Region, Room

D = DeliberationStatus


async def get_deliberation(session: AsyncSession, deliberation_id: int) -> Deliberation | None:
    return await session.get(Deliberation, deliberation_id)


async def get_with_place(
    session: AsyncSession, deliberation_id: int, *, lock: bool = False
) -> tuple[Deliberation, str, str, str] | None:
    """The deliberation with its region's path and its room's name and code.

    With ``lock`` (in a write transaction) the deliberation's row, and only it, stays
    locked until the transaction ends: sign-ups, capacity changes and moves of one
    session queue on it (PostgreSQL; SQLite's single writer serialises them anyway).
    The row is read afresh, never from the session's identity map.
    """
    query = (
        select(Deliberation, Region.path, Room.name, Room.code)
        .join(Room, Room.id == Deliberation.room_id)
        .join(Region, Region.id == Deliberation.region_id)
        .where(Deliberation.id == deliberation_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(of=Deliberation)
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


async def insert_deliberation(session: AsyncSession, values: dict[str, Any]) -> Deliberation:
    deliberation = Deliberation(**values)
    session.add(deliberation)
    await session.flush()
    return deliberation


async def update_deliberation(
    session: AsyncSession,
    deliberation_id: int,
    *,
    expected_version: int,
    now: datetime,
    values: dict[str, Any],
) -> bool:
    """Apply ``values`` if the row is still at ``expected_version``; False if it is not.
    The check is in the UPDATE itself. Requires an open write transaction."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(Deliberation)
            .where(Deliberation.id == deliberation_id, Deliberation.version == expected_version)
            .values(**values, version=Deliberation.version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount > 0


# --- the agenda ------------------------------------------------------------------------------


async def agenda_topic_ids(session: AsyncSession, deliberation_id: int) -> list[int]:
    """The agenda's topic ids, in order."""
    query = (
        select(AgendaItem.topic_id)
        .where(AgendaItem.deliberation_id == deliberation_id)
        .order_by(AgendaItem.position)
    )
    return list((await session.scalars(query)).all())


async def agendas_of(
    session: AsyncSession, deliberation_ids: Sequence[int]
) -> dict[int, list[int]]:
    """Each deliberation's agenda topic ids, in order."""
    if not deliberation_ids:
        return {}
    query = (
        select(AgendaItem.deliberation_id, AgendaItem.topic_id)
        .where(AgendaItem.deliberation_id.in_(deliberation_ids))
        .order_by(AgendaItem.deliberation_id, AgendaItem.position)
    )
    out: dict[int, list[int]] = {i: [] for i in deliberation_ids}
    for deliberation_id, topic_id in (await session.execute(query)).all():
        out[deliberation_id].append(topic_id)
    return out


async def replace_agenda(
    session: AsyncSession, deliberation_id: int, topic_ids: Sequence[int]
) -> None:
    await session.execute(delete(AgendaItem).where(AgendaItem.deliberation_id == deliberation_id))
    if topic_ids:
        await session.execute(
            insert(AgendaItem),
            [
                {"deliberation_id": deliberation_id, "topic_id": t, "position": i}
                for i, t in enumerate(topic_ids, start=1)
            ],
        )


async def agendas_holding(
    session: AsyncSession,
    topic_ids: Sequence[int],
    statuses: Sequence[DeliberationStatus],
    *,
    except_id: int | None = None,
) -> list[tuple[int, Deliberation]]:
    """(topic id, deliberation) for each of the topics on the agenda of a deliberation
    in one of ``statuses`` (other than ``except_id``)."""
    if not topic_ids:
        return []
    query = (
        select(AgendaItem.topic_id, Deliberation)
        .join(Deliberation, Deliberation.id == AgendaItem.deliberation_id)
        .where(AgendaItem.topic_id.in_(topic_ids), Deliberation.status.in_(statuses))
        .order_by(Deliberation.starts_at)
    )
    if except_id is not None:
        query = query.where(Deliberation.id != except_id)
    return [(t, d) for t, d in (await session.execute(query)).all()]


# --- lists -----------------------------------------------------------------------------------

PlacedRow = tuple[Deliberation, str, str, str]  # deliberation, region path, room name, code


@dataclass(frozen=True, slots=True)
class DeliberationFilter:
    under_path: str = "/"
    statuses: tuple[DeliberationStatus, ...] = ()
    room_id: int | None = None
    topic_id: int | None = None
    # Public lists: only sessions that were ever announced (a draft, or a draft
    # cancelled before announcement, never shows).
    announced_only: bool = False
    # Upcoming: live, or announced and not over, or cancelled after its announcement
    # and not yet due (so residents learn it will not happen).
    upcoming_at: datetime | None = None


def _conditions(f: DeliberationFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.under_path != "/":
        under = select(Region.id).where(Region.path.startswith(f.under_path, autoescape=True))
        conds.append(Deliberation.region_id.in_(under))
    if f.statuses:
        conds.append(Deliberation.status.in_(f.statuses))
    if f.room_id is not None:
        conds.append(Deliberation.room_id == f.room_id)
    if f.topic_id is not None:
        on_agenda = select(AgendaItem.id).where(
            AgendaItem.deliberation_id == Deliberation.id, AgendaItem.topic_id == f.topic_id
        )
        conds.append(on_agenda.exists())
    if f.announced_only:
        conds.append(Deliberation.announced_at.is_not(None))
    if f.upcoming_at is not None:
        now = f.upcoming_at
        conds.append(
            or_(
                Deliberation.status == D.LIVE,
                and_(Deliberation.status == D.ANNOUNCED, Deliberation.ends_at >= now),
                and_(Deliberation.status == D.CANCELLED, Deliberation.starts_at >= now),
            )
        )
    return conds


def _placed(f: DeliberationFilter) -> Select[Deliberation, str, str, str]:
    return (
        select(Deliberation, Region.path, Room.name, Room.code)
        .join(Room, Room.id == Deliberation.room_id)
        .join(Region, Region.id == Deliberation.region_id)
        .where(*_conditions(f))
    )


async def list_deliberations(
    session: AsyncSession, f: DeliberationFilter, *, soonest_first: bool, limit: int, offset: int
) -> list[PlacedRow]:
    """By start time (soonest first, or latest first), then id."""
    order = (
        (Deliberation.starts_at, Deliberation.id)
        if soonest_first
        else (Deliberation.starts_at.desc(), Deliberation.id.desc())
    )
    rows = await session.execute(_placed(f).order_by(*order).limit(limit).offset(offset))
    return [(d, path, name, code) for d, path, name, code in rows.all()]


async def count_deliberations(session: AsyncSession, f: DeliberationFilter) -> int:
    query = select(func.count()).select_from(Deliberation).where(*_conditions(f))
    return int(await session.scalar(query) or 0)


# --- registrations ---------------------------------------------------------------------------


async def count_registrations(
    session: AsyncSession, deliberation_ids: Sequence[int]
) -> dict[int, dict[RegistrationStatus, int]]:
    """Per deliberation, how many registrations are in each state."""
    out: dict[int, dict[RegistrationStatus, int]] = {i: {} for i in deliberation_ids}
    if not deliberation_ids:
        return out
    query = (
        select(Registration.deliberation_id, Registration.status, func.count(Registration.id))
        .where(Registration.deliberation_id.in_(deliberation_ids))
        .group_by(Registration.deliberation_id, Registration.status)
    )
    for deliberation_id, status, n in (await session.execute(query)).all():
        out[deliberation_id][status] = int(n)
    return out


async def count_checked_in(session: AsyncSession, deliberation_id: int) -> int:
    return (await count_checked_in_many(session, [deliberation_id]))[deliberation_id]


async def count_checked_in_many(
    session: AsyncSession, deliberation_ids: Sequence[int]
) -> dict[int, int]:
    """Per deliberation, how many registrants checked in."""
    out = dict.fromkeys(deliberation_ids, 0)
    if not deliberation_ids:
        return out
    query = (
        select(Registration.deliberation_id, func.count(Registration.id))
        .where(
            Registration.deliberation_id.in_(deliberation_ids),
            Registration.checked_in_at.is_not(None),
        )
        .group_by(Registration.deliberation_id)
    )
    out.update({d: int(n) for d, n in (await session.execute(query)).all()})
    return out


async def count_by_kind(
    session: AsyncSession, deliberation_id: int
) -> dict[AttendeeKind, tuple[int, int]]:
    """Per attendee kind: (registered, checked in)."""
    query = (
        select(
            Registration.kind,
            func.count(Registration.id),
            func.count(Registration.checked_in_at),
        )
        .where(
            Registration.deliberation_id == deliberation_id,
            Registration.status == RegistrationStatus.REGISTERED,
        )
        .group_by(Registration.kind)
    )
    return {k: (int(n), int(c)) for k, n, c in (await session.execute(query)).all()}


async def insert_registration(session: AsyncSession, values: dict[str, Any]) -> Registration:
    registration = Registration(**values)
    session.add(registration)
    await session.flush()
    return registration


async def get_registration(session: AsyncSession, registration_id: int) -> Registration | None:
    return await session.get(Registration, registration_id, populate_existing=True)


async def get_registration_by_digest(session: AsyncSession, digest: str) -> Registration | None:
    query = (
        select(Registration)
        .where(Registration.token_digest == digest)
        .execution_options(populate_existing=True)
    )
    return await session.scalar(query)


async def active_registration_with_phone(
    session: AsyncSession, deliberation_id: int, phone: str
) -> Registration | None:
    query = select(Registration).where(
        Registration.deliberation_id == deliberation_id,
        Registration.phone == phone,
        Registration.status != RegistrationStatus.CANCELLED,
    )
    return await session.scalar(query.limit(1))


async def first_waitlisted(
    session: AsyncSession, deliberation_id: int, count: int
) -> list[Registration]:
    """The first ``count`` on the waiting list, in the order they signed up."""
    if count <= 0:
        return []
    query = (
        select(Registration)
        .where(
            Registration.deliberation_id == deliberation_id,
            Registration.status == RegistrationStatus.WAITLISTED,
        )
        .order_by(Registration.id)
        .limit(count)
    )
    return list((await session.scalars(query)).all())


async def waitlist_position(session: AsyncSession, registration: Registration) -> int:
    """1 for the first on the waiting list."""
    query = select(func.count(Registration.id)).where(
        Registration.deliberation_id == registration.deliberation_id,
        Registration.status == RegistrationStatus.WAITLISTED,
        Registration.id <= registration.id,
    )
    return int(await session.scalar(query) or 0)


async def list_registrations(session: AsyncSession, deliberation_id: int) -> list[Registration]:
    """Registered first, then the waiting list, then cancelled; each in sign-up order."""
    rank = {
        RegistrationStatus.REGISTERED: 0,
        RegistrationStatus.WAITLISTED: 1,
        RegistrationStatus.CANCELLED: 2,
    }
    query = select(Registration).where(Registration.deliberation_id == deliberation_id)
    rows = list((await session.scalars(query.order_by(Registration.id))).all())
    return sorted(rows, key=lambda r: rank[r.status])


# --- invitations -----------------------------------------------------------------------------


async def get_invitation(session: AsyncSession, invitation_id: int) -> Invitation | None:
    return await session.get(Invitation, invitation_id)


async def lock_invitation(session: AsyncSession, invitation_id: int) -> Invitation | None:
    query = (
        select(Invitation)
        .where(Invitation.id == invitation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return await session.scalar(query)


async def insert_invitation(session: AsyncSession, values: dict[str, Any]) -> Invitation:
    invitation = Invitation(**values)
    session.add(invitation)
    await session.flush()
    return invitation


async def list_invitations(session: AsyncSession, deliberation_id: int) -> list[Invitation]:
    query = (
        select(Invitation)
        .where(Invitation.deliberation_id == deliberation_id)
        .order_by(Invitation.id)
    )
    return list((await session.scalars(query)).all())
