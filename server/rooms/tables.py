from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.core.db import Base, UTCDateTime, enum_column
from server.rooms.model import RegionLevel, RoomCodeStatus


class Region(Base):
    __tablename__ = "regions"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel, "region_level"))
    name: Mapped[str] = mapped_column(String(60))
    # "/1/4/17/": the ids from the root down, for subtree queries by prefix.
    path: Mapped[str] = mapped_column(String(255), index=True, unique=True)


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("region_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    code: Mapped[str] = mapped_column(String(12), unique=True)
    chief: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    opening_hours: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    region: Mapped[Region] = relationship(lazy="raise")


class RoomCode(Base):
    """Every code a room ever had, so old posters keep working until revoked."""

    __tablename__ = "room_codes"
    __table_args__ = (Index("ix_room_codes_room_id_status", "room_id", "status"),)

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    status: Mapped[RoomCodeStatus] = mapped_column(enum_column(RoomCodeStatus, "room_code_status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
