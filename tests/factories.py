"""Test data made through the real actions, never by inserting rows."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal, Role
from server.core.context import Context
from server.rooms import actions as rooms
from server.rooms.actions import RegionView, RoomView
from server.rooms.model import RegionLevel, RoomFields
from server.topics import actions as topics
from server.topics.model import Submission

PASSWORD = "correct horse battery"


@dataclass
class City:
    city: RegionView
    county: RegionView
    other_county: RegionView
    town: RegionView
    community: RegionView
    other_community: RegionView
    room: RoomView
    other_room: RoomView  # in other_county


async def make_city(ctx: Context) -> City:
    r = rooms.create_region
    city = await r(ctx, None, parent_id=None, level=RegionLevel.CITY, name="安和市")
    county = await r(ctx, None, parent_id=city.id, level=RegionLevel.COUNTY, name="清河区")
    other_county = await r(ctx, None, parent_id=city.id, level=RegionLevel.PARK, name="高新园区")
    town = await r(ctx, None, parent_id=county.id, level=RegionLevel.TOWN, name="城南街道")
    community = await r(
        ctx, None, parent_id=town.id, level=RegionLevel.COMMUNITY, name="幸福里社区"
    )
    other_town = await r(
        ctx, None, parent_id=other_county.id, level=RegionLevel.TOWN, name="科创街道"
    )
    other_community = await r(
        ctx, None, parent_id=other_town.id, level=RegionLevel.COMMUNITY, name="智谷社区"
    )
    room = await rooms.create_room(
        ctx,
        None,
        region_id=community.id,
        fields=RoomFields("幸福里社区协商议事室", "王室长", "幸福里12号", "周一至周五"),
    )
    other_room = await rooms.create_room(
        ctx,
        None,
        region_id=other_community.id,
        fields=RoomFields("智谷社区协商议事室", "李室长", "智谷路1号", ""),
    )
    return City(city, county, other_county, town, community, other_community, room, other_room)


async def make_staff(
    ctx: Context,
    role: Role,
    region: RegionView,
    username: str | None = None,
    unit_id: int | None = None,
) -> Principal:
    """A staff member who has set their own password, logged in. A handler without a
    unit gets a town unit of its own in its region."""
    name = username or f"{role.value.replace('_', '')}{region.id}"
    if role is Role.HANDLER and unit_id is None:
        unit = await accounts.create_unit(
            ctx, None, name=f"{region.name}办事处 {name}", kind=UnitKind.TOWN, region_id=region.id
        )
        unit_id = unit.id
    await accounts.create_user(
        ctx,
        None,
        username=name,
        display_name=f"{role} {region.name}",
        role=role,
        region_id=region.id,
        password=PASSWORD,
        unit_id=unit_id,
    )
    return (await accounts.login(ctx, username=name, password=PASSWORD, ip="10.0.0.1")).principal


def submission(**overrides: object) -> Submission:
    values: dict[str, object] = {
        "title": "楼道灯坏了",
        "description": "三号楼二单元楼道灯坏了一个星期，晚上很黑。",
        "kind": "demand",
    }
    values.update(overrides)
    return Submission(**values)  # type: ignore[arg-type]


async def submit(ctx: Context, room: RoomView, **overrides: object) -> topics.SubmittedTopic:
    return await topics.submit_topic(
        ctx, submission(**overrides), [], room_code=room.code, device_id="device-1", ip="192.0.2.1"
    )


def jpeg_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    """A real JPEG carrying EXIF with a GPS block, as phone cameras write them."""
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (31.0, 30.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png(size: tuple[int, int] = (32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 100, 200)).save(out, format="PNG")
    return out.getvalue()
