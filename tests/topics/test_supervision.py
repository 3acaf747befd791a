from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from server.core.clock import LOCAL_TZ
from server.topics.supervision import Flag, Policy, Stage, WorkCalendar, due_at, flag

# 2026: National Day holidays Oct 1-7, with Sat Oct 10 worked instead (调休).
CAL = WorkCalendar.parse(holidays=[f"2026-10-0{d}" for d in range(1, 8)], workdays=["2026-10-10"])


@pytest.mark.parametrize(
    ("start", "days", "end"),
    [
        (date(2026, 9, 28), 1, date(2026, 9, 29)),  # Mon -> Tue
        (date(2026, 9, 25), 1, date(2026, 9, 28)),  # Fri -> Mon
        (date(2026, 9, 30), 1, date(2026, 10, 8)),  # across the holiday week
        (date(2026, 10, 9), 1, date(2026, 10, 10)),  # the worked Saturday counts
        (date(2026, 9, 28), 0, date(2026, 9, 28)),
        (date(2026, 9, 28), 15, date(2026, 10, 23)),
    ],
)
def test_working_days(start: date, days: int, end: date) -> None:
    assert CAL.add_working_days(start, days) == end
    assert CAL.working_days_between(start, end) == days


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError):
        CAL.add_working_days(date(2026, 1, 5), -1)


def test_deadlines_run_in_local_time_and_stretch_with_pauses() -> None:
    policy = Policy()
    # 17:30 UTC on Tue Sep 29 is already Wed Sep 30 in China.
    started = datetime(2026, 9, 29, 17, 30, tzinfo=UTC)
    due = due_at(started, Stage.ACCEPT, policy, CAL, LOCAL_TZ)
    assert due.date() == date(2026, 10, 8) and due.tzinfo is LOCAL_TZ
    paused = due_at(started, Stage.ACCEPT, policy, CAL, LOCAL_TZ, paused_days=2, extension_days=1)
    assert paused.date() == date(2026, 10, 12)


def test_flags_turn_yellow_then_red() -> None:
    policy = Policy()
    due = due_at(datetime(2026, 9, 21, 2, tzinfo=UTC), Stage.CONTACT, policy, CAL, LOCAL_TZ)
    assert due.date() == date(2026, 9, 24)
    assert flag(datetime(2026, 9, 22, 2, tzinfo=UTC), due, policy, CAL, LOCAL_TZ) is Flag.OK
    assert flag(datetime(2026, 9, 23, 2, tzinfo=UTC), due, policy, CAL, LOCAL_TZ) is Flag.NEAR
    assert flag(datetime(2026, 9, 24, 15, tzinfo=UTC), due, policy, CAL, LOCAL_TZ) is Flag.NEAR
    assert (
        flag(datetime(2026, 9, 24, 16, 1, tzinfo=UTC), due, policy, CAL, LOCAL_TZ) is Flag.OVERDUE
    )
