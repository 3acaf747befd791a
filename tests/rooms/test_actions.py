from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.core.auth import Role
from server.core.clock import FakeClock
from server.core.context import Context
from server.core.db import Database
from server.core.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from server.rooms import actions
from server.rooms.model import RegionLevel, RoomCodeStatus, RoomFields
from server.rooms.tables import Region, Room
from tests.factories import make_city, make_staff

CSV = (
    "县区,县区类型,镇街,村社区,议事室名称,编码,室长,地址,开放时间\n"
    "清河区,county,城南街道,幸福里社区,幸福里社区协商议事室,,王室长,幸福里12号,周一至周五\n"
    "清河区,,城南街道,书香苑社区,书香苑议事室,,,书香路3号,\n"
    "高新园区,park,科创街道,蓝湾社区,蓝湾议事室,,,蓝湾路8号,\n"
)


async def counts(ctx: Context) -> tuple[int, int]:
    async with ctx.db.read() as s:
        regions = await s.scalar(select(func.count(Region.id)))
        rooms = await s.scalar(select(func.count(Room.id)))
    return int(regions or 0), int(rooms or 0)


async def test_region_tree_and_room(ctx: Context) -> None:
    city = await make_city(ctx)
    assert city.room.region_names == ("安和市", "清河区", "城南街道", "幸福里社区")
    assert city.room.public_url == f"https://msy.example.cn/r/{city.room.code}"
    tree = await actions.list_region_tree(ctx, None)
    assert [r.name for r in tree][:2] == ["安和市", "清河区"]


async def test_wrong_nesting_and_duplicates_are_refused(ctx: Context) -> None:
    city = await make_city(ctx)
    with pytest.raises(ValidationFailed):
        await actions.create_region(
            ctx, None, parent_id=city.city.id, level=RegionLevel.TOWN, name="镇"
        )
    with pytest.raises(Conflict):
        await actions.create_region(
            ctx, None, parent_id=city.city.id, level=RegionLevel.COUNTY, name="清河区"
        )
    with pytest.raises(ValidationFailed):
        await actions.create_room(
            ctx, None, region_id=city.town.id, fields=RoomFields("室", "", "", "")
        )
    with pytest.raises(Conflict):
        await actions.create_room(
            ctx,
            None,
            region_id=city.community.id,
            fields=RoomFields("幸福里社区协商议事室", "", "", ""),
        )
    assert await counts(ctx) == (7, 2)


async def test_rotating_a_code_keeps_the_old_one_redirecting_until_revoked(ctx: Context) -> None:
    city = await make_city(ctx)
    old = city.room.code
    rotated = await actions.rotate_room_code(ctx, None, city.room.id)
    assert rotated.code != old
    lookup = await actions.lookup_room_code(ctx, old.lower())
    assert lookup is not None and lookup.status is RoomCodeStatus.RETIRED
    assert lookup.current_code == rotated.code
    with pytest.raises(Conflict, match="status active"):
        await actions.revoke_room_code(ctx, None, rotated.code)
    await actions.revoke_room_code(ctx, None, old)
    lookup = await actions.lookup_room_code(ctx, old)
    assert lookup is not None and lookup.status is RoomCodeStatus.REVOKED
    with pytest.raises(Conflict, match="already revoked"):
        await actions.revoke_room_code(ctx, None, old)
    assert await actions.lookup_room_code(ctx, "ZZZZZZ") is None
    assert await actions.lookup_room_code(ctx, "../x") is None


async def test_room_edits_check_role_and_territory(ctx: Context) -> None:
    city = await make_city(ctx)
    county_admin = await make_staff(ctx, Role.ADMIN, city.county)
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    fields = RoomFields("新名字", "", "", "")
    with pytest.raises(Forbidden):
        await actions.update_room(ctx, county_admin, city.other_room.id, fields=fields)
    with pytest.raises(Forbidden):
        await actions.update_room(ctx, dispatcher, city.room.id, fields=fields)
    with pytest.raises(Forbidden):
        await actions.rotate_room_code(ctx, county_admin, city.other_room.id)
    updated = await actions.update_room(ctx, county_admin, city.room.id, fields=fields)
    assert updated.name == "新名字"
    page = await actions.search_rooms(ctx, dispatcher)
    assert [r.id for r in page.rooms] == [city.room.id]
    with pytest.raises(Forbidden):
        await actions.search_rooms(ctx, dispatcher, region_id=city.other_county.id)
    with pytest.raises(NotFound):
        await actions.get_room(ctx, county_admin, 99999)


async def test_import_is_idempotent_and_updates(ctx: Context) -> None:
    city = await make_city(ctx)
    first = await actions.import_rooms(ctx, None, CSV.encode())
    # 幸福里 already exists with the same details; two communities and two rooms are new.
    assert (first.regions_created, first.rooms_created, first.rooms_updated) == (2, 2, 0)
    assert first.rooms_unchanged == 1
    again = await actions.import_rooms(ctx, None, CSV.encode())
    assert (again.regions_created, again.rooms_created, again.rooms_updated) == (0, 0, 0)
    assert again.rooms_unchanged == 3
    changed = CSV.replace("书香路3号", "书香路5号").encode()
    third = await actions.import_rooms(ctx, None, changed)
    assert (third.rooms_updated, third.rooms_unchanged) == (1, 2)
    assert await counts(ctx) == (9, 4)
    room, _ = await actions.get_room(ctx, None, city.room.id)
    assert room.opening_hours == "周一至周五"


async def test_import_reads_gbk_files(ctx: Context) -> None:
    await make_city(ctx)
    report = await actions.import_rooms(ctx, None, CSV.encode("gb18030"))
    assert report.rooms_created == 2


async def test_a_bad_row_is_reported_by_line_and_nothing_is_written(ctx: Context) -> None:
    await make_city(ctx)
    before = await counts(ctx)
    bad = (
        CSV
        + "清河区,county,城南街道,,缺社区议事室,,,,\n"
        + "清河区,village,城南街道,河畔社区,河畔议事室,,,,\n"
    )
    with pytest.raises(ValidationFailed) as caught:
        await actions.import_rooms(ctx, None, bad.encode())
    report = caught.value.fields["file"]
    assert "Line 5: empty community" in report
    assert "Line 6: county_level" in report
    assert await counts(ctx) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        ("县区,镇街\n".encode(), "missing column"),
        ("县区,镇街,村社区,议事室名称\n".encode(), "no rooms"),
        (b"\xff\xfe\xfa\x00\x81", "neither UTF-8"),
    ],
)
async def test_unusable_files_are_refused(ctx: Context, data: bytes, message: str) -> None:
    await make_city(ctx)
    with pytest.raises(BadRequest, match=message):
        await actions.import_rooms(ctx, None, data)


async def test_import_outside_the_actors_region_is_refused(ctx: Context) -> None:
    city = await make_city(ctx)
    county_admin = await make_staff(ctx, Role.ADMIN, city.county)
    before = await counts(ctx)
    with pytest.raises(ValidationFailed, match="nothing was imported") as caught:
        await actions.import_rooms(ctx, county_admin, CSV.encode())
    assert "Line 4: 蓝湾社区 is outside your region" in caught.value.fields["file"]
    assert await counts(ctx) == before


async def test_export_reimports_unchanged(ctx: Context) -> None:
    await make_city(ctx)
    await actions.import_rooms(ctx, None, CSV.encode())
    exported = await actions.export_rooms(ctx, None)
    assert exported.splitlines()[0].startswith("city,county,county_level,town")
    report = await actions.import_rooms(ctx, None, exported.encode())
    assert (report.rooms_created, report.rooms_updated, report.rooms_unchanged) == (0, 0, 4)


async def test_export_defuses_formulas_and_still_round_trips(ctx: Context) -> None:
    city = await make_city(ctx)
    await actions.update_room(
        ctx,
        None,
        city.room.id,
        fields=RoomFields(city.room.name, "=cmd|' /C calc'!A0", "+86 路", ""),
    )
    exported = await actions.export_rooms(ctx, None)
    assert ",'=cmd|" in exported and ",'+86 路" in exported
    report = await actions.import_rooms(ctx, None, exported.encode())
    assert (report.rooms_updated, report.rooms_unchanged) == (0, 2)


async def test_rooms_for_posters_covers_a_region(ctx: Context) -> None:
    city = await make_city(ctx)
    region, rooms = await actions.rooms_for_posters(ctx, None, region_id=city.city.id)
    assert region.name == "安和市" and len(rooms) == 2
    chief = await make_staff(ctx, Role.ROOM_CHIEF, city.community)
    with pytest.raises(Forbidden):
        await actions.rooms_for_posters(ctx, chief, region_id=city.county.id)


async def test_code_lookups_are_cached_briefly_across_processes(
    ctx: Context, clock: FakeClock
) -> None:
    """Another process's revocation shows here within the cache's lifetime, not later."""
    city = await make_city(ctx)
    old = city.room.code
    await actions.rotate_room_code(ctx, None, city.room.id)
    seen = await actions.lookup_room_code(ctx, old)
    assert seen is not None and seen.status is RoomCodeStatus.RETIRED
    other_process = replace(ctx, db=Database(ctx.settings.database_url))
    try:
        await actions.revoke_room_code(other_process, None, old)
    finally:
        await other_process.db.close()
    cached = await actions.lookup_room_code(ctx, old)
    assert cached is not None and cached.status is RoomCodeStatus.RETIRED
    clock.advance(timedelta(seconds=actions.CODE_CACHE_SECONDS))
    fresh = await actions.lookup_room_code(ctx, old)
    assert fresh is not None and fresh.status is RoomCodeStatus.REVOKED
