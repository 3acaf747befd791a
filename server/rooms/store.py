"""Queries on regions, rooms and room codes. Each takes the caller's session first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.rooms.tables import Region, Room, RoomCode


async def get_region(session: AsyncSession, region_id: int) -> Region | None:
    return await session.get(Region, region_id)


async def get_root_regions(session: AsyncSession) -> list[Region]:
    return list((await session.scalars(select(Region).where(Region.parent_id.is_(None)))).all())


async def get_region_by_name(
    session: AsyncSession, parent_id: int | None, name: str
) -> Region | None:
    parent = Region.parent_id.is_(None) if parent_id is None else Region.parent_id == parent_id
    return await session.scalar(select(Region).where(parent, Region.name == name))


async def get_room_by_name(session: AsyncSession, region_id: int, name: str) -> Room | None:
    return await session.scalar(select(Room).where(Room.region_id == region_id, Room.name == name))


async def list_regions(session: AsyncSession, *, under_path: str = "/") -> list[Region]:
    """Every region at or below the path, parents before children."""
    query = select(Region).where(Region.path.startswith(under_path, autoescape=True))
    return list((await session.scalars(query.order_by(Region.path))).all())


async def list_regions_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[Region]:
    if not ids:
        return []
    return list((await session.scalars(select(Region).where(Region.id.in_(ids)))).all())


async def insert_region(session: AsyncSession, region: Region, parent: Region | None) -> Region:
    """Insert and give the region its path (needs the id, so it flushes)."""
    region.path = "/pending/"
    region.parent_id = parent.id if parent else None
    session.add(region)
    await session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    await session.flush()
    return region


async def get_room(session: AsyncSession, room_id: int) -> Room | None:
    return await session.get(Room, room_id)


async def get_room_code(session: AsyncSession, code: str) -> RoomCode | None:
    return await session.get(RoomCode, code)


async def list_room_codes(session: AsyncSession, room_id: int) -> list[RoomCode]:
    query = select(RoomCode).where(RoomCode.room_id == room_id).order_by(RoomCode.created_at)
    return list((await session.scalars(query)).all())


async def insert_room_code(session: AsyncSession, code: RoomCode) -> None:
    session.add(code)


async def list_rooms(
    session: AsyncSession,
    *,
    under_path: str = "/",
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[tuple[Room, Region]]:
    query = _rooms_query(under_path, search).add_columns(Region)
    query = query.order_by(Region.path, Room.name).limit(limit).offset(offset)
    return [(room, region) for room, region in (await session.execute(query)).all()]


async def count_rooms(
    session: AsyncSession, *, under_path: str = "/", search: str | None = None
) -> int:
    query = _rooms_query(under_path, search).with_only_columns(func.count(Room.id))
    return int(await session.scalar(query) or 0)


def _rooms_query(under_path: str, search: str | None) -> Select[Room]:
    query = select(Room).join(Region, Room.region_id == Region.id)
    query = query.where(Region.path.startswith(under_path, autoescape=True))
    if search:
        query = query.where(
            or_(
                Room.name.contains(search, autoescape=True),
                Room.code == search.strip().upper(),
                Room.address.contains(search, autoescape=True),
                Room.chief.contains(search, autoescape=True),
            )
        )
    return query


async def list_all_rooms(session: AsyncSession) -> list[Room]:
    return list((await session.scalars(select(Room))).all())
