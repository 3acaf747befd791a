"""Regions, rooms, QR codes and posters over HTTP (staff only)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import Markup

from server.core.auth import Permission
from server.core.errors import BadRequest, PayloadTooLarge, ValidationFailed
from server.core.openapi import array, integer, obj, operation, path_param, query_param, string
from server.core.web import (
    ctx_of,
    int_param,
    json_int,
    json_optional_int,
    json_response,
    json_str,
    read_json,
    render,
    require_staff,
    staff_page,
)
from server.rooms import actions
from server.rooms.actions import RegionView, RoomCodeView, RoomView
from server.rooms.model import RegionLevel, RoomFields
from server.rooms.qr import qr_png, qr_svg

routes = web.RouteTableDef()
MAX_IMPORT_BYTES = 10 * 1024 * 1024


def room_json(room: RoomView) -> dict[str, Any]:
    return {
        "id": room.id,
        "name": room.name,
        "code": room.code,
        "chief": room.chief,
        "address": room.address,
        "opening_hours": room.opening_hours,
        "region": {"id": room.region_id, "names": list(room.region_names)},
        "public_url": room.public_url,
    }


def region_json(r: RegionView) -> dict[str, Any]:
    return {"id": r.id, "parent_id": r.parent_id, "level": r.level, "name": r.name}


def code_json(c: RoomCodeView) -> dict[str, Any]:
    return {"code": c.code, "status": c.status, "created_at": c.created_at}


def _fields(data: dict[str, Any]) -> RoomFields:
    return RoomFields(
        **{name: json_str(data, name) for name in ("name", "chief", "address", "opening_hours")}
    )


def _room_id(request: web.Request) -> int:
    return int(request.match_info["room_id"])


# --- pages -----------------------------------------------------------------------------------


@routes.get("/staff/rooms")
async def rooms_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    q = request.query.get("q", "").strip()
    region_id = int_param(request.query.get("region_id"), "region_id")
    offset = int_param(request.query.get("offset"), "offset", default=0) or 0
    ctx = ctx_of(request)
    page = await actions.search_rooms(
        ctx, principal, search=q or None, region_id=region_id, limit=50, offset=offset
    )
    regions = await actions.list_region_tree(ctx, principal)
    return render(
        request,
        "staff_rooms.html",
        {
            "page": page,
            "q": q,
            "region_id": region_id,
            "offset": offset,
            "regions": regions,
            "can_manage": principal.can(Permission.MANAGE_ROOMS),
        },
    )


@routes.get(r"/staff/rooms/{room_id:\d+}")
async def room_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    ctx = ctx_of(request)
    room, codes = await actions.get_room(ctx, principal, _room_id(request))
    regions = [
        r
        for r in await actions.list_region_tree(ctx, principal)
        if r.level is RegionLevel.COMMUNITY
    ]
    return render(
        request,
        "staff_room.html",
        {
            "room": room,
            "codes": codes,
            "communities": regions,
            "can_manage": principal.can(Permission.MANAGE_ROOMS),
        },
    )


@routes.get(r"/staff/rooms/{room_id:\d+}/poster")
async def poster_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    principal.require(Permission.PRINT_POSTERS)
    room, _ = await actions.get_room(ctx_of(request), principal, _room_id(request))
    return render(
        request,
        "poster.html",
        {"posters": [(room, Markup(qr_svg(room.public_url)))], "title": room.name},
    )


@routes.get(r"/staff/regions/{region_id:\d+}/posters")
async def region_posters_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    region, rooms = await actions.rooms_for_posters(
        ctx_of(request), principal, region_id=int(request.match_info["region_id"])
    )
    return render(
        request,
        "poster.html",
        {
            "posters": [(room, Markup(qr_svg(room.public_url))) for room in rooms],
            "title": region.name,
        },
    )


@routes.get("/staff/regions")
async def regions_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    regions = await actions.list_region_tree(ctx_of(request), principal)
    return render(
        request,
        "staff_regions.html",
        {
            "regions": regions,
            "can_manage": principal.can(Permission.MANAGE_REGIONS),
            "levels": list(RegionLevel),
        },
    )


@routes.get("/staff/import")
async def import_page(request: web.Request) -> web.Response:
    principal = staff_page(request)
    principal.require(Permission.MANAGE_ROOMS)
    return render(request, "staff_import.html", {})


# --- API -------------------------------------------------------------------------------------


@routes.get("/api/staff/regions")
async def list_regions(request: web.Request) -> web.Response:
    regions = await actions.list_region_tree(ctx_of(request), require_staff(request))
    return json_response({"regions": [region_json(r) for r in regions]})


@routes.post("/api/staff/regions")
async def create_region(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    parent_id = json_int(data, "parent_id")
    try:
        level = RegionLevel(str(data.get("level")))
    except ValueError:
        raise ValidationFailed("Unknown level.", fields={"level": "Unknown level."}) from None
    name = json_str(data, "name", required=True)
    region = await actions.create_region(
        ctx_of(request), principal, parent_id=parent_id, level=level, name=name
    )
    return json_response(region_json(region), status=201)


@routes.patch(r"/api/staff/regions/{region_id:\d+}")
async def rename_region(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    name = json_str(data, "name", required=True)
    region = await actions.rename_region(
        ctx_of(request), principal, int(request.match_info["region_id"]), name
    )
    return json_response(region_json(region))


@routes.get("/api/staff/rooms")
async def search_rooms(request: web.Request) -> web.Response:
    principal = require_staff(request)
    limit = int_param(request.query.get("limit"), "limit", default=50, lo=1, hi=500)
    offset = int_param(request.query.get("offset"), "offset", default=0)
    page = await actions.search_rooms(
        ctx_of(request),
        principal,
        search=request.query.get("q") or None,
        region_id=int_param(request.query.get("region_id"), "region_id"),
        limit=limit or 50,
        offset=offset or 0,
    )
    return json_response({"rooms": [room_json(r) for r in page.rooms], "total": page.total})


@routes.post("/api/staff/rooms")
async def create_room(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    region_id = json_int(data, "region_id")
    room = await actions.create_room(
        ctx_of(request), principal, region_id=region_id, fields=_fields(data)
    )
    return json_response(room_json(room), status=201)


@routes.get(r"/api/staff/rooms/{room_id:\d+}")
async def get_room(request: web.Request) -> web.Response:
    room, codes = await actions.get_room(ctx_of(request), require_staff(request), _room_id(request))
    return json_response({**room_json(room), "codes": [code_json(c) for c in codes]})


@routes.patch(r"/api/staff/rooms/{room_id:\d+}")
async def update_room(request: web.Request) -> web.Response:
    principal = require_staff(request)
    data = await read_json(request)
    room = await actions.update_room(
        ctx_of(request),
        principal,
        _room_id(request),
        fields=_fields(data),
        region_id=json_optional_int(data, "region_id"),
    )
    return json_response(room_json(room))


@routes.post(r"/api/staff/rooms/{room_id:\d+}/rotate-code")
async def rotate_code(request: web.Request) -> web.Response:
    room = await actions.rotate_room_code(
        ctx_of(request), require_staff(request), _room_id(request)
    )
    return json_response(room_json(room))


@routes.post("/api/staff/room-codes/{code}/revoke")
async def revoke_code(request: web.Request) -> web.Response:
    code = await actions.revoke_room_code(
        ctx_of(request), require_staff(request), request.match_info["code"]
    )
    return json_response(code_json(code))


@routes.get(r"/api/staff/rooms/{room_id:\d+}/qr.png")
async def room_qr_png(request: web.Request) -> web.Response:
    principal = require_staff(request)
    principal.require(Permission.PRINT_POSTERS)
    room, _ = await actions.get_room(ctx_of(request), principal, _room_id(request))
    return web.Response(
        body=qr_png(room.public_url),
        content_type="image/png",
        headers={"Content-Disposition": f'inline; filename="room-{room.code}.png"'},
    )


@routes.get(r"/api/staff/rooms/{room_id:\d+}/qr.svg")
async def room_qr_svg(request: web.Request) -> web.Response:
    principal = require_staff(request)
    principal.require(Permission.PRINT_POSTERS)
    room, _ = await actions.get_room(ctx_of(request), principal, _room_id(request))
    return web.Response(
        text=qr_svg(room.public_url),
        content_type="image/svg+xml",
        headers={"Content-Disposition": f'inline; filename="room-{room.code}.svg"'},
    )


@routes.post("/api/staff/rooms/import")
async def import_rooms(request: web.Request) -> web.Response:
    principal = require_staff(request)
    if request.content_length is not None and request.content_length > MAX_IMPORT_BYTES:
        raise PayloadTooLarge("The file is over 10 MB.")
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        data = b""
        while (part := await reader.next()) is not None:
            if getattr(part, "name", None) == "file":
                data = await part.read()  # type: ignore[union-attr]
                break
        if not data:
            raise BadRequest(
                "Attach the CSV as the form field 'file'.", fields={"file": "Required."}
            )
    else:
        data = await request.read()
    report = await actions.import_rooms(ctx_of(request), principal, data)
    return json_response(
        {
            "regions_created": report.regions_created,
            "rooms_created": report.rooms_created,
            "rooms_updated": report.rooms_updated,
            "rooms_unchanged": report.rooms_unchanged,
        }
    )


@routes.get("/api/staff/rooms/export.csv")
async def export_rooms(request: web.Request) -> web.Response:
    principal = require_staff(request)
    text = await actions.export_rooms(
        ctx_of(request), principal, region_id=int_param(request.query.get("region_id"), "region_id")
    )
    # A BOM so spreadsheet programs on Chinese Windows read UTF-8.
    return web.Response(
        body=("\ufeff" + text).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="rooms.csv"'},
    )


_REGION = obj(
    {"id": integer(), "parent_id": integer(nullable=True), "level": string(), "name": string()}
)
_ROOM = obj(
    {
        "id": integer(),
        "name": string(),
        "code": string(),
        "chief": string(),
        "address": string(),
        "opening_hours": string(),
        "region": obj({"id": integer(), "names": array(string())}),
        "public_url": string(format="uri"),
    }
)
_ROOM_FIELDS = {
    "name": string(maxLength=80),
    "chief": string(maxLength=40),
    "address": string(maxLength=200),
    "opening_hours": string(maxLength=120),
}
_CODE = obj(
    {
        "code": string(),
        "status": string(enum=["active", "retired", "revoked"]),
        "created_at": string(format="date-time"),
    }
)
_ROOM_ID = path_param("room_id", integer())

OPENAPI = {
    "/api/staff/regions": {
        "get": operation(
            "Regions in one's territory, parents first",
            tag="rooms",
            staff=True,
            ok=obj({"regions": array(_REGION)}),
        ),
        "post": operation(
            "Add a region",
            tag="rooms",
            staff=True,
            ok_status="201",
            ok=_REGION,
            errors=(400, 404, 409),
            body=obj(
                {
                    "parent_id": integer(),
                    "level": string(enum=[lv.value for lv in RegionLevel]),
                    "name": string(),
                },
                ["parent_id", "level", "name"],
            ),
        ),
    },
    "/api/staff/regions/{region_id}": {
        "patch": operation(
            "Rename a region",
            tag="rooms",
            staff=True,
            ok=_REGION,
            errors=(400, 404, 409),
            params=[path_param("region_id", integer())],
            body=obj({"name": string()}, ["name"]),
        )
    },
    "/api/staff/rooms": {
        "get": operation(
            "Search rooms",
            tag="rooms",
            staff=True,
            errors=(400, 404),
            params=[
                query_param("q"),
                query_param("region_id", integer()),
                query_param("limit", integer()),
                query_param("offset", integer()),
            ],
            ok=obj({"rooms": array(_ROOM), "total": integer()}),
        ),
        "post": operation(
            "Create a room in a community",
            tag="rooms",
            staff=True,
            ok_status="201",
            ok=_ROOM,
            errors=(400, 409),
            body=obj({"region_id": integer(), **_ROOM_FIELDS}, ["region_id", "name"]),
        ),
    },
    "/api/staff/rooms/{room_id}": {
        "get": operation(
            "A room with all its codes",
            tag="rooms",
            staff=True,
            errors=(404,),
            params=[_ROOM_ID],
            ok=obj({**_ROOM["properties"], "codes": array(_CODE)}),
        ),
        "patch": operation(
            "Edit a room (or move it to another community)",
            tag="rooms",
            staff=True,
            errors=(400, 404, 409),
            params=[_ROOM_ID],
            ok=_ROOM,
            body=obj({"region_id": integer(), **_ROOM_FIELDS}, ["name"]),
        ),
    },
    "/api/staff/rooms/{room_id}/rotate-code": {
        "post": operation(
            "Give a room a new code; the old one redirects until revoked",
            tag="rooms",
            staff=True,
            params=[_ROOM_ID],
            ok=_ROOM,
            errors=(404,),
        )
    },
    "/api/staff/room-codes/{code}/revoke": {
        "post": operation(
            "Revoke a retired room code",
            tag="rooms",
            staff=True,
            params=[path_param("code")],
            ok=_CODE,
            errors=(404, 409),
        )
    },
    "/api/staff/rooms/{room_id}/qr.png": {
        "get": operation(
            "The room's QR code, PNG at print resolution",
            tag="rooms",
            staff=True,
            params=[_ROOM_ID],
            ok_type="image/png",
            ok=string(format="binary"),
            errors=(404,),
        )
    },
    "/api/staff/rooms/{room_id}/qr.svg": {
        "get": operation(
            "The room's QR code, SVG",
            tag="rooms",
            staff=True,
            params=[_ROOM_ID],
            ok_type="image/svg+xml",
            ok=string(),
            errors=(404,),
        )
    },
    "/api/staff/rooms/import": {
        "post": operation(
            "Import regions and rooms from CSV (all or nothing; idempotent)",
            tag="rooms",
            staff=True,
            body_type="text/csv",
            body=string(),
            errors=(400, 413),
            ok=obj(
                {
                    "regions_created": integer(),
                    "rooms_created": integer(),
                    "rooms_updated": integer(),
                    "rooms_unchanged": integer(),
                }
            ),
        )
    },
    "/api/staff/rooms/export.csv": {
        "get": operation(
            "Export rooms as CSV in the import format",
            tag="rooms",
            staff=True,
            params=[query_param("region_id", integer())],
            ok_type="text/csv",
            ok=string(),
            errors=(404,),
        )
    },
}
