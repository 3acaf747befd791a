"""Scheduling sessions and their life, with the agenda's topics moving along: every move
allowed and refused, stale versions, territory, and agendas that are refused whole."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.core.audit import AuditEntry
from server.core.auth import Principal, Role
from server.core.context import Context
from server.core.errors import (
    Forbidden,
    InvalidTransitionError,
    NotFound,
    StaleUpdate,
    ValidationFailed,
)
from server.core.notifier import RecordingNotifier
from server.deliberations.actions import public, room, schedule
from server.deliberations.actions.common import staff_identity
from server.deliberations.model import AGENDA_MAX, DeliberationStatus
from server.deliberations.tables import AgendaItem, Deliberation
from server.topics import actions as topics
from server.topics.actions import deadlines
from server.topics.model import TopicStatus
from server.topics.tables import TopicEvent
from tests.deliberations.helpers import (
    announced,
    county_dispatcher,
    draft,
    fields,
    key_topics,
    topic_status,
)
from tests.factories import City, make_city, make_staff

D = DeliberationStatus
S = TopicStatus


@pytest.fixture
async def city(ctx: Context) -> City:
    return await make_city(ctx)


@pytest.fixture
async def host(ctx: Context, city: City) -> Principal:
    return await county_dispatcher(ctx, city)


async def counts(ctx: Context) -> tuple[int, int, int]:
    """Sessions, agenda items and topic events: what a refusal must leave as it was."""
    async with ctx.db.read() as s:
        values = [
            await s.scalar(select(func.count()).select_from(table))
            for table in (Deliberation, AgendaItem, TopicEvent)
        ]
    return int(values[0] or 0), int(values[1] or 0), int(values[2] or 0)


async def test_create_a_draft_with_an_ordered_agenda(
    ctx: Context, city: City, host: Principal
) -> None:
    first, second = await key_topics(ctx, city, host)
    number = (await topics.topic_detail(ctx, host, second)).topic.number
    created = await draft(ctx, host, city, [second, first], title="  加装电梯议事会 ")
    assert created.status is D.DRAFT and created.version == 1
    assert created.title == "加装电梯议事会" and created.room_id == city.room.id
    assert [t.id for t in created.agenda] == [second, first]
    assert created.moves == (D.ANNOUNCED, D.CANCELLED)
    # The picker finds topics by number too, and the agenda keeps the order given.
    by_number = await schedule.set_agenda(
        ctx, host, created.id, version=1, topic_refs=[number.lower(), first]
    )
    assert [t.id for t in by_number.agenda] == [second, first] and by_number.version == 2
    assert await schedule.agenda(ctx, created.id) == [
        (second, number, by_number.agenda[0].title),
        (first, by_number.agenda[1].number, by_number.agenda[1].title),
    ]
    assert await topic_status(ctx, host, first) is S.ESCALATED  # a draft moves nothing
    with pytest.raises(NotFound):  # not public until announced
        await public.public_deliberation(ctx, created.id)
    async with ctx.db.read() as s:
        actions = list(await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["deliberation.create", "deliberation.agenda"]


async def test_the_whole_life_moves_the_agendas_topics_and_tells_everyone(
    ctx: Context, city: City, host: Principal, notifier: RecordingNotifier
) -> None:
    first, second = await key_topics(ctx, city, host)
    created = await draft(ctx, host, city, [first, second])
    notifier.sent.clear()
    view = await schedule.announce(ctx, host, created.id, version=created.version)
    assert view.status is D.ANNOUNCED and view.announced_at == ctx.clock.now()
    assert [await topic_status(ctx, host, t) for t in (first, second)] == [S.SCHEDULED] * 2
    assert [(e.event, e.payload["op"]) for e in notifier.sent] == [
        ("topic", "moved"),
        ("topic", "moved"),
        ("session", "state"),
    ]
    session_event = notifier.sent[-1]
    assert session_event.namespace == "/live"
    assert session_event.rooms == [f"deliberation:{created.id}"]
    assert session_event.payload["status"] == "announced"
    detail = await topics.topic_detail(ctx, host, first)
    last = detail.events[-1]
    assert (last.from_status, last.to_status, last.actor_id) == (
        S.ESCALATED,
        S.SCHEDULED,
        host.user_id,
    )
    assert "加装电梯协商议事会" in last.note and "党群服务中心二楼" in last.note
    assert last.public  # the submitter's timeline shows when it is deliberated

    ctx.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    live = await schedule.start(ctx, host, created.id, version=view.version)
    assert live.status is D.LIVE and live.started_at == ctx.clock.now()
    assert await topic_status(ctx, host, first) is S.SCHEDULED
    who = staff_identity(host, created.id)
    poll = await room.create_poll(
        ctx, who, question="同意按楼层分摊吗？", options=["同意", "不同意"]
    )
    await room.open_poll(ctx, who, poll.id)
    ended = await schedule.end(ctx, host, created.id)
    assert [p["status"] for p in await room.polls(ctx, who)] == ["closed"]
    assert ended.status is D.ENDED and ended.ended_at == ctx.clock.now()
    assert [await topic_status(ctx, host, t) for t in (first, second)] == [S.DELIBERATED] * 2
    assert ended.moves == ()  # publishing the minutes is the outcomes' business
    # The deliberated topics go on through the workflow as usual.
    detail = await topics.topic_detail(ctx, host, first)
    assert S.IMPLEMENTING in detail.moves


ILLEGAL = [
    (D.DRAFT, D.LIVE),
    (D.DRAFT, D.ENDED),
    (D.ANNOUNCED, D.ANNOUNCED),
    (D.ANNOUNCED, D.ENDED),
    (D.LIVE, D.ANNOUNCED),
    (D.LIVE, D.CANCELLED),
    (D.ENDED, D.LIVE),
    (D.ENDED, D.CANCELLED),
    (D.CANCELLED, D.ANNOUNCED),
    (D.CANCELLED, D.CANCELLED),
]


async def in_state(ctx: Context, host: Principal, city: City, state: DeliberationStatus) -> int:
    agenda = await key_topics(ctx, city, host, 1)
    created = await draft(ctx, host, city, agenda)
    path = {
        D.DRAFT: [],
        D.ANNOUNCED: [D.ANNOUNCED],
        D.LIVE: [D.ANNOUNCED, D.LIVE],
        D.ENDED: [D.ANNOUNCED, D.LIVE, D.ENDED],
        D.CANCELLED: [D.CANCELLED],
    }[state]
    for step in path:
        reason = "场地临时占用" if step is D.CANCELLED else ""
        await schedule.move(ctx, host, created.id, step, reason=reason)
    return created.id


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
async def test_illegal_moves_are_refused_naming_the_current_state(
    ctx: Context,
    city: City,
    host: Principal,
    current: DeliberationStatus,
    target: DeliberationStatus,
) -> None:
    deliberation_id = await in_state(ctx, host, city, current)
    before = await schedule.deliberation_detail(ctx, host, deliberation_id)
    with pytest.raises(InvalidTransitionError) as refused:
        await schedule.move(
            ctx, host, deliberation_id, target, reason="理由" if target is D.CANCELLED else ""
        )
    assert refused.value.fields == {"status": current}
    assert str(current) in refused.value.message
    after = await schedule.deliberation_detail(ctx, host, deliberation_id)
    assert after == before


async def test_a_stale_version_is_refused_and_the_newer_state_named(
    ctx: Context, city: City, host: Principal
) -> None:
    agenda = await key_topics(ctx, city, host, 1)
    created = await draft(ctx, host, city, agenda)
    await schedule.edit_deliberation(ctx, host, created.id, version=1, **fields(ctx, capacity=50))
    with pytest.raises(StaleUpdate) as stale:
        await schedule.edit_deliberation(ctx, host, created.id, version=1, **fields(ctx))
    assert stale.value.fields == {"status": "draft", "version": "2"}
    with pytest.raises(StaleUpdate):
        await schedule.set_agenda(ctx, host, created.id, version=1, topic_refs=agenda)
    with pytest.raises(StaleUpdate):
        await schedule.announce(ctx, host, created.id, version=1)
    view = await schedule.deliberation_detail(ctx, host, created.id)
    assert view.status is D.DRAFT and view.capacity == 50 and view.version == 2


async def test_editing_is_over_once_live(ctx: Context, city: City, host: Principal) -> None:
    deliberation_id = await in_state(ctx, host, city, D.LIVE)
    view = await schedule.deliberation_detail(ctx, host, deliberation_id)
    with pytest.raises(InvalidTransitionError) as refused:
        await schedule.edit_deliberation(
            ctx, host, deliberation_id, version=view.version, **fields(ctx)
        )
    assert refused.value.fields == {"status": "live"}
    with pytest.raises(InvalidTransitionError):
        await schedule.set_agenda(
            ctx, host, deliberation_id, version=view.version, topic_refs=[view.agenda[0].id]
        )


async def test_bad_fields_are_named_and_nothing_is_written(
    ctx: Context, city: City, host: Principal
) -> None:
    before = await counts(ctx)
    with pytest.raises(ValidationFailed) as refused:
        await draft(ctx, host, city, [], title="", capacity=0, moderation="loud")
    assert set(refused.value.fields) == {"title", "capacity", "moderation"}
    with pytest.raises(ValidationFailed) as past:
        await draft(
            ctx,
            host,
            city,
            [],
            starts_at=ctx.clock.now() - timedelta(hours=1),
            ends_at=ctx.clock.now() + timedelta(hours=1),
        )
    assert set(past.value.fields) == {"starts_at"}
    with pytest.raises(ValidationFailed) as no_room:
        await schedule.create_deliberation(ctx, host, room_id=9999, **fields(ctx))
    assert set(no_room.value.fields) == {"room_id"}
    assert await counts(ctx) == before


async def test_hosts_act_only_in_their_territory(ctx: Context, city: City, host: Principal) -> None:
    agenda = await key_topics(ctx, city, host, 1)
    created = await draft(ctx, host, city, agenda)
    other = await make_staff(ctx, Role.DISPATCHER, city.other_county, username="other")
    chief = await make_staff(ctx, Role.ROOM_CHIEF, city.community, username="chief")
    handler = await make_staff(ctx, Role.HANDLER, city.town, username="handler")
    with pytest.raises(Forbidden):
        await schedule.create_deliberation(ctx, other, room_id=city.room.id, **fields(ctx))
    with pytest.raises(Forbidden):
        await schedule.create_deliberation(ctx, chief, room_id=city.other_room.id, **fields(ctx))
    with pytest.raises(Forbidden):
        await schedule.create_deliberation(ctx, handler, room_id=city.room.id, **fields(ctx))
    for act in (
        schedule.deliberation_detail(ctx, other, created.id),
        schedule.announce(ctx, other, created.id),
        schedule.edit_deliberation(ctx, other, created.id, version=1, **fields(ctx)),
    ):
        with pytest.raises(Forbidden):
            await act
    assert [d.id for d in (await schedule.list_deliberations(ctx, other)).items] == []
    # The room's chief hosts its sessions.
    assert (await schedule.announce(ctx, chief, created.id)).status is D.ANNOUNCED
    assert [d.id for d in (await schedule.list_deliberations(ctx, chief)).items] == [created.id]
    with pytest.raises(NotFound):
        await schedule.announce(ctx, host, 9999)


async def test_an_agenda_with_a_topic_that_is_not_key_is_refused_whole(
    ctx: Context, city: City, host: Principal
) -> None:
    key = await key_topics(ctx, city, host, 1)
    assigned = await key_topics(ctx, city, host, 1, escalate=False)
    created = await draft(ctx, host, city, key)
    before = await counts(ctx)
    number = (await topics.topic_detail(ctx, host, assigned[0])).topic.number
    with pytest.raises(ValidationFailed) as refused:
        await schedule.set_agenda(ctx, host, created.id, version=1, topic_refs=[*key, number])
    assert refused.value.fields == {"agenda": f"{number} is assigned."}
    with pytest.raises(ValidationFailed):
        await draft(ctx, host, city, [*key, *assigned])
    for bad, field in (
        ([*key, "HA2026-999999"], "Unknown: HA2026-999999."),
        ([*key, *key], "Each once."),
        ([], "Required."),
    ):
        with pytest.raises(ValidationFailed) as refused:
            await schedule.set_agenda(ctx, host, created.id, version=1, topic_refs=bad)
        assert refused.value.fields == {"agenda": field}
    with pytest.raises(ValidationFailed) as too_many:
        await schedule.set_agenda(
            ctx, host, created.id, version=1, topic_refs=list(range(1, AGENDA_MAX + 2))
        )
    assert "agenda" in too_many.value.fields
    assert await counts(ctx) == before
    assert [t.id for t in (await schedule.deliberation_detail(ctx, host, created.id)).agenda] == key


async def test_an_agenda_topic_outside_the_territory_is_forbidden(
    ctx: Context, city: City, host: Principal
) -> None:
    admin = await make_staff(ctx, Role.ADMIN, city.city, username="admin")
    elsewhere = await key_topics(ctx, city, admin, 1, room=city.other_room)
    chief = await make_staff(ctx, Role.ROOM_CHIEF, city.community, username="chief")
    before = await counts(ctx)
    for actor in (host, chief):
        with pytest.raises(Forbidden):
            await draft(ctx, actor, city, elsewhere)
    assert await counts(ctx) == before
    with pytest.raises(Forbidden):
        number = (await topics.topic_detail(ctx, admin, elsewhere[0])).topic.number
        await schedule.find_agenda_topic(ctx, host, number)


async def test_the_picker_says_why_a_topic_may_not_go_on(
    ctx: Context, city: City, host: Principal
) -> None:
    (key,) = await key_topics(ctx, city, host, 1)
    (assigned,) = await key_topics(ctx, city, host, 1, escalate=False)
    numbers = [(await topics.topic_detail(ctx, host, t)).topic.number for t in (key, assigned)]
    ok = await schedule.find_agenda_topic(ctx, host, numbers[0].lower())
    assert ok.topic.id == key and ok.problem == ""
    refused = await schedule.find_agenda_topic(ctx, host, numbers[1])
    assert refused.problem == f"{numbers[1]} is assigned: not a key topic."
    with pytest.raises(NotFound):
        await schedule.find_agenda_topic(ctx, host, "HA2026-999999")


async def test_announcing_needs_an_agenda_and_a_start_ahead(
    ctx: Context, city: City, host: Principal
) -> None:
    empty = await draft(ctx, host, city, [])
    with pytest.raises(ValidationFailed) as no_agenda:
        await schedule.announce(ctx, host, empty.id)
    assert no_agenda.value.fields == {"agenda": "Required."}
    agenda = await key_topics(ctx, city, host, 1)
    soon = await draft(ctx, host, city, agenda)
    ctx.clock.advance(timedelta(days=4))  # type: ignore[attr-defined]
    with pytest.raises(ValidationFailed) as late:
        await schedule.announce(ctx, host, soon.id)
    assert late.value.fields == {"starts_at": "In the future."}
    assert await topic_status(ctx, host, agenda[0]) is S.ESCALATED


async def test_announcing_refuses_a_topic_that_left_the_key_states(
    ctx: Context, city: City, host: Principal
) -> None:
    first, second = await key_topics(ctx, city, host)
    created = await draft(ctx, host, city, [first, second])
    await topics.move_topic(ctx, host, second, S.RESOLVED, version=5, note="已由住建局直接解决")
    with pytest.raises(ValidationFailed) as refused:
        await schedule.announce(ctx, host, created.id)
    assert "agenda" in refused.value.fields
    assert await topic_status(ctx, host, first) is S.ESCALATED


async def test_cancelling_needs_a_reason_and_sends_scheduled_topics_back(
    ctx: Context, city: City, host: Principal
) -> None:
    first, second = await key_topics(ctx, city, host)
    view = await announced(ctx, host, city, [first, second])
    with pytest.raises(ValidationFailed) as refused:
        await schedule.cancel(ctx, host, view.id, reason="  ")
    assert refused.value.fields == {"reason": "Required."}
    with pytest.raises(ValidationFailed):
        await schedule.move(ctx, host, view.id, D.LIVE, reason="开始不需要理由")
    cancelled = await schedule.cancel(ctx, host, view.id, reason="场地临时占用，另行通知")
    assert cancelled.status is D.CANCELLED and cancelled.cancel_reason == "场地临时占用，另行通知"
    assert [await topic_status(ctx, host, t) for t in (first, second)] == [S.ESCALATED] * 2
    last = (await topics.topic_detail(ctx, host, first)).events[-1]
    assert (last.from_status, last.to_status) == (S.SCHEDULED, S.ESCALATED)
    assert "场地临时占用" in last.note
    # Its escalated deadline still runs: one open resolve_escalated stage, not two.
    async with ctx.db.read() as s:
        running = await deadlines.topic_deadlines(ctx, s, first)
    assert [d.stage for d in running if d.closed_at is None].count("resolve_escalated") == 1
    page = await public.public_deliberation(ctx, view.id)
    assert page.status is D.CANCELLED and page.cancel_reason == "场地临时占用，另行通知"
    with pytest.raises(InvalidTransitionError):
        await schedule.cancel(ctx, host, view.id, reason="再取消一次")


async def test_cancelling_a_draft_leaves_its_topics_alone(
    ctx: Context, city: City, host: Principal
) -> None:
    (topic,) = await key_topics(ctx, city, host, 1)
    created = await draft(ctx, host, city, [topic])
    await topics.move_topic(ctx, host, topic, S.SCHEDULED, version=5, note="另有安排")
    await schedule.cancel(ctx, host, created.id, reason="重复创建")
    assert await topic_status(ctx, host, topic) is S.SCHEDULED
    with pytest.raises(NotFound):  # never announced, never public
        await public.public_deliberation(ctx, created.id)


async def test_a_topic_on_two_sessions_stays_scheduled_while_one_still_holds_it(
    ctx: Context, city: City, host: Principal
) -> None:
    (topic,) = await key_topics(ctx, city, host, 1)
    first = await announced(ctx, host, city, [topic])
    second = await announced(ctx, host, city, [topic], title="第二轮协商")
    await schedule.cancel(ctx, host, first.id, reason="合并到第二轮")
    assert await topic_status(ctx, host, topic) is S.SCHEDULED
    await schedule.cancel(ctx, host, second.id, reason="改期")
    assert await topic_status(ctx, host, topic) is S.ESCALATED


async def test_changing_an_announced_agenda_moves_the_topics_in_and_out(
    ctx: Context, city: City, host: Principal
) -> None:
    first, second = await key_topics(ctx, city, host)
    view = await announced(ctx, host, city, [first])
    changed = await schedule.set_agenda(
        ctx, host, view.id, version=view.version, topic_refs=[second]
    )
    assert [t.id for t in changed.agenda] == [second]
    assert await topic_status(ctx, host, first) is S.ESCALATED
    assert await topic_status(ctx, host, second) is S.SCHEDULED


async def test_a_failing_topic_move_leaves_the_session_as_it_was(
    ctx: Context, city: City, host: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = await key_topics(ctx, city, host)
    created = await draft(ctx, host, city, [first, second])
    before = await counts(ctx)
    calls: list[Any] = []

    async def broken(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the second topic's deadlines could not be written")

    monkeypatch.setattr(deadlines, "apply_plan", broken)
    with pytest.raises(RuntimeError):
        await schedule.announce(ctx, host, created.id)
    assert len(calls) == 2
    assert (await schedule.deliberation_detail(ctx, host, created.id)).status is D.DRAFT
    assert [await topic_status(ctx, host, t) for t in (first, second)] == [S.ESCALATED] * 2
    assert await counts(ctx) == before


async def test_the_staff_list_is_the_territorys_latest_first(
    ctx: Context, city: City, host: Principal
) -> None:
    agenda = await key_topics(ctx, city, host, 1)
    early = await draft(ctx, host, city, agenda)
    late = await announced(
        ctx,
        host,
        city,
        agenda,
        starts_at=ctx.clock.now() + timedelta(days=9),
        ends_at=ctx.clock.now() + timedelta(days=9, hours=1),
    )
    listed = await schedule.list_deliberations(ctx, host)
    assert [d.id for d in listed.items] == [late.id, early.id] and listed.total == 2
    only = await schedule.list_deliberations(ctx, host, statuses=(D.DRAFT,))
    assert [d.id for d in only.items] == [early.id]
    assert [t.id for t in listed.items[0].agenda] == agenda
