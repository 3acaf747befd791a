"""The job inside the server: on the 1st (local) it publishes last month once; at start it
catches up on a missed 1st; several processes publish a month once between them."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.app import create_app
from server.core.clock import FakeClock
from server.core.context import Context
from server.core.errors import Conflict
from server.disclosures import actions as disclosures
from server.disclosures.tables import MonthlyDisclosure
from server.settings import Settings
from tests.conftest import context_for
from tests.factories import make_city


async def _published(ctx: Context) -> list[tuple[str, int]]:
    async with ctx.db.read() as session:
        rows = await session.execute(
            select(MonthlyDisclosure.month, MonthlyDisclosure.version).order_by(
                MonthlyDisclosure.month, MonthlyDisclosure.id
            )
        )
        return [(r[0], r[1]) for r in rows.all()]


def _at(clock: FakeClock, moment: datetime) -> None:
    clock.advance(moment - clock.now())


async def test_on_the_first_it_publishes_last_month_once(ctx: Context, clock: FakeClock) -> None:
    await make_city(ctx)
    # Started on 2 March: February was never published, so it catches up at once.
    first = await disclosures.publish_due(ctx)
    assert first is not None and first.month == "2026-02"
    assert await disclosures.publish_due(ctx) is None

    _at(clock, datetime(2026, 3, 31, 15, 59, tzinfo=UTC))  # 31 March 23:59 local
    assert await disclosures.publish_due(ctx) is None
    assert {m for m, _ in await _published(ctx)} == {"2026-02"}

    _at(clock, datetime(2026, 3, 31, 16, 0, tzinfo=UTC))  # 1 April 00:00 local
    done = await disclosures.publish_due(ctx)
    assert done is not None and (done.month, done.disclosures, done.version) == ("2026-03", 4, 1)
    clock.advance(timedelta(hours=5))
    assert await disclosures.publish_due(ctx) is None
    assert await _published(ctx) == [("2026-02", 1)] * 4 + [("2026-03", 1)] * 4


async def test_a_restarted_server_catches_up_on_a_missed_first(
    settings: Settings, clock: FakeClock
) -> None:
    async with context_for(settings, clock) as before:
        await make_city(before)
        assert await disclosures.publish_due(before) is not None  # February
    _at(clock, datetime(2026, 4, 5, 2, 0, tzinfo=UTC))  # down over the 1st of April
    async with context_for(settings, clock) as after:
        done = await disclosures.publish_due(after)
        assert done is not None and done.month == "2026-03"
        assert await disclosures.publish_due(after) is None


async def test_two_processes_at_once_publish_the_month_once(
    settings: Settings, clock: FakeClock
) -> None:
    async with context_for(settings, clock) as a, context_for(settings, clock) as b:
        await make_city(a)
        results = await asyncio.gather(disclosures.publish_due(a), disclosures.publish_due(b))
        assert sorted(r is None for r in results) == [False, True]
        assert await _published(a) == [("2026-02", 1)] * 4
        # The same race on the action itself: one publishes, the other is told it is done.
        _at(clock, datetime(2026, 3, 31, 16, 0, tzinfo=UTC))
        outcomes = await asyncio.gather(
            disclosures.publish_disclosures(a, "2026-03"),
            disclosures.publish_disclosures(b, "2026-03"),
            return_exceptions=True,
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "PublishResult"]
        refused = next(o for o in outcomes if isinstance(o, Conflict))
        assert "2026-03" in refused.message
        assert await _published(a) == [("2026-02", 1)] * 4 + [("2026-03", 1)] * 4


async def test_the_server_runs_the_job_from_its_start(
    aiohttp_client: Any, settings: Settings, clock: FakeClock
) -> None:
    async with context_for(settings, clock) as setup:
        await make_city(setup)
    app = create_app(replace(settings, disclosure_check_seconds=3600), clock=clock)
    client = await aiohttp_client(app)
    for _ in range(100):
        response = await client.get("/api/disclosures")
        body = await response.json()
        if body["total"]:
            break
        await asyncio.sleep(0.05)
    assert body["total"] == 4 and body["months"] == ["2026-02"]


async def test_the_job_keeps_going_after_a_failure(
    settings: Settings, clock: FakeClock, monkeypatch: Any
) -> None:
    calls = []

    async def failing(ctx: Context) -> None:
        calls.append(ctx.clock.now())
        raise RuntimeError("database away")

    monkeypatch.setattr(disclosures, "publish_due", failing)
    async with context_for(replace(settings, disclosure_check_seconds=0), clock) as ctx:
        task = asyncio.get_running_loop().create_task(disclosures.disclosure_loop(ctx))
        for _ in range(100):
            if len(calls) >= 2:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert len(calls) >= 2
