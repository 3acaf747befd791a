"""Supervised deadlines on topics: stages, pauses, extensions, reminders, notifications."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal, Role
from server.core.clock import LOCAL_TZ, FakeClock
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, ValidationFailed
from server.core.notifier import RecordingNotifier
from server.core.webhook import SIGNATURE_HEADER, signature
from server.topics import actions
from server.topics.actions import deadlines, handling
from server.topics.model import TopicStatus
from server.topics.supervision import Flag, Outcome, Stage
from tests.conftest import context_for, make_settings
from tests.factories import City, make_city, make_staff, submit


def stages(detail: actions.TopicDetail) -> dict[str, tuple[Flag | None, Outcome | None]]:
    return {f"{d.stage}#{i}": (d.flag, d.outcome) for i, d in enumerate(detail.deadlines)}


def open_stage(detail: actions.TopicDetail, stage: Stage) -> deadlines.DeadlineView:
    (found,) = [d for d in detail.deadlines if d.stage is stage and d.closed_at is None]
    return found


async def assigned(ctx: Context, city: City) -> tuple[int, Principal, Principal]:
    """A topic accepted and assigned to a town unit; (id, dispatcher, handler). Its
    tracking token is kept in TOKENS."""
    unit = await accounts.create_unit(
        ctx, None, name="城南街道办", kind=UnitKind.TOWN, region_id=city.town.id
    )
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    handler = await make_staff(ctx, Role.HANDLER, city.town, unit_id=unit.id)
    done = await submit(ctx, city.room)
    TOKENS[done.topic_id] = done.tracking_token
    await actions.move_topic(ctx, dispatcher, done.topic_id, TopicStatus.ACCEPTED, version=1)
    relay = await accounts.create_unit(
        ctx, None, name="清河区中转", kind=UnitKind.RELAY, region_id=city.county.id
    )
    await actions.route_topic(ctx, dispatcher, done.topic_id, version=2, unit_id=relay.id)
    await actions.route_topic(ctx, dispatcher, done.topic_id, version=3, unit_id=unit.id)
    RELAYS[done.topic_id] = relay.id
    return done.topic_id, dispatcher, handler


TOKENS: dict[int, str] = {}
RELAYS: dict[int, int] = {}


async def test_a_new_topic_must_be_accepted_within_a_working_day(
    ctx: Context, clock: FakeClock
) -> None:
    city = await make_city(ctx)
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    done = await submit(ctx, city.room)  # Monday 2 March 2026, 09:00 in China
    detail = await actions.topic_detail(ctx, dispatcher, done.topic_id)
    accept = open_stage(detail, Stage.ACCEPT)
    assert accept.due_at.astimezone(LOCAL_TZ).date() == date(2026, 3, 3)
    assert accept.flag is Flag.NEAR  # one working day left: yellow from the start
    assert detail.topic.flag == Flag.NEAR
    clock.advance(timedelta(days=2))  # Wednesday: overdue
    late = await actions.topic_detail(ctx, dispatcher, done.topic_id)
    assert late.topic.flag == Flag.OVERDUE
    await actions.move_topic(ctx, dispatcher, done.topic_id, TopicStatus.ACCEPTED, version=1)
    after = await actions.topic_detail(ctx, dispatcher, done.topic_id)
    (closed,) = after.deadlines
    assert closed.outcome is Outcome.LATE and closed.flag is None
    assert after.topic.flag is None


async def test_moves_open_and_close_the_stages(ctx: Context, clock: FakeClock) -> None:
    city = await make_city(ctx)
    topic_id, dispatcher, handler = await assigned(ctx, city)
    detail = await actions.topic_detail(ctx, handler, topic_id)
    assert [(d.stage, d.outcome) for d in detail.deadlines] == [
        (Stage.ACCEPT, Outcome.MET),
        (Stage.CONTACT, None),
        (Stage.RESOLVE_INDIVIDUAL, None),
    ]
    assert open_stage(detail, Stage.CONTACT).unit_id == handler.unit_id
    assert open_stage(detail, Stage.CONTACT).due_at.astimezone(LOCAL_TZ).date() == date(2026, 3, 5)
    resolve_due = open_stage(detail, Stage.RESOLVE_INDIVIDUAL).due_at.astimezone(LOCAL_TZ)
    assert resolve_due.date() == date(2026, 3, 23)  # 15 working days
    await handling.record_contact(ctx, handler, topic_id, method="phone", note="约了周三上门")
    await actions.move_topic(ctx, handler, topic_id, TopicStatus.HANDLING, version=4)
    housing = await accounts.create_unit(
        ctx, None, name="清河区住建局", kind=UnitKind.DEPARTMENT, region_id=city.county.id
    )
    park = await accounts.create_unit(
        ctx, None, name="园区建设局", kind=UnitKind.DEPARTMENT, region_id=city.other_county.id
    )
    with pytest.raises(ValidationFailed):  # who leads it must be named
        await actions.move_topic(ctx, dispatcher, topic_id, TopicStatus.ESCALATED, version=5)
    with pytest.raises(ValidationFailed):  # a relay does not lead
        await actions.move_topic(
            ctx,
            dispatcher,
            topic_id,
            TopicStatus.ESCALATED,
            version=5,
            lead="王局长",
            unit_id=RELAYS[topic_id],
        )
    with pytest.raises(Forbidden):  # nor does a department of another county
        await actions.move_topic(
            ctx,
            dispatcher,
            topic_id,
            TopicStatus.ESCALATED,
            version=5,
            lead="园区李局长",
            unit_id=park.id,
        )
    with pytest.raises(ValidationFailed):  # only escalations name a lead
        await actions.move_topic(
            ctx, dispatcher, topic_id, TopicStatus.RESOLVED, version=5, note="好了", lead="王局长"
        )
    escalated = await actions.move_topic(
        ctx,
        dispatcher,
        topic_id,
        TopicStatus.ESCALATED,
        version=5,
        lead="区住建局 王局长",
        unit_id=housing.id,
    )
    assert (escalated.lead, escalated.unit_id) == ("区住建局 王局长", housing.id)
    lead_staff = await make_staff(
        ctx, Role.HANDLER, city.county, username="lead", unit_id=housing.id
    )
    detail = await actions.topic_detail(ctx, lead_staff, topic_id)
    assert open_stage(detail, Stage.RESOLVE_ESCALATED).unit_id == housing.id
    assert [(d.stage, d.outcome) for d in detail.deadlines][1:] == [
        (Stage.CONTACT, Outcome.MET),
        (Stage.RESOLVE_INDIVIDUAL, Outcome.CANCELLED),
        (Stage.RESOLVE_ESCALATED, None),
    ]
    clock.advance(timedelta(days=1))
    await handling.resolve_topic(
        ctx, lead_staff, topic_id, version=6, result="已协调物业修好楼道灯"
    )
    detail = await actions.topic_detail(ctx, dispatcher, topic_id)
    assert all(d.closed_at is not None for d in detail.deadlines)
    assert detail.deadlines[-1].outcome is Outcome.MET
    await actions.move_topic(
        ctx, dispatcher, topic_id, TopicStatus.REOPENED, version=7, note="居民回访不满意"
    )
    reopened = await actions.topic_detail(ctx, dispatcher, topic_id)
    assert open_stage(reopened, Stage.RESOLVE_INDIVIDUAL).started_at == clock.now()


async def test_sending_back_to_a_relay_cancels_the_units_stages(ctx: Context) -> None:
    city = await make_city(ctx)
    topic_id, dispatcher, _handler = await assigned(ctx, city)
    await actions.route_topic(ctx, dispatcher, topic_id, version=4, unit_id=RELAYS[topic_id])
    detail = await actions.topic_detail(ctx, dispatcher, topic_id)
    assert [d.outcome for d in detail.deadlines] == [
        Outcome.MET,
        Outcome.CANCELLED,
        Outcome.CANCELLED,
    ]


async def test_pausing_stops_the_clock_and_resuming_pushes_the_deadline_back(
    ctx: Context, clock: FakeClock
) -> None:
    city = await make_city(ctx)
    topic_id, _dispatcher, handler = await assigned(ctx, city)
    before = open_stage(await actions.topic_detail(ctx, handler, topic_id), Stage.CONTACT)
    await handling.pause_topic(ctx, handler, topic_id, reason="等待居民补充材料")
    paused = await actions.topic_detail(ctx, handler, topic_id)
    assert open_stage(paused, Stage.CONTACT).flag is Flag.PAUSED
    assert paused.topic.flag == Flag.PAUSED
    with pytest.raises(Conflict):
        await handling.pause_topic(ctx, handler, topic_id, reason="再暂停一次")
    clock.advance(timedelta(days=7))  # a whole week: 5 working days
    await handling.resume_topic(ctx, handler, topic_id)
    after = open_stage(await actions.topic_detail(ctx, handler, topic_id), Stage.CONTACT)
    assert after.paused_days == 5 and after.flag is not Flag.PAUSED
    assert after.due_at - before.due_at == timedelta(days=7)  # Thu 5 Mar -> Thu 12 Mar
    with pytest.raises(Conflict):
        await handling.resume_topic(ctx, handler, topic_id)
    kinds = [e.kind for e in (await actions.topic_detail(ctx, handler, topic_id)).events]
    assert kinds[-2:] == ["pause", "resume"]
    tracked = (await actions.track_topic(ctx, TOKENS[topic_id])).timeline
    assert [(e.kind, e.note) for e in tracked][-2:] == [
        ("pause", "等待居民补充材料"),
        ("resume", ""),
    ]


async def test_bad_pauses_and_extensions_change_nothing(ctx: Context) -> None:
    city = await make_city(ctx)
    topic_id, dispatcher, handler = await assigned(ctx, city)
    before = await actions.topic_detail(ctx, dispatcher, topic_id)
    with pytest.raises(ValidationFailed):
        await handling.pause_topic(ctx, handler, topic_id, reason=" ")
    with pytest.raises(ValidationFailed):
        await handling.request_extension(ctx, handler, topic_id, days=0, reason="人手不够")
    with pytest.raises(ValidationFailed):
        await handling.request_extension(ctx, handler, topic_id, days=31, reason="人手不够")
    with pytest.raises(ValidationFailed):
        await handling.request_extension(ctx, handler, topic_id, days=3, reason="")
    with pytest.raises(ValidationFailed):
        await handling.request_extension(
            ctx, handler, topic_id, days=3, reason="人手不够", stage="forever"
        )
    with pytest.raises(Conflict):  # acceptance is already done
        await handling.request_extension(
            ctx, handler, topic_id, days=3, reason="人手不够", stage="accept"
        )
    after = await actions.topic_detail(ctx, dispatcher, topic_id)
    assert after.deadlines == before.deadlines and after.events == before.events


async def test_extensions_need_someone_elses_approval(ctx: Context) -> None:
    city = await make_city(ctx)
    topic_id, dispatcher, handler = await assigned(ctx, city)
    other = await make_staff(ctx, Role.DISPATCHER, city.county, username="second")
    due = open_stage(await actions.topic_detail(ctx, handler, topic_id), Stage.RESOLVE_INDIVIDUAL)
    await handling.request_extension(ctx, handler, topic_id, days=3, reason="需协调供电公司")
    with pytest.raises(Conflict):  # one request at a time
        await handling.request_extension(ctx, handler, topic_id, days=2, reason="再申请")
    detail = await actions.topic_detail(ctx, dispatcher, topic_id)
    (ext,) = open_stage(detail, Stage.RESOLVE_INDIVIDUAL).extensions
    assert ext.status == "requested" and ext.days == 3
    with pytest.raises(Forbidden):  # a handler is not a supervisor
        await handling.decide_extension(ctx, handler, topic_id, ext.id, approve=True)
    # The dispatchers of the region were told; the requester was not.
    told, _ = await deadlines.list_notifications(ctx, dispatcher)
    assert [n.kind for n in told] == ["extension.requested"]
    assert (await deadlines.list_notifications(ctx, handler))[0] == []
    await handling.decide_extension(ctx, dispatcher, topic_id, ext.id, approve=True, note="同意")
    with pytest.raises(Conflict):
        await handling.decide_extension(ctx, other, topic_id, ext.id, approve=False)
    after = open_stage(await actions.topic_detail(ctx, handler, topic_id), Stage.RESOLVE_INDIVIDUAL)
    assert after.extension_days == 3
    assert after.due_at.date() - due.due_at.date() == timedelta(days=3)  # Mon 23 -> Thu 26
    notes, unread = await deadlines.list_notifications(ctx, handler)
    assert [n.kind for n in notes] == ["extension.approved"] and unread == 1
    # A dispatcher's own request must be decided by another.
    await handling.request_extension(ctx, dispatcher, topic_id, days=1, reason="再等一天")
    (_, mine) = open_stage(
        await actions.topic_detail(ctx, dispatcher, topic_id), Stage.RESOLVE_INDIVIDUAL
    ).extensions
    with pytest.raises(Forbidden):
        await handling.decide_extension(ctx, dispatcher, topic_id, mine.id, approve=True)
    await handling.decide_extension(ctx, other, topic_id, mine.id, approve=False, note="不同意")
    final = open_stage(await actions.topic_detail(ctx, handler, topic_id), Stage.RESOLVE_INDIVIDUAL)
    assert final.extension_days == 3 and [e.status for e in final.extensions] == [
        "approved",
        "denied",
    ]


async def test_reminders_go_once_per_flag_to_the_responsible_staff(
    ctx: Context, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    city = await make_city(ctx)
    _topic_id, dispatcher, handler = await assigned(ctx, city)
    bystander = await make_staff(ctx, Role.HANDLER, city.town, username="bystander")
    far = await make_staff(ctx, Role.DISPATCHER, city.other_county, username="far")
    # Monday: contact is due Thursday 5 March; with one working day of warning it turns
    # yellow on Wednesday. Acceptance is done, resolution is weeks away.
    assert await deadlines.run_reminders(ctx) == 0
    notifier.sent.clear()
    clock.advance(timedelta(days=2))  # Wednesday: contact is near
    assert await deadlines.run_reminders(ctx) == 1
    assert await deadlines.run_reminders(ctx) == 0  # once
    notes, unread = await deadlines.list_notifications(ctx, handler)
    assert (notes[0].kind, notes[0].data["stage"]) == ("deadline.near", "contact")
    assert unread >= 1
    pushed = [s for s in notifier.sent if s.event == "notification"]
    assert pushed and pushed[0].rooms == [f"user:{handler.user_id}"]
    assert (await deadlines.list_notifications(ctx, bystander))[0] == []
    assert (await deadlines.list_notifications(ctx, far))[0] == []
    clock.advance(timedelta(days=2))  # Friday: contact is overdue
    assert await deadlines.run_reminders(ctx) == 1
    notes, _ = await deadlines.list_notifications(ctx, handler)
    assert notes[0].kind == "deadline.overdue"
    assert await deadlines.run_reminders(ctx) == 0
    # Read them: the count drops; someone else's ids are not theirs to mark.
    assert await deadlines.mark_read(ctx, dispatcher, [n.id for n in notes]) == 0
    assert await deadlines.mark_read(ctx, handler, [notes[0].id]) == 1
    assert await deadlines.mark_read(ctx, handler, None) == len(notes) - 1
    assert (await deadlines.list_notifications(ctx, handler))[1] == 0


async def test_the_acceptance_reminder_goes_to_the_regions_dispatchers(
    ctx: Context, clock: FakeClock
) -> None:
    city = await make_city(ctx)
    county = await make_staff(ctx, Role.DISPATCHER, city.county)
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    park = await make_staff(ctx, Role.DISPATCHER, city.other_county)
    handler = await make_staff(ctx, Role.HANDLER, city.town)
    await submit(ctx, city.room)
    assert await deadlines.run_reminders(ctx) == 1  # due tomorrow: near at once
    for who, expected in ((county, 1), (admin, 1), (park, 0), (handler, 0)):
        assert len((await deadlines.list_notifications(ctx, who))[0]) == expected, who.username
    clock.advance(timedelta(days=3))
    assert await deadlines.run_reminders(ctx) == 1
    assert (await deadlines.list_notifications(ctx, county))[0][0].kind == "deadline.overdue"


async def test_two_processes_sweeping_at_once_send_each_reminder_once(
    ctx: Context, settings: Any, clock: FakeClock
) -> None:
    city = await make_city(ctx)
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    for _ in range(3):
        await submit(ctx, city.room)
    async with context_for(settings, clock) as other:
        sent = await asyncio.gather(deadlines.run_reminders(ctx), deadlines.run_reminders(other))
    assert sum(sent) == 3
    assert len((await deadlines.list_notifications(ctx, dispatcher))[0]) == 3


async def test_reminders_are_posted_to_the_webhook_signed(
    tmp_path: Any, database_url: str, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    received: list[tuple[dict[str, Any], str]] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        received.append((json.loads(body), request.headers.get(SIGNATURE_HEADER, "")))
        assert request.headers[SIGNATURE_HEADER] == signature("s3cret", body)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with TestServer(app) as server:
        settings = make_settings(
            tmp_path,
            database_url,
            WEBHOOK_URL=str(server.make_url("/hook")),
            WEBHOOK_SECRET="s3cret",
        )
        async with context_for(settings, clock, notifier) as hooked:
            city = await make_city(hooked)
            await make_staff(hooked, Role.DISPATCHER, city.county)
            done = await submit(hooked, city.room)
            assert await deadlines.run_reminders(hooked) == 1
    ((payload, sig),) = received
    assert payload["event"] == "deadline.near" and payload["topic_id"] == done.topic_id
    assert payload["number"] == done.number and payload["stage"] == "accept"
    assert sig.startswith("sha256=")


async def test_a_webhook_that_is_down_does_not_stop_the_reminders(
    tmp_path: Any, database_url: str, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    settings = make_settings(tmp_path, database_url, WEBHOOK_URL="http://127.0.0.1:9/hook")
    async with context_for(settings, clock, notifier) as down:
        city = await make_city(down)
        dispatcher = await make_staff(down, Role.DISPATCHER, city.county)
        await submit(down, city.room)
        assert await deadlines.run_reminders(down) == 1
        assert len((await deadlines.list_notifications(down, dispatcher))[0]) == 1


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEADLINE_DAYS", "accept=0", "DEADLINE_DAYS"),
        ("DEADLINE_DAYS", "accept", "DEADLINE_DAYS"),
        ("HOLIDAYS", "2026-13-01", "HOLIDAYS"),
        ("WEBHOOK_URL", "ftp://example.cn/hook", "WEBHOOK_URL"),
        ("SIMILAR_THRESHOLD", "0", "SIMILAR_THRESHOLD"),
        ("CLUSTER_MIN_ROOMS", "0", "CLUSTER_MIN_ROOMS"),
    ],
)
def test_bad_supervision_settings_are_named(
    tmp_path: Any, name: str, value: str, message: str
) -> None:
    from server.settings import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_settings(tmp_path, "sqlite:///x.db", **{name: value})


def test_an_unknown_stage_stops_the_app(tmp_path: Any) -> None:
    from server.app import create_app
    from server.settings import ConfigError

    settings = make_settings(tmp_path, "sqlite:///x.db", DEADLINE_DAYS="acept=2")
    with pytest.raises(ConfigError, match="unknown stage 'acept'"):
        create_app(settings)


async def test_policy_and_calendar_come_from_settings(
    tmp_path: Any, database_url: str, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    # Tuesday 3 March is declared a holiday; acceptance gets 2 working days.
    settings = make_settings(
        tmp_path, database_url, DEADLINE_DAYS="accept=2", HOLIDAYS="2026-03-03"
    )
    async with context_for(settings, clock, notifier) as custom:
        city = await make_city(custom)
        dispatcher = await make_staff(custom, Role.DISPATCHER, city.county)
        done = await submit(custom, city.room)
        detail = await actions.topic_detail(custom, dispatcher, done.topic_id)
        due = open_stage(detail, Stage.ACCEPT).due_at.astimezone(LOCAL_TZ).date()
        assert due == date(2026, 3, 5)  # Wed 4 and Thu 5
