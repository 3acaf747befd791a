from __future__ import annotations

from datetime import timedelta

import pytest

from server.accounts import actions
from server.accounts.model import UnitKind
from server.core.auth import Role
from server.core.clock import FakeClock
from server.core.context import Context
from server.core.errors import (
    Conflict,
    Forbidden,
    NotAuthenticated,
    RateLimited,
    ValidationFailed,
)
from tests.factories import PASSWORD, make_city, make_staff


async def test_one_time_password_must_be_changed_before_anything_else(ctx: Context) -> None:
    city = await make_city(ctx)
    created = await actions.create_user(
        ctx,
        None,
        username="wang",
        display_name="王",
        role=Role.DISPATCHER,
        region_id=city.county.id,
    )
    otp = created.one_time_password
    assert len(otp) == 19 and created.user.must_change_password
    login = await actions.login(ctx, username="Wang", password=otp, ip="10.0.0.1")
    assert login.principal.must_change_password
    with pytest.raises(Forbidden, match="one-time password"):
        login.principal.require(actions.Permission.VIEW_TOPICS)
    with pytest.raises(ValidationFailed):
        await actions.change_password(ctx, login.principal, current=otp, new="short")
    with pytest.raises(ValidationFailed):
        await actions.change_password(ctx, login.principal, current="wrong", new=PASSWORD)
    await actions.change_password(ctx, login.principal, current=otp, new=PASSWORD)
    again = await actions.authenticate(ctx, login.token)
    assert again is not None and not again.must_change_password
    with pytest.raises(NotAuthenticated):
        await actions.login(ctx, username="wang", password=otp, ip="10.0.0.1")


async def test_login_refusals_look_the_same(ctx: Context) -> None:
    city = await make_city(ctx)
    await make_staff(ctx, Role.ADMIN, city.city, username="admin")
    for username, password in (("admin", "wrong password"), ("nobody", PASSWORD)):
        with pytest.raises(NotAuthenticated, match="Wrong username or password"):
            await actions.login(ctx, username=username, password=password, ip="10.0.0.2")


async def test_login_guessing_is_rate_limited(ctx: Context) -> None:
    city = await make_city(ctx)
    await make_staff(ctx, Role.ADMIN, city.city, username="admin")
    for _ in range(ctx.settings.rate_limit_login.count - 1):  # make_staff used one
        with pytest.raises(NotAuthenticated):
            await actions.login(ctx, username="admin", password="guess", ip="10.0.0.1")
    with pytest.raises(RateLimited) as caught:
        await actions.login(ctx, username="admin", password=PASSWORD, ip="10.0.0.1")
    assert caught.value.retry_after > 0


async def test_sessions_end_on_logout_expiry_and_reset(ctx: Context, clock: FakeClock) -> None:
    city = await make_city(ctx)
    staff = await make_staff(ctx, Role.ADMIN, city.city, username="admin")
    first = await actions.login(ctx, username="admin", password=PASSWORD, ip="10.0.0.3")
    assert await actions.authenticate(ctx, first.token) is not None
    await actions.logout(ctx, first.principal)
    assert await actions.authenticate(ctx, first.token) is None
    second = await actions.login(ctx, username="admin", password=PASSWORD, ip="10.0.0.3")
    clock.advance(timedelta(hours=ctx.settings.session_hours, seconds=1))
    assert await actions.authenticate(ctx, second.token) is None
    clock.advance(timedelta(hours=-ctx.settings.session_hours))
    third = await actions.login(ctx, username="admin", password=PASSWORD, ip="10.0.0.3")
    otp = await actions.reset_password(ctx, None, username="admin")
    assert await actions.authenticate(ctx, third.token) is None
    assert (
        await actions.login(ctx, username="admin", password=otp, ip="10.0.0.3")
    ).principal.must_change_password
    assert staff.user_id == third.principal.user_id
    assert await actions.authenticate(ctx, "x" * 500) is None


async def test_accounts_are_created_within_the_actors_territory(ctx: Context) -> None:
    city = await make_city(ctx)
    county_admin = await make_staff(ctx, Role.ADMIN, city.county)
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    made = await actions.create_user(
        ctx,
        county_admin,
        username="info.a",
        display_name="信息员",
        role=Role.INFO_OFFICER,
        region_id=city.town.id,
    )
    assert made.user.region_name == "城南街道"
    with pytest.raises(Forbidden):
        await actions.create_user(
            ctx,
            county_admin,
            username="info.b",
            display_name="信息员",
            role=Role.INFO_OFFICER,
            region_id=city.other_community.id,
        )
    with pytest.raises(Forbidden):
        await actions.create_user(
            ctx,
            dispatcher,
            username="info.c",
            display_name="信息员",
            role=Role.INFO_OFFICER,
            region_id=city.town.id,
        )
    with pytest.raises(Conflict):
        await actions.create_user(
            ctx,
            county_admin,
            username="info.a",
            display_name="重名",
            role=Role.INFO_OFFICER,
            region_id=city.town.id,
        )
    with pytest.raises(ValidationFailed) as caught:
        await actions.create_user(
            ctx,
            county_admin,
            username="X!",
            display_name="",
            role=Role.INFO_OFFICER,
            region_id=city.town.id,
        )
    assert set(caught.value.fields) == {"username", "display_name"}
    with pytest.raises(ValidationFailed):
        await actions.create_user(
            ctx,
            county_admin,
            username="info.d",
            display_name="信息员",
            role=Role.INFO_OFFICER,
            region_id=99999,
        )
    users = await actions.list_users(ctx, county_admin)
    assert {u.username for u in users} == {county_admin.username, dispatcher.username, "info.a"}
    with pytest.raises(Forbidden):
        await actions.list_users(ctx, dispatcher)
    other_admin = await make_staff(ctx, Role.ADMIN, city.other_county)
    with pytest.raises(Forbidden):
        await actions.reset_password(ctx, county_admin, username=other_admin.username)


async def test_audit_log_records_staff_actions(ctx: Context) -> None:
    city = await make_city(ctx)
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    entries = await actions.audit_log(ctx, admin)
    kinds = [e.action for e in entries]
    assert kinds[0] == "staff.login" and "room.create" in kinds and "staff.create" in kinds
    dispatcher = await make_staff(ctx, Role.DISPATCHER, city.county)
    with pytest.raises(Forbidden):
        await actions.audit_log(ctx, dispatcher)


async def test_a_handlers_unit_must_serve_its_region(ctx: Context) -> None:
    city = await make_city(ctx)
    park_unit = await actions.create_unit(
        ctx, None, name="园区办", kind=UnitKind.TOWN, region_id=city.other_county.id
    )
    with pytest.raises(ValidationFailed, match="within its unit's region"):
        await actions.create_user(
            ctx,
            None,
            username="h.wrong",
            display_name="错配",
            role=Role.HANDLER,
            region_id=city.town.id,
            unit_id=park_unit.id,
        )
    with pytest.raises(ValidationFailed, match="works for a unit"):
        await actions.create_user(
            ctx,
            None,
            username="h.none",
            display_name="无单位",
            role=Role.HANDLER,
            region_id=city.town.id,
        )
    with pytest.raises(ValidationFailed, match="Unknown unit"):
        await actions.create_user(
            ctx,
            None,
            username="h.ghost",
            display_name="幽灵",
            role=Role.HANDLER,
            region_id=city.town.id,
            unit_id=9999,
        )
    county_admin = await make_staff(ctx, Role.ADMIN, city.county)
    with pytest.raises(Forbidden):
        await actions.create_unit(
            ctx, county_admin, name="越界", kind=UnitKind.TOWN, region_id=city.other_county.id
        )
    made = await actions.create_user(
        ctx,
        None,
        username="h.right",
        display_name="对的",
        role=Role.HANDLER,
        region_id=city.other_county.id,
        unit_id=park_unit.id,
    )
    assert made.user.role is Role.HANDLER
