"""Queries for deliberations. Each takes the session first and never raises HTTP errors."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.deliberations.tables import Deliberation, Invitation
from server.rooms.tables import Region, Room


async def get_deliberation(session: AsyncSession, deliberation_id: int) -> Deliberation | None:
    return await session.get(Deliberation, deliberation_id)


async def get_with_place(
    session: AsyncSession, deliberation_id: int
) -> tuple[Deliberation, str, str, str] | None:
    """The deliberation with its region's path and its room's name and code."""
    row = (
        await session.execute(
            select(Deliberation, Region.path, Room.name, Room.code)
            .join(Room, Room.id == Deliberation.room_id)
            .join(Region, Region.id == Deliberation.region_id)
            .where(Deliberation.id == deliberation_id)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


async def get_invitation(session: AsyncSession, invitation_id: int) -> Invitation | None:
    return await session.get(Invitation, invitation_id)
