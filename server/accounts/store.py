"""Queries on staff accounts and sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.tables import StaffSession, StaffUser, Unit
from server.rooms.tables import Region


async def get_user(session: AsyncSession, user_id: int) -> StaffUser | None:
    return await session.get(StaffUser, user_id)


async def get_user_by_username(session: AsyncSession, username: str) -> StaffUser | None:
    return await session.scalar(select(StaffUser).where(StaffUser.username == username))


async def list_users(session: AsyncSession, *, under_path: str) -> list[tuple[StaffUser, Region]]:
    query = (
        select(StaffUser, Region)
        .join(Region, StaffUser.region_id == Region.id)
        .where(Region.path.startswith(under_path, autoescape=True))
        .order_by(Region.path, StaffUser.username)
    )
    return [(u, r) for u, r in (await session.execute(query)).all()]


async def get_session_with_user(
    session: AsyncSession, session_id: str, now: datetime
) -> tuple[StaffSession, StaffUser, Region] | None:
    """The live session, its active user and the user's region; None if any is gone."""
    query = (
        select(StaffSession, StaffUser, Region)
        .join(StaffUser, StaffSession.user_id == StaffUser.id)
        .join(Region, StaffUser.region_id == Region.id)
        .where(StaffSession.id == session_id, StaffSession.expires_at > now, StaffUser.active)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1], row[2]) if row else None


async def insert_session(session: AsyncSession, row: StaffSession) -> None:
    session.add(row)


async def delete_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.id == session_id))


async def delete_user_sessions(
    session: AsyncSession, user_id: int, *, keep: str | None = None
) -> None:
    query = delete(StaffSession).where(StaffSession.user_id == user_id)
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    await session.execute(query)


async def delete_expired_sessions(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))


async def get_unit(session: AsyncSession, unit_id: int) -> Unit | None:
    return await session.get(Unit, unit_id)


async def get_unit_by_name(session: AsyncSession, region_id: int, name: str) -> Unit | None:
    return await session.scalar(select(Unit).where(Unit.region_id == region_id, Unit.name == name))


async def get_unit_with_region(session: AsyncSession, unit_id: int) -> tuple[Unit, Region] | None:
    query = select(Unit, Region).join(Region, Unit.region_id == Region.id).where(Unit.id == unit_id)
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


async def list_units(session: AsyncSession) -> list[tuple[Unit, Region]]:
    query = select(Unit, Region).join(Region, Unit.region_id == Region.id)
    return [
        (u, r) for u, r in (await session.execute(query.order_by(Region.path, Unit.name))).all()
    ]


async def active_users_with_regions(
    session: AsyncSession, *, unit_id: int | None, roles: tuple[str, ...]
) -> list[tuple[int, str, str]]:
    """Active staff of a unit, or of the given roles anywhere: (id, role, region path)."""
    query = select(StaffUser.id, StaffUser.role, Region.path).join(
        Region, StaffUser.region_id == Region.id
    )
    query = query.where(StaffUser.active)
    if unit_id is not None:
        query = query.where(StaffUser.unit_id == unit_id)
    else:
        query = query.where(StaffUser.role.in_(roles))
    return [(i, str(r), p) for i, r, p in (await session.execute(query)).all()]
