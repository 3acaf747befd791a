"""The pure rules of sessions: the state table, schedule checks, the word filter and the
iCalendar file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.deliberations.model import (
    CAPACITY_MAX,
    TRANSITIONS,
    CalendarEntry,
    DeliberationStatus,
    Invalid,
    InvalidMove,
    WordFilter,
    calendar_file,
    transition,
    validate_schedule,
)

D = DeliberationStatus
ALLOWED = {
    (D.DRAFT, D.ANNOUNCED),
    (D.DRAFT, D.CANCELLED),
    (D.ANNOUNCED, D.LIVE),
    (D.ANNOUNCED, D.CANCELLED),
    (D.LIVE, D.ENDED),
    (D.ENDED, D.PUBLISHED),
}
START = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize("current", list(D))
@pytest.mark.parametrize("target", list(D))
def test_every_move_is_allowed_or_refused_by_the_table(
    current: DeliberationStatus, target: DeliberationStatus
) -> None:
    if (current, target) in ALLOWED:
        assert transition(current, target) is target
    else:
        with pytest.raises(InvalidMove) as refused:
            transition(current, target)
        assert refused.value.current is current
        assert str(current) in str(refused.value)


def test_the_table_has_exactly_the_documented_moves() -> None:
    assert {(a, b) for a, moves in TRANSITIONS.items() for b in moves} == ALLOWED
    assert TRANSITIONS[D.CANCELLED] == TRANSITIONS[D.PUBLISHED] == frozenset()


def schedule(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "title": "加装电梯协商议事会",
        "description": "议一议三号楼加装电梯的费用分摊",
        "place": "党群服务中心二楼",
        "starts_at": START,
        "ends_at": START + timedelta(hours=2),
        "capacity": 40,
    }
    values.update(overrides)
    return values


def test_a_schedule_is_cleaned() -> None:
    s = validate_schedule(**schedule(title="  加装电梯\u200b协商  ", description=""))  # type: ignore[arg-type]
    assert s.title == "加装电梯协商"  # trimmed, and the zero-width space is gone
    assert s.description == "" and s.capacity == 40


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "议" * 61}, "title"),
        ({"place": ""}, "place"),
        ({"description": "长" * 2001}, "description"),
        ({"ends_at": START}, "ends_at"),
        ({"ends_at": START - timedelta(minutes=1)}, "ends_at"),
        ({"ends_at": START + timedelta(hours=12, minutes=1)}, "ends_at"),
        ({"starts_at": START.replace(tzinfo=None)}, "starts_at"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": CAPACITY_MAX + 1}, "capacity"),
    ],
)
def test_a_bad_schedule_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as refused:
        validate_schedule(**schedule(**overrides))  # type: ignore[arg-type]
    assert field in refused.value.fields


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(Invalid) as refused:
        validate_schedule(**schedule(title="", place="", capacity=-1))  # type: ignore[arg-type]
    assert set(refused.value.fields) == {"title", "place", "capacity"}


def test_the_word_filter_sees_through_spacing_width_and_case() -> None:
    words = WordFilter.of(["敏感词", "BadWord", "  ", "敏感词"])
    assert words.words == ("badword", "敏感词")
    assert words.matches("这里有 敏 感.词 吗") == ["敏感词"]
    assert words.matches("ＢＡＤ ｗｏｒｄ!") == ["badword"]
    assert words.matches("一切正常") == []


def entry(**overrides: object) -> CalendarEntry:
    values: dict[str, object] = {
        "uid": "deliberation-7@msy.example.cn",
        "title": "加装电梯协商议事会",
        "description": "第一行\n第二行",
        "place": "幸福里社区协商议事室",
        "starts_at": START,
        "ends_at": START + timedelta(hours=2),
        "url": "https://msy.example.cn/d/7",
        "cancelled": False,
        "sequence": 3,
        "stamp": datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return CalendarEntry(**values)  # type: ignore[arg-type]


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_the_calendar_file_has_crlf_lines_and_utc_times() -> None:
    beijing = timezone(timedelta(hours=8))
    text = calendar_file(entry(starts_at=START.astimezone(beijing)))
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    assert "DTSTART:20260310T060000Z" in lines and "DTEND:20260310T080000Z" in lines
    assert "UID:deliberation-7@msy.example.cn" in lines
    assert "SEQUENCE:3" in lines and "STATUS:CONFIRMED" in lines and "METHOD:PUBLISH" in lines
    assert "DESCRIPTION:第一行\\n第二行" in lines


def test_a_cancelled_session_cancels_the_entry() -> None:
    lines = unfold(calendar_file(entry(cancelled=True, sequence=5)))
    assert "METHOD:CANCEL" in lines and "STATUS:CANCELLED" in lines and "SEQUENCE:5" in lines


def test_text_values_are_escaped() -> None:
    lines = unfold(calendar_file(entry(title="议题一; 议题二, 还有\\反斜杠", place="A,B;C")))
    assert "SUMMARY:议题一\\; 议题二\\, 还有\\\\反斜杠" in lines
    assert "LOCATION:A\\,B\\;C" in lines


def test_long_lines_fold_at_75_octets_without_splitting_a_character() -> None:
    title = "关于小区加装电梯费用分摊和停车位规划以及垃圾分类投放点设置的协商议事会" * 3
    text = calendar_file(entry(title=title))
    physical = text.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in physical)
    summary = next(i for i, line in enumerate(physical) if line.startswith("SUMMARY:"))
    assert physical[summary + 1].startswith(" ")  # it was folded
    for line in physical:
        line.encode().decode("utf-8")  # each physical line is whole characters
    assert f"SUMMARY:{title}" in unfold(text)


def test_folding_counts_octets_not_characters() -> None:
    ascii_title = "a" * 200
    physical = calendar_file(entry(title=ascii_title)).split("\r\n")
    first = next(line for line in physical if line.startswith("SUMMARY:"))
    assert len(first.encode()) == 75  # ASCII fills the line exactly
    chinese = calendar_file(entry(title="议" * 100)).split("\r\n")
    first_cn = next(line for line in chinese if line.startswith("SUMMARY:"))
    # "SUMMARY:" is 8 octets, each 议 is 3: 22 fit (74 octets), a 23rd would make 77.
    assert len(first_cn.encode()) == 74
