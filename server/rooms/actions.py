"""Use cases for regions and rooms. Each opens its own transaction.

``actor`` is the staff member acting, checked for role and territory here; ``None``
means the operator's own command line (``mashangyi import-rooms``, the demo).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.cache import TTLCache
from server.core.context import Context
from server.core.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from server.rooms import store
from server.rooms.model import (
    COUNTY_LEVEL_WORDS,
    CSV_COLUMNS,
    CSV_EXPORT_HEADER,
    CSV_REQUIRED,
    RegionLevel,
    RoomCodeStatus,
    RoomFields,
    can_nest_region,
    check_region_name,
    check_room_fields,
    csv_safe,
    csv_unsafe,
    new_room_code,
    normalise_room_code,
)
from server.rooms.tables import Region, Room, RoomCode

MAX_IMPORT_ERRORS = 50

CODE_CACHE_SECONDS = 10.0


def _code_cache(ctx: Context) -> TTLCache[str, CodeLookup]:
    cache: TTLCache[str, CodeLookup] | None = ctx.db.shared.get("rooms.codes")
    if cache is None:
        cache = TTLCache(ctx.clock, seconds=CODE_CACHE_SECONDS)
        ctx.db.shared["rooms.codes"] = cache
    return cache


@asynccontextmanager
async def _write(ctx: Context, *, on_conflict: str | None = None) -> AsyncIterator[AsyncSession]:
    """This feature's write transaction: after it commits, cached lookups are dropped."""
    async with ctx.db.write(on_conflict=on_conflict) as session:
        yield session
    _code_cache(ctx).clear()


@dataclass(frozen=True, slots=True)
class RegionView:
    id: int
    parent_id: int | None
    level: RegionLevel
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class RoomView:
    id: int
    name: str
    code: str
    chief: str
    address: str
    opening_hours: str
    region_id: int
    region_path: str
    region_names: tuple[str, ...]
    public_url: str


@dataclass(frozen=True, slots=True)
class RoomCodeView:
    code: str
    status: RoomCodeStatus
    created_at: str


@dataclass(frozen=True, slots=True)
class RoomPage:
    rooms: list[RoomView]
    total: int


@dataclass(frozen=True, slots=True)
class CodeLookup:
    """What a scanned code leads to: the room, a newer code, or nothing any more."""

    status: RoomCodeStatus
    room: RoomView
    current_code: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    regions_created: int
    rooms_created: int
    rooms_updated: int
    rooms_unchanged: int


def _require(
    actor: Principal | None, permission: Permission, region_path: str | None = None
) -> None:
    if actor is not None:
        actor.require(permission, region_path)


def _territory(actor: Principal | None) -> str:
    return actor.region_path if actor is not None else "/"


async def _scope(session: AsyncSession, actor: Principal | None, region_id: int | None) -> str:
    """The path to search under: the region asked for (which the actor must cover) or all
    of the actor's territory."""
    if region_id is None:
        return _territory(actor)
    region = await store.get_region(session, region_id)
    if region is None:
        raise NotFound(f"No region with id {region_id}.")
    _require(actor, Permission.VIEW_ROOMS, region.path)
    return region.path


def _region_view(region: Region) -> RegionView:
    return RegionView(region.id, region.parent_id, region.level, region.name, region.path)


async def _names_by_id(session: AsyncSession, paths: list[str]) -> dict[int, str]:
    ids = {int(part) for path in paths for part in path.strip("/").split("/") if part}
    return {r.id: r.name for r in await store.list_regions_by_ids(session, sorted(ids))}


def _room_view(ctx: Context, room: Room, region: Region, names: dict[int, str]) -> RoomView:
    chain = tuple(names.get(int(p), "?") for p in region.path.strip("/").split("/") if p)
    return RoomView(
        id=room.id,
        name=room.name,
        code=room.code,
        chief=room.chief,
        address=room.address,
        opening_hours=room.opening_hours,
        region_id=region.id,
        region_path=region.path,
        region_names=chain,
        public_url=room_url(ctx, room.code),
    )


def room_url(ctx: Context, code: str) -> str:
    """The URL a room's QR encodes."""
    return f"{ctx.settings.public_base_url}/r/{code}"


async def _load_room(session: AsyncSession, ctx: Context, room_id: int) -> RoomView:
    room = await store.get_room(session, room_id)
    if room is None:
        raise NotFound(f"No room with id {room_id}.")
    region = await store.get_region(session, room.region_id)
    assert region is not None
    return _room_view(ctx, room, region, await _names_by_id(session, [region.path]))


# --- regions -------------------------------------------------------------------------------


async def list_region_tree(ctx: Context, actor: Principal | None) -> list[RegionView]:
    """Regions the actor covers, parents before children."""
    _require(actor, Permission.VIEW_ROOMS)
    async with ctx.db.read() as session:
        return [
            _region_view(r) for r in await store.list_regions(session, under_path=_territory(actor))
        ]


async def get_region(ctx: Context, region_id: int) -> RegionView | None:
    async with ctx.db.read() as session:
        region = await store.get_region(session, region_id)
        return _region_view(region) if region else None


async def create_region(
    ctx: Context, actor: Principal | None, *, parent_id: int | None, level: RegionLevel, name: str
) -> RegionView:
    """Add a region below ``parent_id`` (None: a new city root, operators only)."""
    name = name.strip()
    if (problem := check_region_name(name)) is not None:
        raise ValidationFailed("The region is not valid.", fields={"name": problem})
    taken = f"A region named {name} already exists there."
    async with _write(ctx, on_conflict=taken) as session:
        parent = None
        if parent_id is not None:
            parent = await store.get_region(session, parent_id)
            if parent is None:
                raise NotFound(f"No region with id {parent_id}.")
        if parent is None and actor is not None:
            raise Forbidden("A city is created by the operator (mashangyi import-rooms or demo).")
        _require(actor, Permission.MANAGE_REGIONS, parent.path if parent else None)
        if not can_nest_region(parent.level if parent else None, level):
            raise ValidationFailed(
                f"A {level} cannot sit under a {parent.level if parent else 'nothing'}.",
                fields={"level": "Wrong level for this parent."},
            )
        if await store.get_region_by_name(session, parent_id, name) is not None:
            raise Conflict(taken)
        region = await store.insert_region(session, Region(level=level, name=name), parent)
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id if actor else None,
            action="region.create",
            target=f"region:{region.id}",
            detail={"name": name, "level": level, "parent_id": parent_id},
        )
        return _region_view(region)


async def rename_region(
    ctx: Context, actor: Principal | None, region_id: int, name: str
) -> RegionView:
    name = name.strip()
    if (problem := check_region_name(name)) is not None:
        raise ValidationFailed("The region is not valid.", fields={"name": problem})
    taken = f"A region named {name} already exists there."
    async with _write(ctx, on_conflict=taken) as session:
        region = await store.get_region(session, region_id)
        if region is None:
            raise NotFound(f"No region with id {region_id}.")
        _require(actor, Permission.MANAGE_REGIONS, region.path)
        clash = await store.get_region_by_name(session, region.parent_id, name)
        if clash is not None and clash.id != region.id:
            raise Conflict(taken)
        old = region.name
        region.name = name
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id if actor else None,
            action="region.rename",
            target=f"region:{region.id}",
            detail={"from": old, "to": name},
        )
        return _region_view(region)


# --- rooms ---------------------------------------------------------------------------------


async def search_rooms(
    ctx: Context,
    actor: Principal | None,
    *,
    search: str | None = None,
    region_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RoomPage:
    _require(actor, Permission.VIEW_ROOMS)
    async with ctx.db.read() as session:
        under = await _scope(session, actor, region_id)
        rows = await store.list_rooms(
            session, under_path=under, search=search or None, limit=limit, offset=offset
        )
        total = await store.count_rooms(session, under_path=under, search=search or None)
        names = await _names_by_id(session, [region.path for _, region in rows])
        return RoomPage([_room_view(ctx, room, region, names) for room, region in rows], total)


async def get_room(
    ctx: Context, actor: Principal | None, room_id: int
) -> tuple[RoomView, list[RoomCodeView]]:
    """A room with every code it has had."""
    async with ctx.db.read() as session:
        view = await _load_room(session, ctx, room_id)
        _require(actor, Permission.VIEW_ROOMS, view.region_path)
        codes = [
            RoomCodeView(c.code, c.status, c.created_at.isoformat())
            for c in await store.list_room_codes(session, room_id)
        ]
        return view, codes


async def create_room(
    ctx: Context, actor: Principal | None, *, region_id: int, fields: RoomFields
) -> RoomView:
    """Create a room in a community, with a fresh code."""
    if errors := check_room_fields(fields):
        raise ValidationFailed("The room is not valid.", fields=errors)
    async with _write(ctx) as session:
        region = await store.get_region(session, region_id)
        if region is None:
            raise ValidationFailed("Unknown region.", fields={"region_id": "No such region."})
        _require(actor, Permission.MANAGE_ROOMS, region.path)
        if region.level is not RegionLevel.COMMUNITY:
            raise ValidationFailed(
                "Rooms belong to a village or community.",
                fields={"region_id": "Pick a village or community."},
            )
        room = await _insert_room(session, ctx, region, fields, code=None)
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id if actor else None,
            action="room.create",
            target=f"room:{room.id}",
            detail={"name": room.name},
        )
        return _room_view(ctx, room, region, await _names_by_id(session, [region.path]))


async def _insert_room(
    session: AsyncSession, ctx: Context, region: Region, fields: RoomFields, code: str | None
) -> Room:
    now = ctx.clock.now()
    for _ in range(8):
        candidate = code or new_room_code()
        if await store.get_room_code(session, candidate) is None:
            break
        if code is not None:
            raise Conflict(f"The code {code} belongs to another room.")
    else:  # pragma: no cover - 31**6 codes; eight collisions in a row means a broken RNG
        raise RuntimeError("could not find a free room code")
    room = Room(
        region_id=region.id,
        name=fields.name.strip(),
        code=candidate,
        chief=fields.chief.strip(),
        address=fields.address.strip(),
        opening_hours=fields.opening_hours.strip(),
        created_at=now,
        updated_at=now,
    )
    if await store.get_room_by_name(session, region.id, room.name) is not None:
        raise Conflict(f"A room named {room.name} already exists in {region.name}.")
    session.add(room)
    await session.flush()
    await store.insert_room_code(
        session,
        RoomCode(code=candidate, room_id=room.id, status=RoomCodeStatus.ACTIVE, created_at=now),
    )
    return room


async def update_room(
    ctx: Context,
    actor: Principal | None,
    room_id: int,
    *,
    fields: RoomFields,
    region_id: int | None = None,
) -> RoomView:
    if errors := check_room_fields(fields):
        raise ValidationFailed("The room is not valid.", fields=errors)
    async with _write(ctx) as session:
        room = await store.get_room(session, room_id)
        if room is None:
            raise NotFound(f"No room with id {room_id}.")
        region = await store.get_region(session, room.region_id)
        assert region is not None
        _require(actor, Permission.MANAGE_ROOMS, region.path)
        if region_id is not None and region_id != region.id:
            target = await store.get_region(session, region_id)
            if target is None or target.level is not RegionLevel.COMMUNITY:
                raise ValidationFailed(
                    "Rooms belong to a village or community.",
                    fields={"region_id": "Pick a village or community."},
                )
            _require(actor, Permission.MANAGE_ROOMS, target.path)
            region = target
        clash = await store.get_room_by_name(session, region.id, fields.name.strip())
        if clash is not None and clash.id != room.id:
            raise Conflict(f"A room named {fields.name.strip()} already exists in {region.name}.")
        room.region_id = region.id
        before = {
            "name": room.name,
            "chief": room.chief,
            "address": room.address,
            "opening_hours": room.opening_hours,
        }
        room.name = fields.name.strip()
        room.chief = fields.chief.strip()
        room.address = fields.address.strip()
        room.opening_hours = fields.opening_hours.strip()
        room.updated_at = ctx.clock.now()
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id if actor else None,
            action="room.update",
            target=f"room:{room.id}",
            detail={"before": before},
        )
        return _room_view(ctx, room, region, await _names_by_id(session, [region.path]))


async def rotate_room_code(ctx: Context, actor: Principal | None, room_id: int) -> RoomView:
    """Give the room a new code; the old one keeps redirecting until revoked."""
    async with _write(ctx) as session:
        room = await store.get_room(session, room_id)
        if room is None:
            raise NotFound(f"No room with id {room_id}.")
        region = await store.get_region(session, room.region_id)
        assert region is not None
        _require(actor, Permission.MANAGE_ROOMS, region.path)
        now = ctx.clock.now()
        old = await store.get_room_code(session, room.code)
        assert old is not None
        old.status, old.retired_at = RoomCodeStatus.RETIRED, now
        while await store.get_room_code(session, code := new_room_code()) is not None:
            pass
        await store.insert_room_code(
            session,
            RoomCode(code=code, room_id=room.id, status=RoomCodeStatus.ACTIVE, created_at=now),
        )
        room.code, room.updated_at = code, now
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id if actor else None,
            action="room.rotate_code",
            target=f"room:{room.id}",
            detail={"from": old.code, "to": code},
        )
        return _room_view(ctx, room, region, await _names_by_id(session, [region.path]))


async def revoke_room_code(ctx: Context, actor: Principal | None, code: str) -> RoomCodeView:
    """Stop a retired code from leading anywhere. A room's current code cannot be revoked."""
    normal = normalise_room_code(code)
    async with _write(ctx) as session:
        row = await store.get_room_code(session, normal) if normal else None
        if row is None:
            raise NotFound(f"No room code {code}.")
        room = await store.get_room(session, row.room_id)
        assert room is not None
        region = await store.get_region(session, room.region_id)
        assert region is not None
        _require(actor, Permission.MANAGE_ROOMS, region.path)
        if row.status is RoomCodeStatus.ACTIVE:
            raise Conflict(
                f"{row.code} is the room's current code (status active); rotate it first."
            )
        if row.status is RoomCodeStatus.REVOKED:
            raise Conflict(f"{row.code} is already revoked.")
        row.status, row.revoked_at = RoomCodeStatus.REVOKED, ctx.clock.now()
        record_audit(
            session,
            at=ctx.clock.now(),
            actor_id=actor.user_id if actor else None,
            action="room.revoke_code",
            target=f"room:{room.id}",
            detail={"code": row.code},
        )
        return RoomCodeView(row.code, row.status, row.created_at.isoformat())


async def lookup_room_code(ctx: Context, code: str) -> CodeLookup | None:
    """What a scanned or typed code leads to; None when it never existed.

    Every resident request starts here, so answers are cached: this process's own
    changes clear the cache at once, another process's show within
    CODE_CACHE_SECONDS.
    """
    normal = normalise_room_code(code)
    if normal is None:
        return None
    cache = _code_cache(ctx)
    if (cached := cache.get(normal)) is not None:
        return cached
    async with ctx.db.read() as session:
        row = await store.get_room_code(session, normal)
        lookup = None
        if row is not None:
            view = await _load_room(session, ctx, row.room_id)
            lookup = CodeLookup(row.status, view, view.code)
    if lookup is not None:
        cache.put(normal, lookup)
    return lookup


async def rooms_for_posters(
    ctx: Context, actor: Principal | None, *, region_id: int
) -> tuple[RegionView, list[RoomView]]:
    """Every room below a region, for one printable document of posters."""
    async with ctx.db.read() as session:
        region = await store.get_region(session, region_id)
        if region is None:
            raise NotFound(f"No region with id {region_id}.")
        _require(actor, Permission.PRINT_POSTERS, region.path)
        rows = await store.list_rooms(session, under_path=region.path, limit=10_000)
        names = await _names_by_id(session, [r.path for _, r in rows])
        return _region_view(region), [_room_view(ctx, room, reg, names) for room, reg in rows]


# --- CSV import and export -----------------------------------------------------------------


def _decode_csv(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadRequest("The file is neither UTF-8 nor GB18030 text.")


def _parse_rows(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise BadRequest("The file is empty.") from None
    except csv.Error as exc:
        raise BadRequest(f"Line 1: {exc}.") from None
    known = {alias: key for key, aliases in CSV_COLUMNS.items() for alias in aliases}
    columns: list[str | None] = [
        known.get(h.strip().lower()) or known.get(h.strip()) for h in header
    ]
    missing = [key for key in CSV_REQUIRED if key not in columns]
    if missing:
        raise BadRequest(f"Line 1: missing column(s): {', '.join(missing)}.")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(columns):
                return rows, [f"Line {line}: {len(record)} cells for {len(columns)} columns."]
            row = {key: "" for key in CSV_COLUMNS}
            for key, cell in zip(columns, record, strict=False):
                if key:
                    row[key] = csv_unsafe(cell.strip())
            rows.append((line, row))
    except csv.Error as exc:
        return rows, [f"Line {reader.line_num}: {exc}."]
    return rows, []


async def import_rooms(ctx: Context, actor: Principal | None, data: bytes) -> ImportReport:
    """Create or update regions and rooms from a CSV, all or nothing.

    A row is matched to an existing room by its code when it has one, else by its
    community and name, so importing the same file twice changes nothing. Every
    bad row is reported with its line number and then nothing is written.
    """
    rows, errors = _parse_rows(_decode_csv(data))
    if not rows and not errors:
        raise BadRequest("The file has a header but no rooms.")
    async with _write(ctx) as session:
        _require(actor, Permission.MANAGE_ROOMS)
        regions = {(r.parent_id, r.name): r for r in await store.list_regions(session)}
        roots = [r for r in regions.values() if r.parent_id is None]
        rooms_by_code = {room.code: room for room in await store.list_all_rooms(session)}
        rooms_by_key = {(room.region_id, room.name): room for room in rooms_by_code.values()}
        retired: dict[str, RoomCode | None] = {}
        report = {"regions": 0, "created": 0, "updated": 0, "unchanged": 0}
        seen: dict[tuple[int, str], int] = {}
        now = ctx.clock.now()

        async def region_for(
            parent: Region | None, level: RegionLevel, name: str, line: int
        ) -> Region | None:
            key = (parent.id if parent else None, name)
            found = regions.get(key)
            if found is not None:
                if found.level is not level:
                    errors.append(f"Line {line}: {name} is a {found.level}, not a {level}.")
                    return None
                return found
            if (problem := check_region_name(name)) is not None:
                errors.append(f"Line {line}: {name!r}: {problem}")
                return None
            created = await store.insert_region(session, Region(level=level, name=name), parent)
            regions[key] = created
            report["regions"] += 1
            return created

        for line, row in rows:
            if len(errors) >= MAX_IMPORT_ERRORS:
                break
            blank = [key for key in CSV_REQUIRED if not row[key]]
            if blank:
                errors.append(f"Line {line}: empty {', '.join(blank)}.")
                continue
            if row["city"]:
                city = await region_for(None, RegionLevel.CITY, row["city"], line)
            elif len(roots) == 1:
                city = roots[0]
            else:
                errors.append(f"Line {line}: no city column and {len(roots)} cities exist.")
                continue
            level_word = row["county_level"].lower()
            if level_word not in COUNTY_LEVEL_WORDS:
                errors.append(
                    f"Line {line}: county_level must be county or park, not {level_word!r}."
                )
                continue
            if city is None:
                continue
            county = await region_for(city, COUNTY_LEVEL_WORDS[level_word], row["county"], line)
            town = county and await region_for(county, RegionLevel.TOWN, row["town"], line)
            community = town and await region_for(
                town, RegionLevel.COMMUNITY, row["community"], line
            )
            if community is None:
                continue
            if actor is not None and not actor.covers(community.path):
                errors.append(f"Line {line}: {row['community']} is outside your region.")
                continue
            fields = RoomFields(row["name"], row["chief"], row["address"], row["opening_hours"])
            if problems := check_room_fields(fields):
                errors.extend(f"Line {line}: {k}: {v}" for k, v in problems.items())
                continue
            key = (community.id, fields.name)
            if key in seen:
                errors.append(f"Line {line}: the same room as line {seen[key]}.")
                continue
            seen[key] = line
            code = None
            if row["code"]:
                code = normalise_room_code(row["code"])
                if code is None:
                    errors.append(f"Line {line}: {row['code']!r} is not a room code.")
                    continue
            room = rooms_by_code.get(code) if code else rooms_by_key.get(key)
            if room is None and code:
                if code not in retired:
                    retired[code] = await store.get_room_code(session, code)
                if retired[code] is not None:
                    errors.append(
                        f"Line {line}: code {code} was retired; use the room's current code."
                    )
                    continue
            if room is None:
                if key in rooms_by_key:
                    errors.append(f"Line {line}: {fields.name} exists with another code.")
                    continue
                room = await _insert_room(session, ctx, community, fields, code)
                rooms_by_code[room.code] = room
                rooms_by_key[key] = room
                report["created"] += 1
                continue
            new = (community.id, fields.name, fields.chief, fields.address, fields.opening_hours)
            old = (room.region_id, room.name, room.chief, room.address, room.opening_hours)
            if new == old:
                report["unchanged"] += 1
                continue
            clash = rooms_by_key.get(key)
            if clash is not None and clash is not room:
                errors.append(f"Line {line}: another room is already named {fields.name} there.")
                continue
            rooms_by_key.pop((room.region_id, room.name), None)
            (room.region_id, room.name, room.chief, room.address, room.opening_hours) = new
            room.updated_at = now
            rooms_by_key[key] = room
            report["updated"] += 1
        if errors:
            # Raising rolls back every region and room this file created.
            raise ValidationFailed(
                f"{len(errors)} problem(s) in the file; nothing was imported.",
                fields={"file": "\n".join(errors[:MAX_IMPORT_ERRORS])},
            )
        await session.flush()
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id if actor else None,
            action="room.import",
            target="rooms",
            detail=report,
        )
        return ImportReport(
            report["regions"], report["created"], report["updated"], report["unchanged"]
        )


async def export_rooms(
    ctx: Context, actor: Principal | None, *, region_id: int | None = None
) -> str:
    """The rooms the actor covers as CSV, in the import's format (so it re-imports as is)."""
    _require(actor, Permission.VIEW_ROOMS)
    async with ctx.db.read() as session:
        under = await _scope(session, actor, region_id)
        rows = await store.list_rooms(session, under_path=under, limit=1_000_000)
        all_regions = {r.id: r for r in await store.list_regions(session)}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_EXPORT_HEADER)
    for room, region in rows:
        chain = [all_regions[int(p)] for p in region.path.strip("/").split("/")]
        city, county, town, community = chain
        writer.writerow(
            csv_safe(cell)
            for cell in [
                city.name,
                county.name,
                county.level.value,
                town.name,
                community.name,
                room.name,
                room.code,
                room.chief,
                room.address,
                room.opening_hours,
            ]
        )
    return out.getvalue()
