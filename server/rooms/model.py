"""Pure rules for regions, rooms and room codes."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum


class RegionLevel(StrEnum):
    CITY = "city"
    COUNTY = "county"
    PARK = "park"
    TOWN = "town"
    COMMUNITY = "community"


# A park (开发园区) sits where a county or district does.
DEPTH = {
    RegionLevel.CITY: 0,
    RegionLevel.COUNTY: 1,
    RegionLevel.PARK: 1,
    RegionLevel.TOWN: 2,
    RegionLevel.COMMUNITY: 3,
}


def can_nest_region(parent: RegionLevel | None, child: RegionLevel) -> bool:
    if parent is None:
        return child is RegionLevel.CITY
    return DEPTH[child] == DEPTH[parent] + 1


class RoomCodeStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"  # replaced by a new code; still redirects to the room
    REVOKED = "revoked"  # no longer leads anywhere


# No 0/O, 1/I/L: codes are read off posters and typed by hand.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
CODE_RE = re.compile(rf"^[{CODE_ALPHABET}]{{4,12}}$")


def new_room_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_room_code(raw: str) -> str | None:
    """Upper-case a typed code; None if it cannot be a room code at all."""
    code = raw.strip().upper()
    return code if CODE_RE.match(code) else None


LIMITS = {
    "name": 80,
    "chief": 40,
    "address": 200,
    "opening_hours": 120,
    "region_name": 60,
}


@dataclass(frozen=True, slots=True)
class RoomFields:
    name: str
    chief: str
    address: str
    opening_hours: str


def check_room_fields(fields: RoomFields) -> dict[str, str]:
    """Field errors (field -> message); empty when the room is valid."""
    errors: dict[str, str] = {}
    if not fields.name.strip():
        errors["name"] = "A room needs a name."
    for field in ("name", "chief", "address", "opening_hours"):
        value: str = getattr(fields, field)
        if len(value) > LIMITS[field]:
            errors[field] = f"At most {LIMITS[field]} characters."
    return errors


def check_region_name(name: str) -> str | None:
    if not name.strip():
        return "A region needs a name."
    if len(name) > LIMITS["region_name"]:
        return f"At most {LIMITS['region_name']} characters."
    return None


# CSV columns: the key used in code, then the headers accepted for it.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "city": ("city", "市"),
    "county": ("county", "县区", "县(区)"),
    "county_level": ("county_level", "县区类型"),
    "town": ("town", "镇街", "镇(街道)"),
    "community": ("community", "村社区", "村(社区)"),
    "name": ("name", "议事室", "议事室名称"),
    "code": ("code", "编码"),
    "chief": ("chief", "室长"),
    "address": ("address", "地址"),
    "opening_hours": ("opening_hours", "开放时间"),
}
CSV_REQUIRED = ("county", "town", "community", "name")
CSV_EXPORT_HEADER = (
    "city",
    "county",
    "county_level",
    "town",
    "community",
    "name",
    "code",
    "chief",
    "address",
    "opening_hours",
)
COUNTY_LEVEL_WORDS = {
    "": RegionLevel.COUNTY,
    "county": RegionLevel.COUNTY,
    "县区": RegionLevel.COUNTY,
    "district": RegionLevel.COUNTY,
    "park": RegionLevel.PARK,
    "园区": RegionLevel.PARK,
}


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(cell: str) -> str:
    """Export form of a cell: a leading quote keeps spreadsheets from running it."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def csv_unsafe(cell: str) -> str:
    """Undo csv_safe on import, so an exported file re-imports unchanged."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_STARTS) else cell
