from __future__ import annotations

import pytest

from server.rooms.model import (
    CODE_ALPHABET,
    RegionLevel,
    RoomFields,
    can_nest_region,
    check_room_fields,
    csv_safe,
    csv_unsafe,
    new_room_code,
    normalise_room_code,
)

L = RegionLevel


@pytest.mark.parametrize(
    ("parent", "child", "ok"),
    [
        (None, L.CITY, True),
        (None, L.COUNTY, False),
        (L.CITY, L.COUNTY, True),
        (L.CITY, L.PARK, True),
        (L.CITY, L.TOWN, False),
        (L.COUNTY, L.TOWN, True),
        (L.PARK, L.TOWN, True),
        (L.TOWN, L.COMMUNITY, True),
        (L.COMMUNITY, L.COMMUNITY, False),
        (L.COUNTY, L.COMMUNITY, False),
    ],
)
def test_region_nesting(parent: RegionLevel | None, child: RegionLevel, ok: bool) -> None:
    assert can_nest_region(parent, child) is ok


def test_codes_avoid_look_alike_characters() -> None:
    for _ in range(200):
        code = new_room_code()
        assert len(code) == 6 and set(code) <= set(CODE_ALPHABET)
    assert not set("01ILO") & set(CODE_ALPHABET)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (" abc234 ", "ABC234"),
        ("ABC0", None),
        ("AB", None),
        ("../etc", None),
        ("ABCDEFGHJKMNP", None),
    ],
)
def test_normalise_room_code(raw: str, normal: str | None) -> None:
    assert normalise_room_code(raw) == normal


def test_room_fields_checked() -> None:
    assert check_room_fields(RoomFields("室", "", "", "")) == {}
    errors = check_room_fields(RoomFields(" ", "长" * 41, "", "时" * 121))
    assert set(errors) == {"name", "chief", "opening_hours"}


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "普通", ""])
def test_csv_cells_cannot_become_formulas_and_round_trip(cell: str) -> None:
    safe = csv_safe(cell)
    assert not safe.startswith(("=", "+", "-", "@"))
    assert csv_unsafe(safe) == cell
