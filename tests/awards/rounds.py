"""A year under review made quickly through the real actions: rooms nominated by an
organisation and accepted (candidates without any activity), reviewers appointed."""

from __future__ import annotations

from dataclasses import dataclass

from server.awards import actions as awards
from server.core.auth import Principal
from server.core.context import Context
from server.rooms import actions as rooms
from server.rooms.model import RoomFields
from tests.awards.helpers import admin_of, reviewers_of
from tests.factories import City

YEAR = 2026


@dataclass(frozen=True)
class Review:
    admin: Principal
    reviewers: list[Principal]
    candidate_ids: list[int]  # room candidates, in order of nomination


async def nominate_room(ctx: Context, actor: Principal, room_id: int) -> int:
    done = await awards.nominate(
        ctx,
        actor,
        YEAR,
        kind="room",
        room_id=room_id,
        organisation="城南街道党工委",
        reasons="议事室每月开展协商活动，群众参与度高。",
    )
    return done.id


async def review_of(ctx: Context, city: City, rooms_n: int = 5, **sizes: int) -> Review:
    """``rooms_n`` room candidates (the city's room and new rooms in its community)."""
    admin = await admin_of(ctx, city)
    reviewers = await reviewers_of(ctx, city)
    await awards.open_round(ctx, admin, YEAR, **{"excellent": 3, "best": 1, **sizes})
    for reviewer in reviewers:
        await awards.appoint_reviewer(ctx, admin, YEAR, username=reviewer.username)
    room_ids = [city.room.id]
    for i in range(1, rooms_n):
        made = await rooms.create_room(
            ctx,
            None,
            region_id=city.community.id,
            fields=RoomFields(f"幸福里第{i}议事室", "张室长", f"幸福里{i}号", ""),
        )
        room_ids.append(made.id)
    ids = []
    for room_id in room_ids:
        nomination = await nominate_room(ctx, admin, room_id)
        ids.append(await awards.accept_nomination(ctx, admin, YEAR, nomination))
    return Review(admin, reviewers, ids)
