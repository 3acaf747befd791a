"""Sign-up (报名): seats then the waiting list, concurrency for the last seat, cancelling
and promotion, check-in and the attendance list."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.core.auth import Principal, Role
from server.core.clock import FakeClock
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from server.core.notifier import RecordingNotifier
from server.deliberations.actions import public, schedule, signup
from server.deliberations.actions.signup import SignUp
from server.deliberations.model import AttendeeKind, RegistrationStatus
from server.deliberations.tables import Registration
from server.settings import Settings
from tests.conftest import context_for
from tests.deliberations.helpers import announced, county_dispatcher, draft, fields, key_topics
from tests.factories import City, make_city, make_staff

R = RegistrationStatus


@pytest.fixture
async def city(ctx: Context) -> City:
    return await make_city(ctx)


@pytest.fixture
async def host(ctx: Context, city: City) -> Principal:
    return await county_dispatcher(ctx, city)


async def session_with(ctx: Context, city: City, host: Principal, capacity: int) -> int:
    agenda = await key_topics(ctx, city, host, 1)
    return (await announced(ctx, host, city, agenda, capacity=capacity)).id


def person(name: str = "张阿姨", phone: str = "", kind: str = "resident") -> SignUp:
    return SignUp(name=name, kind=kind, phone=phone, consent=True)


async def sign_up(ctx: Context, deliberation_id: int, name: str, **kw: str) -> signup.Registered:
    return await signup.register(
        ctx, deliberation_id, person(name, **kw), device_id=f"dev-{name}", ip="192.0.2.7"
    )


async def test_seats_then_the_waiting_list(
    ctx: Context, city: City, host: Principal, notifier: RecordingNotifier
) -> None:
    deliberation_id = await session_with(ctx, city, host, capacity=2)
    notifier.sent.clear()
    first = await sign_up(ctx, deliberation_id, "张三", phone="138 1234 5678", kind="party_member")
    assert first.view.attendee.status is R.REGISTERED and first.view.attendee.position is None
    assert first.view.attendee.phone_masked == "138****5678"
    assert first.url == f"https://msy.example.cn/signup/{first.token}"
    assert first.view.checkin_url == f"https://msy.example.cn/checkin/{first.token}"
    assert len(first.token) >= 32
    await sign_up(ctx, deliberation_id, "李四")
    third = await sign_up(ctx, deliberation_id, "王五")
    fourth = await sign_up(ctx, deliberation_id, "赵六")
    assert third.view.attendee.status is R.WAITLISTED and third.view.attendee.position == 1
    assert fourth.view.attendee.position == 2
    page = await public.public_deliberation(ctx, deliberation_id)
    assert (page.seats_left, page.waitlist) == (0, 2)
    last = notifier.sent[-1]
    assert (last.event, last.namespace, last.rooms) == (
        "attendance",
        "/live",
        [f"deliberation:{deliberation_id}:staff"],
    )
    assert last.payload == {
        "type": "attendance",
        "op": "counts",
        "deliberation_id": deliberation_id,
        "registered": 2,
        "waitlisted": 2,
        "checked_in": 0,
    }
    assert len(notifier.sent) == 4  # one per sign-up
    async with ctx.db.read() as s:  # only the token's digest is kept
        digests = list(await s.scalars(select(Registration.token_digest)))
    assert first.token not in digests and all(len(d) == 64 for d in digests)


async def test_bad_sign_ups_name_the_fields_and_store_nothing(
    ctx: Context, city: City, host: Principal
) -> None:
    deliberation_id = await session_with(ctx, city, host, capacity=5)
    with pytest.raises(ValidationFailed) as refused:
        await signup.register(
            ctx, deliberation_id, SignUp(name=" ", kind="alien", phone="12345", consent=False)
        )
    assert set(refused.value.fields) == {"name", "kind", "phone", "consent"}
    with pytest.raises(ValidationFailed) as long_name:
        await signup.register(ctx, deliberation_id, person("长" * 31))
    assert set(long_name.value.fields) == {"name"}
    async with ctx.db.read() as s:
        assert await s.scalar(select(func.count(Registration.id))) == 0


async def test_sign_up_is_open_only_while_announced_or_live(
    ctx: Context, city: City, host: Principal, clock: FakeClock
) -> None:
    agenda = await key_topics(ctx, city, host, 1)
    hidden = await draft(ctx, host, city, agenda)
    with pytest.raises(NotFound):
        await signup.register(ctx, hidden.id, person())
    with pytest.raises(NotFound):
        await signup.register(ctx, 9999, person())
    open_one = await announced(ctx, host, city, agenda)
    await schedule.cancel(ctx, host, open_one.id, reason="改期")
    with pytest.raises(Conflict) as closed:
        await signup.register(ctx, open_one.id, person())
    assert closed.value.fields == {"status": "cancelled"}
    over = await announced(ctx, host, city, agenda)
    clock.advance(timedelta(days=4))
    with pytest.raises(Conflict):
        await signup.register(ctx, over.id, person())


async def test_one_phone_number_signs_up_once(ctx: Context, city: City, host: Principal) -> None:
    deliberation_id = await session_with(ctx, city, host, capacity=5)
    mine = await sign_up(ctx, deliberation_id, "张三", phone="13812345678")
    with pytest.raises(Conflict) as twice:
        await sign_up(ctx, deliberation_id, "张三丰", phone="+86 138-1234-5678")
    assert set(twice.value.fields) == {"phone"}
    await signup.cancel_registration(ctx, mine.token)
    again = await sign_up(ctx, deliberation_id, "张三", phone="13812345678")
    assert again.view.attendee.status is R.REGISTERED


async def test_sign_ups_are_rate_limited_per_device(
    ctx: Context, city: City, host: Principal
) -> None:
    deliberation_id = await session_with(ctx, city, host, capacity=50)
    limit = ctx.settings.rate_limit_device.count
    for i in range(limit):
        await signup.register(ctx, deliberation_id, person(f"家人{i}"), device_id="one-phone")
    with pytest.raises(RateLimited):
        await signup.register(ctx, deliberation_id, person("再一个"), device_id="one-phone")


async def test_cancelling_promotes_the_first_on_the_waiting_list(
    ctx: Context, city: City, host: Principal, clock: FakeClock
) -> None:
    deliberation_id = await session_with(ctx, city, host, capacity=1)
    seat = await sign_up(ctx, deliberation_id, "张三")
    first_wait = await sign_up(ctx, deliberation_id, "李四")
    second_wait = await sign_up(ctx, deliberation_id, "王五")
    clock.advance(timedelta(minutes=5))
    cancelled = await signup.cancel_registration(ctx, seat.token)
    assert cancelled.attendee.status is R.CANCELLED and not cancelled.may_cancel
    promoted = await signup.registration_by_token(ctx, first_wait.token)
    assert promoted.attendee.status is R.REGISTERED
    assert promoted.attendee.promoted_at == clock.now()
    still = await signup.registration_by_token(ctx, second_wait.token)
    assert (still.attendee.status, still.attendee.position) == (R.WAITLISTED, 1)
    with pytest.raises(Conflict) as twice:
        await signup.cancel_registration(ctx, seat.token)
    assert twice.value.fields["status"] == "cancelled"
    assert twice.value.fields["cancelled_at"] == clock.now().isoformat()
    # Leaving the waiting list frees no seat.
    await signup.cancel_registration(ctx, second_wait.token)
    listed = await signup.attendance(ctx, host, deliberation_id)
    assert [(a.name, a.status) for a in listed.attendees] == [
        ("李四", R.REGISTERED),
        ("张三", R.CANCELLED),
        ("王五", R.CANCELLED),
    ]
    with pytest.raises(NotFound):
        await signup.cancel_registration(ctx, "not-a-token")


async def test_capacity_up_seats_the_waiting_list_and_below_the_registered_is_refused(
    ctx: Context, city: City, host: Principal
) -> None:
    agenda = await key_topics(ctx, city, host, 1)
    view = await announced(ctx, host, city, agenda, capacity=2)
    tokens = [(await sign_up(ctx, view.id, name)).token for name in ("甲", "乙", "丙", "丁", "戊")]
    with pytest.raises(ValidationFailed) as refused:
        await schedule.edit_deliberation(
            ctx, host, view.id, version=view.version, **fields(ctx, capacity=1)
        )
    assert refused.value.fields == {"capacity": "At least 2."}
    edited = await schedule.edit_deliberation(
        ctx, host, view.id, version=view.version, **fields(ctx, capacity=4)
    )
    assert (edited.counts.registered, edited.counts.waitlisted) == (4, 1)
    statuses = [(await signup.registration_by_token(ctx, t)).attendee.status for t in tokens]
    assert statuses == [R.REGISTERED] * 4 + [R.WAITLISTED]


async def test_two_people_for_the_last_seat_get_one_seat_and_one_place_in_line(
    backend: str, settings: Settings, clock: FakeClock, ctx: Context, city: City, host: Principal
) -> None:
    """Two processes (two engines) sign up at the same moment for the last seat."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer: there is no race to lose")
    deliberation_id = await session_with(ctx, city, host, capacity=3)
    for name in ("甲", "乙"):
        await sign_up(ctx, deliberation_id, name)
    for _ in range(5):  # a few rounds: each must come out the same
        async with (
            context_for(settings, clock) as a,
            context_for(settings, clock) as b,
        ):
            results = await asyncio.gather(
                signup.register(a, deliberation_id, person("丙"), device_id=None, ip="a"),
                signup.register(b, deliberation_id, person("丁"), device_id=None, ip="b"),
            )
        statuses = sorted(r.view.attendee.status for r in results)
        assert statuses == [R.REGISTERED, R.WAITLISTED]
        listed = await signup.attendance(ctx, host, deliberation_id)
        assert listed.registered == 3
        for r in results:  # make room for the next round
            await signup.cancel_registration(ctx, r.token)
        for a_ in (await signup.attendance(ctx, host, deliberation_id)).attendees:
            assert a_.status is not R.WAITLISTED


async def test_check_in_by_token_or_id_once(
    ctx: Context, city: City, host: Principal, clock: FakeClock
) -> None:
    deliberation_id = await session_with(ctx, city, host, capacity=2)
    by_token = await sign_up(ctx, deliberation_id, "张三", phone="13812345678")
    by_id = await sign_up(ctx, deliberation_id, "李四", kind="deputy")
    waiting = await sign_up(ctx, deliberation_id, "王五")
    gone = await sign_up(ctx, deliberation_id, "赵六")
    await signup.cancel_registration(ctx, gone.token)
    preview = await signup.checkin_preview(ctx, host, by_token.token)
    assert preview.attendee.name == "张三" and preview.attendee.phone_masked == "138****5678"
    done = await signup.check_in(ctx, host, deliberation_id, token=by_token.token)
    assert done.checked_in_at == clock.now()
    clock.advance(timedelta(minutes=3))
    with pytest.raises(Conflict) as twice:
        await signup.check_in(ctx, host, deliberation_id, token=by_token.token)
    assert twice.value.fields == {"checked_in_at": done.checked_in_at.isoformat()}
    assert done.checked_in_at.isoformat() in twice.value.message
    await signup.check_in(ctx, host, deliberation_id, registration_id=by_id.view.attendee.id)
    for refused_token, status in ((waiting.token, "waitlisted"), (gone.token, "cancelled")):
        with pytest.raises(Conflict) as refused:
            await signup.check_in(ctx, host, deliberation_id, token=refused_token)
        assert refused.value.fields == {"status": status}
    with pytest.raises(Conflict):  # checked in: no longer cancellable
        await signup.cancel_registration(ctx, by_token.token)
    listed = await signup.attendance(ctx, host, deliberation_id)
    assert (listed.registered, listed.waitlisted, listed.checked_in) == (2, 1, 2)
    [summary] = (await schedule.list_deliberations(ctx, host)).items
    assert (summary.counts.registered, summary.counts.checked_in) == (2, 2)
    assert listed.by_kind == {AttendeeKind.RESIDENT: (1, 1), AttendeeKind.DEPUTY: (1, 1)}
    with pytest.raises(ValidationFailed):
        await signup.check_in(ctx, host, deliberation_id)
    with pytest.raises(NotFound):
        await signup.check_in(ctx, host, deliberation_id, registration_id=9999)


async def test_check_in_belongs_to_the_session_and_its_hosts(
    ctx: Context, city: City, host: Principal
) -> None:
    first = await session_with(ctx, city, host, capacity=5)
    second = await session_with(ctx, city, host, capacity=5)
    ticket = await sign_up(ctx, first, "张三")
    with pytest.raises(ValidationFailed) as wrong:
        await signup.check_in(ctx, host, second, token=ticket.token)
    assert set(wrong.value.fields) == {"token"}
    other = await make_staff(ctx, Role.DISPATCHER, city.other_county, username="other")
    for act in (
        signup.check_in(ctx, other, first, token=ticket.token),
        signup.checkin_preview(ctx, other, ticket.token),
        signup.attendance(ctx, other, first),
    ):
        with pytest.raises(Forbidden):
            await act
    await schedule.start(ctx, host, first)
    await schedule.end(ctx, host, first)
    with pytest.raises(Conflict) as over:
        await signup.check_in(ctx, host, first, token=ticket.token)
    assert over.value.fields == {"status": "ended"}
