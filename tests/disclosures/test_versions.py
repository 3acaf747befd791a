"""A published month is never rewritten: refusals change nothing, a new version is
published beside the old one, which stays in the archive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.core.auth import Role
from server.core.clock import FakeClock
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, ValidationFailed
from server.disclosures import actions as disclosures
from server.disclosures.tables import MonthlyDisclosure
from tests.deliberations.helpers import county_dispatcher
from tests.disclosures.helpers import APRIL
from tests.factories import make_city, make_staff


async def _rows(ctx: Context) -> list[tuple[int, str, int, str]]:
    async with ctx.db.read() as session:
        rows = await session.execute(
            select(
                MonthlyDisclosure.region_id,
                MonthlyDisclosure.month,
                MonthlyDisclosure.version,
                MonthlyDisclosure.reason,
            ).order_by(MonthlyDisclosure.id)
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def _count(ctx: Context) -> int:
    async with ctx.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(MonthlyDisclosure)) or 0)


def _to_april(ctx: Context) -> None:
    clock = ctx.clock
    assert isinstance(clock, FakeClock)
    clock.advance(APRIL - clock.now() + timedelta(hours=1))


async def test_republishing_is_refused_and_a_new_version_keeps_the_old(ctx: Context) -> None:
    await make_city(ctx)
    _to_april(ctx)
    first = await disclosures.publish_disclosures(ctx, "2026-03")
    assert (first.disclosures, first.version) == (4, 1)
    before = await _rows(ctx)

    with pytest.raises(Conflict, match=r"2026-03 is already published.*new version") as refused:
        await disclosures.publish_disclosures(ctx, "2026-03")
    assert refused.value.fields == {"month": "Already published."}
    assert await _rows(ctx) == before

    with pytest.raises(ValidationFailed, match="Say why"):
        await disclosures.publish_disclosures(ctx, "2026-03", new_version_reason="短")
    assert await _rows(ctx) == before

    again = await disclosures.publish_disclosures(
        ctx, "2026-03", new_version_reason="更正：补录一场议事会"
    )
    assert (again.disclosures, again.version, again.new_version) == (4, 2, True)
    rows = await _rows(ctx)
    assert rows[:4] == before  # version 1 untouched
    assert [(r[2], r[3]) for r in rows[4:]] == [(2, "更正：补录一场议事会")] * 4

    archive = await disclosures.list_disclosures(ctx, month="2026-03")
    assert archive.total == 8 and archive.months == ["2026-03"]
    old = next(i for i in archive.items if i.version == 1)
    view = await disclosures.get_disclosure(ctx, old.id)
    assert not view.latest and [v.version for v in view.versions] == [1, 2]
    newest = await disclosures.get_disclosure(ctx, view.versions[1].id)
    assert newest.latest and newest.reason == "更正：补录一场议事会"

    third = await disclosures.publish_disclosures(ctx, "2026-03", new_version_reason="再次更正")
    assert third.version == 3 and await _count(ctx) == 12


async def test_a_new_version_of_a_month_never_published_is_refused(ctx: Context) -> None:
    await make_city(ctx)
    _to_april(ctx)
    with pytest.raises(Conflict, match="not been published yet"):
        await disclosures.publish_disclosures(ctx, "2026-02", new_version_reason="更正数据口径")
    assert await _count(ctx) == 0


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-04", "2026-04 is the current month"),
        ("2026-05", "2026-05 is a future month"),
        ("2027-01", "a future month"),
        ("2026-13", "not a month"),
        ("2026-4", "not a month"),
        ("", "not a month"),
        ("四月", "not a month"),
    ],
)
async def test_unfinished_future_and_malformed_months_are_refused(
    ctx: Context, month: str, message: str
) -> None:
    await make_city(ctx)
    _to_april(ctx)
    with pytest.raises(ValidationFailed, match=message) as refused:
        await disclosures.publish_disclosures(ctx, month)
    assert set(refused.value.fields) == {"month"}
    assert await _count(ctx) == 0


async def test_only_an_administrator_publishes(ctx: Context) -> None:
    city = await make_city(ctx)
    _to_april(ctx)
    dispatcher = await county_dispatcher(ctx, city)
    with pytest.raises(Forbidden, match="administrator"):
        await disclosures.publish_disclosures(ctx, "2026-03", actor=dispatcher)
    assert await _count(ctx) == 0
    admin = await make_staff(ctx, Role.ADMIN, city.city, username="admin")
    done = await disclosures.publish_disclosures(ctx, "2026-03", actor=admin)
    assert done.disclosures == 4


async def test_a_city_without_towns_publishes_nothing(ctx: Context) -> None:
    _to_april(ctx)
    done = await disclosures.publish_disclosures(ctx, "2026-03")
    assert done.disclosures == 0 and await _count(ctx) == 0
