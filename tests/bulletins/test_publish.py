"""Publishing a quarter's bulletin as a snapshot, its versions, and every refusal (each
writes nothing)."""

from __future__ import annotations

import pytest

from server.accounts import actions as accounts
from server.bulletins import actions
from server.core.auth import Role
from server.core.clock import FakeClock
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.rooms import actions as rooms
from server.rooms.model import RoomFields
from tests.bulletins.helpers import World, set_local, two_quarters
from tests.factories import make_city, make_staff


async def versions(ctx: Context, quarter: str) -> list[int]:
    try:
        view = await actions.get_bulletin(ctx, quarter)
    except NotFound:
        return []
    return [v["version"] for v in view.versions]


async def test_publish_stores_the_snapshot_it_shows(ctx: Context, clock: FakeClock) -> None:
    w = await two_quarters(ctx, clock)
    live = await actions.quarterly_bulletin(ctx, "2026-Q2")
    done = await actions.publish_bulletin(ctx, w.admin, "2026-Q2")
    assert (done.quarter, done.version, done.reason) == ("2026-Q2", 1, "")
    assert done.published_at == clock.now()
    # A room opened later is in the live figures but not in the published snapshot.
    await rooms.create_room(
        ctx, None, region_id=w.city.community.id, fields=RoomFields("新开议事室", "", "", "")
    )
    view = await actions.get_bulletin(ctx, "2026-Q2")
    assert (view.version, view.latest, view.provisional) == (1, True, False)
    assert view.data == live
    relive = (await actions.quarterly_bulletin(ctx, "2026-Q2"))["levels"]["room"]
    assert len(relive) == 3
    # Fewer than MIN_TOPICS received: unranked, listed after the ranked rooms.
    assert [(r["name"], r["rank"]) for r in relive][2] == ("新开议事室", None)
    assert relive[2]["change"]["rank"] is None and relive[2]["change"]["received"] == 0
    assert len(view.data["levels"]["room"]) == 2
    listed = await actions.list_bulletins(ctx)
    assert [(i.quarter, i.version) for i in listed] == [("2026-Q3", None), ("2026-Q2", 1)]


async def test_a_new_version_needs_a_reason_and_keeps_the_old(
    ctx: Context, clock: FakeClock
) -> None:
    w = await two_quarters(ctx, clock)
    await actions.publish_bulletin(ctx, w.admin, "2026-Q2")
    with pytest.raises(Conflict, match="already published"):
        await actions.publish_bulletin(ctx, w.admin, "2026-Q2")
    for reason in ("", "短", "x" * 501):
        with pytest.raises(ValidationFailed) as refused:
            await actions.publish_bulletin(ctx, w.admin, "2026-Q2", new_version=True, reason=reason)
        assert "reason" in refused.value.fields
    assert await versions(ctx, "2026-Q2") == [1]
    clock_before = clock.now()
    set_local(clock, 2026, 7, 2, 9)
    done = await actions.publish_bulletin(
        ctx, w.admin, "2026-Q2", new_version=True, reason="更正科创街道的数据"
    )
    assert done.version == 2 and done.reason == "更正科创街道的数据"
    assert await versions(ctx, "2026-Q2") == [2, 1]
    audit = [
        (e.action, e.target, e.detail, e.actor_id)
        for e in await accounts.audit_log(ctx, w.admin)
        if e.action == "bulletin.publish"
    ]
    assert audit == [
        (
            "bulletin.publish",
            "bulletin:2026-Q2",
            {"version": 2, "reason": "更正科创街道的数据"},
            w.admin.user_id,
        ),
        ("bulletin.publish", "bulletin:2026-Q2", {"version": 1, "reason": ""}, w.admin.user_id),
    ]
    old = await actions.get_bulletin(ctx, "2026-Q2", 1)
    assert (old.version, old.latest, old.reason, old.published_at) == (1, False, "", clock_before)
    new = await actions.get_bulletin(ctx, "2026-Q2")
    assert (new.version, new.latest, new.reason) == (2, True, "更正科创街道的数据")
    with pytest.raises(NotFound):
        await actions.get_bulletin(ctx, "2026-Q2", 3)


async def test_refusals_write_nothing(ctx: Context, clock: FakeClock) -> None:
    w: World = await two_quarters(ctx, clock)
    for bad in ("2026-Q5", "2026Q2", "Q2-2026", ""):
        with pytest.raises(ValidationFailed) as refused:
            await actions.publish_bulletin(ctx, w.admin, bad)
        assert refused.value.fields == {"quarter": "YYYY-Qn, e.g. 2026-Q1."}
    # The current quarter (Q3) and a future one have not ended.
    for running in ("2026-Q3", "2027-Q1"):
        with pytest.raises(ValidationFailed, match="has not ended"):
            await actions.publish_bulletin(ctx, w.admin, running)
    with pytest.raises(Conflict, match="not been published"):
        await actions.publish_bulletin(ctx, w.admin, "2026-Q1", new_version=True, reason="更正数据")
    dispatcher = await make_staff(ctx, Role.DISPATCHER, w.city.county, username="countyd")
    with pytest.raises(Forbidden):
        await actions.publish_bulletin(ctx, dispatcher, "2026-Q2")
    with pytest.raises(Forbidden):
        await actions.staff_quarters(ctx, dispatcher)
    for quarter in ("2026-Q1", "2026-Q2"):
        assert await versions(ctx, quarter) == []
    assert not [
        e for e in await accounts.audit_log(ctx, w.admin) if e.action.startswith("bulletin")
    ]
    assert [i.quarter for i in await actions.list_bulletins(ctx)] == ["2026-Q3"]


async def test_what_the_public_may_read(ctx: Context, clock: FakeClock) -> None:
    """The current quarter is provisional; an ended quarter not yet published, a future
    quarter and a malformed one are refused."""
    await make_city(ctx)
    current = await actions.get_bulletin(ctx, "2026-Q1")  # the fake clock is in March
    assert current.provisional and current.version is None and current.data["provisional"]
    with pytest.raises(NotFound, match="not started"):
        await actions.get_bulletin(ctx, "2026-Q2")
    with pytest.raises(NotFound, match="not been published"):
        await actions.get_bulletin(ctx, "2025-Q4")
    with pytest.raises(ValidationFailed):
        await actions.get_bulletin(ctx, "2026-Q9")
    with pytest.raises(NotFound, match="not started"):
        await actions.quarterly_bulletin(ctx, "2026-Q2")


async def test_staff_quarters(ctx: Context, clock: FakeClock) -> None:
    w = await two_quarters(ctx, clock)
    await actions.publish_bulletin(ctx, w.admin, "2026-Q2")
    listed = await actions.staff_quarters(ctx, w.admin, count=3)
    assert [(q.quarter, q.ended, q.latest_version) for q in listed] == [
        ("2026-Q3", False, 0),
        ("2026-Q2", True, 1),
        ("2026-Q1", True, 0),
    ]
