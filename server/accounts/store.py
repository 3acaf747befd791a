"""Queries on staff accounts and sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.tables import StaffSession, StaffUser
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
