"""The pure rules: months in local time, what a month includes, public text."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from server.core.clock import LOCAL_TZ
from server.disclosures.model import (
    InvalidMonth,
    Month,
    check_publishable,
    check_reason,
    public_note,
    qualifies,
    redact,
)


@pytest.mark.parametrize("text", ["2026-03", " 2026-03 ", "2000-01", "2999-12"])
def test_months_parse(text: str) -> None:
    assert str(Month.parse(text)) == text.strip()


@pytest.mark.parametrize(
    "text",
    ["", "2026-3", "2026-13", "2026-00", "26-03", "2026/03", "2026-03-01", "1999-12", "abcd-ef"],
)
def test_malformed_months_are_refused(text: str) -> None:
    with pytest.raises(InvalidMonth, match="YYYY-MM"):
        Month.parse(text)


def test_a_month_runs_from_local_midnight_to_local_midnight() -> None:
    feb = Month.parse("2026-02")
    assert feb.start(LOCAL_TZ) == datetime(2026, 1, 31, 16, 0, tzinfo=UTC)
    assert feb.end(LOCAL_TZ) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert feb.last_day() == date(2026, 2, 28)
    assert Month.parse("2024-02").last_day() == date(2024, 2, 29)
    assert str(Month.parse("2026-12").next()) == "2027-01"
    assert str(Month.parse("2026-01").previous()) == "2025-12"
    # 16:30 UTC on 31 January is already 1 February in China.
    assert Month.of(datetime(2026, 1, 31, 16, 30, tzinfo=UTC), LOCAL_TZ) == feb


def test_only_an_ended_month_may_be_published() -> None:
    feb = Month.parse("2026-02")
    check_publishable(feb, datetime(2026, 2, 28, 16, 0, tzinfo=UTC), LOCAL_TZ)  # 1 March 00:00
    with pytest.raises(InvalidMonth, match="current month"):
        check_publishable(feb, datetime(2026, 2, 28, 15, 59, tzinfo=UTC), LOCAL_TZ)
    with pytest.raises(InvalidMonth, match="future month"):
        check_publishable(Month.parse("2026-04"), datetime(2026, 3, 5, tzinfo=UTC), LOCAL_TZ)


@pytest.mark.parametrize(
    ("kind", "from_status", "to_status", "included"),
    [
        ("move", None, "submitted", False),
        ("move", "submitted", "accepted", False),
        ("move", "submitted", "rejected", False),
        ("move", "accepted", "merged", False),
        ("move", "accepted", "dispatched", True),
        ("move", "dispatched", "assigned", True),
        ("move", "assigned", "handling", True),
        ("move", "assigned", "escalated", True),
        ("move", "escalated", "scheduled", True),
        ("move", "scheduled", "deliberated", True),
        ("move", "deliberated", "implementing", True),
        ("move", "handling", "resolved", True),
        ("move", "resolved", "reopened", True),
        ("move", "dispatched", "rejected", True),
        ("move", "handling", "merged", True),
        ("contact", "handling", "handling", True),
        ("progress", "handling", "handling", True),
        ("pause", "handling", "handling", True),
        ("resume", "handling", "handling", True),
        ("extension", "handling", "handling", False),
    ],
)
def test_what_puts_a_topic_in_the_month(
    kind: str, from_status: str | None, to_status: str, included: bool
) -> None:
    assert qualifies(kind, from_status, to_status) is included


def test_public_text_masks_phones_and_the_submitters_name() -> None:
    text = "已联系欧阳娜娜（13912345678、+86 139-1234-5678），座机 0571-87654321"
    out = redact(text, ("欧阳娜娜",))
    assert "欧阳娜娜" not in out and "欧***" in out
    assert "13912345678" not in out and "139****5678" in out
    assert "1234-5678" not in out and "87654321" not in out
    assert redact("按楼层分摊，2026年3月完工", ()) == "按楼层分摊，2026年3月完工"
    assert public_note("contact", "phone: 打给欧阳娜娜") == "phone"
    assert public_note("progress", "phone: 施工中") == "phone: 施工中"


def test_a_new_versions_reason_is_required() -> None:
    assert check_reason("  更正统计口径 ") == "更正统计口径"
    for bad in ("", "短", "x" * 501):
        with pytest.raises(ValueError, match="Say why"):
            check_reason(bad)
