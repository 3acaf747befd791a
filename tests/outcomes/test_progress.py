"""Outcomes carried out: handler outcomes, progress updates with photos, overdue flags."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.core.auth import Role
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, StaleUpdate, ValidationFailed
from server.outcomes import actions as outcomes
from server.settings import Settings
from server.topics import actions as topics
from server.topics.actions import Upload, deadlines
from server.topics.model import TopicStatus
from tests.conftest import files_under
from tests.deliberations.helpers import county_dispatcher, topic_status
from tests.factories import jpeg_with_gps, make_city, make_staff
from tests.outcomes.helpers import (
    ended_session,
    inputs,
    outcome_ids,
    published_session,
    resolved_by_handler,
)


async def test_a_handler_resolution_records_a_published_outcome(ctx: Context) -> None:
    city = await make_city(ctx)
    dispatcher = await county_dispatcher(ctx, city)
    r = await resolved_by_handler(ctx, city, dispatcher)
    view = await outcomes.public_outcome(ctx, r.outcome_id)
    assert (view.source, view.status, view.percent, view.flag) == (
        "handler",
        "published",
        100,
        "done",
    )
    assert view.decision == "已协调物业修好路灯"
    assert view.unit_name.startswith("城南街道办事处")
    assert [u["percent"] for u in view.updates] == [100]
    public = view.public()
    assert "topic_id" not in public and "version" not in public


async def test_progress_by_the_responsible_unit_up_to_completion(
    ctx: Context, settings: Settings
) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await published_session(ctx, city, host, n=1)
    (oid,) = await outcome_ids(ctx, s)
    handler = await make_staff(ctx, Role.HANDLER, city.county, username="zjj", unit_id=s.unit_id)
    view = await outcomes.staff_outcome(ctx, handler, oid)
    view = await outcomes.add_progress(
        ctx,
        handler,
        oid,
        version=view.version,
        percent=40,
        note="施工队已进场",
        photos=[Upload("site.jpg", jpeg_with_gps())],
    )
    assert view.percent == 40 and [u["percent"] for u in view.updates] == [40]
    (photo,) = view.updates[0]["photos"]
    data = await outcomes.outcome_photo(ctx, oid, photo["id"])
    assert data.startswith(b"\xff\xd8") and b"GPS" not in data  # re-encoded without EXIF
    assert len(files_under(settings.uploads_dir / "outcomes")) == 1
    ctx.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    done = await outcomes.add_progress(
        ctx, handler, oid, version=view.version, percent=100, note="电梯已投入使用"
    )
    assert (done.percent, done.flag) == (100, "done") and done.completed_at == ctx.clock.now()
    assert await topic_status(ctx, host, s.topic_ids[0]) is TopicStatus.RESOLVED
    # Resolving through the completion adds no second final update.
    assert [u["percent"] for u in done.updates] == [40, 100]


async def test_progress_refusals_change_nothing(ctx: Context, settings: Settings) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await ended_session(ctx, city, host, n=1)
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    await outcomes.save_minutes(
        ctx, host, s.deliberation_id, version=m.version, body=m.body, outcomes=inputs(ctx, s)
    )
    (oid,) = await outcome_ids(ctx, s)
    handler = await make_staff(ctx, Role.HANDLER, city.county, username="zjj", unit_id=s.unit_id)
    draft = await outcomes.staff_outcome(ctx, handler, oid)
    with pytest.raises(Conflict, match="not published"):
        await outcomes.add_progress(
            ctx, handler, oid, version=draft.version, percent=10, note="开工"
        )
    m = await outcomes.get_minutes(ctx, host, s.deliberation_id)
    await outcomes.publish_minutes(ctx, host, s.deliberation_id, version=m.version)
    view = await outcomes.staff_outcome(ctx, handler, oid)
    await outcomes.add_progress(ctx, handler, oid, version=view.version, percent=50, note="过半")
    view = await outcomes.staff_outcome(ctx, handler, oid)
    other_unit = await make_staff(ctx, Role.HANDLER, city.town, username="wrongunit")
    with pytest.raises(Forbidden, match="another unit"):
        await outcomes.add_progress(
            ctx, other_unit, oid, version=view.version, percent=60, note="x"
        )
    for percent in (30, 101, -1, "60", True, None):
        with pytest.raises(ValidationFailed) as refused:
            await outcomes.add_progress(
                ctx, handler, oid, version=view.version, percent=percent, note="进展说明"
            )
        assert "percent" in refused.value.fields
    with pytest.raises(ValidationFailed) as refused:
        await outcomes.add_progress(ctx, handler, oid, version=view.version, percent=60, note=" ")
    assert refused.value.fields == {"note": "Required."}
    with pytest.raises(StaleUpdate):
        await outcomes.add_progress(ctx, handler, oid, version=1, percent=60, note="进展说明")
    bad_photo = [Upload("x.jpg", b"not an image")]
    with pytest.raises(Exception, match="image"):
        await outcomes.add_progress(
            ctx, handler, oid, version=view.version, percent=60, note="进展说明", photos=bad_photo
        )
    after = await outcomes.staff_outcome(ctx, handler, oid)
    assert (after.percent, after.version, len(after.updates)) == (50, view.version, 1)
    assert files_under(settings.uploads_dir / "outcomes") == []


async def test_overdue_outcomes_are_flagged_and_listed(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await published_session(ctx, city, host, n=2)
    first, second = await outcome_ids(ctx, s)
    view = await outcomes.staff_outcome(ctx, host, first)
    assert view.flag == "ok"
    ctx.clock.advance(timedelta(days=28))  # type: ignore[attr-defined]
    assert (await outcomes.staff_outcome(ctx, host, first)).flag == "near"
    ctx.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert (await outcomes.staff_outcome(ctx, host, first)).flag == "overdue"
    await outcomes.add_progress(ctx, host, second, version=view.version, percent=100, note="完成")
    overdue = await outcomes.list_outcomes(ctx, host, overdue=True)
    assert [r.id for r in overdue] == [first]
    assert {r.id for r in await outcomes.list_outcomes(ctx, host)} == {first, second}
    outsider = await make_staff(ctx, Role.DISPATCHER, city.other_county, username="outsider")
    assert await outcomes.list_outcomes(ctx, outsider) == []
    handler = await make_staff(ctx, Role.HANDLER, city.county, username="zjj", unit_id=s.unit_id)
    assert {r.id for r in await outcomes.list_outcomes(ctx, handler)} == {first, second}


async def test_resolving_a_deliberated_topic_completes_its_outcome(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await published_session(ctx, city, host, n=1)
    (oid,) = await outcome_ids(ctx, s)
    detail = await topics.topic_detail(ctx, host, s.topic_ids[0])
    await topics.move_topic(
        ctx, host, s.topic_ids[0], TopicStatus.RESOLVED, version=detail.topic.version, note="已办结"
    )
    view = await outcomes.staff_outcome(ctx, host, oid)
    assert (view.percent, view.source) == (100, "deliberation")
    assert [u["note"] for u in view.updates] == ["已办结"]


async def test_the_unit_is_reminded_once_near_and_once_overdue(ctx: Context) -> None:
    city = await make_city(ctx)
    host = await county_dispatcher(ctx, city)
    s = await published_session(ctx, city, host, n=2)
    first, second = await outcome_ids(ctx, s)
    handler = await make_staff(ctx, Role.HANDLER, city.county, username="zjj", unit_id=s.unit_id)
    view = await outcomes.staff_outcome(ctx, host, second)
    await outcomes.add_progress(ctx, host, second, version=view.version, percent=100, note="完成")
    assert await outcomes.run_outcome_reminders(ctx) == 0
    ctx.clock.advance(timedelta(days=28))  # type: ignore[attr-defined]
    assert await outcomes.run_outcome_reminders(ctx) == 1
    assert await outcomes.run_outcome_reminders(ctx) == 0
    ctx.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert await outcomes.run_outcome_reminders(ctx) == 1
    assert await outcomes.run_outcome_reminders(ctx) == 0
    notes, unread = await deadlines.list_notifications(ctx, handler)
    assert unread == 2
    assert [(n.kind, n.data["outcome_id"]) for n in notes] == [
        ("outcome.overdue", first),
        ("outcome.near", first),
    ]
