"""Remote guests' invitations: signed links that expire, admission, removal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.core.audit import AuditEntry
from server.core.auth import Principal, Role
from server.core.clock import FakeClock
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, Gone, NotFound, ValidationFailed
from server.deliberations.actions import common, invites, schedule
from server.deliberations.model import InvitationStatus
from tests.deliberations.helpers import announced, county_dispatcher, draft, key_topics
from tests.factories import City, make_city, make_staff

I = InvitationStatus  # noqa: E741


@pytest.fixture
async def city(ctx: Context) -> City:
    return await make_city(ctx)


@pytest.fixture
async def host(ctx: Context, city: City) -> Principal:
    return await county_dispatcher(ctx, city)


@pytest.fixture
async def deliberation_id(ctx: Context, city: City, host: Principal) -> int:
    return (await announced(ctx, host, city, await key_topics(ctx, city, host, 1))).id


async def check(ctx: Context, token: str) -> int:
    async with ctx.db.read() as session:
        return (await common.check_invitation(ctx, session, token)).id


async def test_an_invitation_link_works_until_it_expires(
    ctx: Context, host: Principal, deliberation_id: int, clock: FakeClock
) -> None:
    made = await invites.invite(
        ctx,
        host,
        deliberation_id,
        role="official",
        display_name=" 王局长 ",
        organisation="县住建局",
    )
    assert made.status is I.INVITED and made.display_name == "王局长"
    assert made.expires_at == (clock.now() + timedelta(hours=72)).replace(microsecond=0)
    assert made.link == f"https://msy.example.cn/join/{made.token}"
    assert await check(ctx, made.token) == made.id
    [listed] = await invites.list_invitations(ctx, host, deliberation_id)
    assert listed.token == made.token  # signed, not stored: the same link every time
    clock.advance(timedelta(hours=72))
    with pytest.raises(Gone):
        await check(ctx, made.token)
    [listed] = await invites.list_invitations(ctx, host, deliberation_id)
    assert listed.expired
    with pytest.raises(Gone):
        await invites.admit(ctx, host, made.id)


async def test_forged_and_tampered_tokens_are_forbidden(
    ctx: Context, host: Principal, deliberation_id: int
) -> None:
    made = await invites.invite(ctx, host, deliberation_id, role="expert", display_name="刘教授")
    ident, expires, signature = made.token.split(".")
    for forged in (
        f"{ident}.{int(expires) + 3600}.{signature}",  # a longer life
        f"{int(ident) + 1}.{expires}.{signature}",  # another invitation
        f"{ident}.{expires}.{'A' * len(signature)}",
        "not-a-token",
        "",
    ):
        with pytest.raises(Forbidden):
            await check(ctx, forged)


async def test_removal_withdraws_the_link_and_keeps_the_record(
    ctx: Context, host: Principal, deliberation_id: int, clock: FakeClock
) -> None:
    made = await invites.invite(ctx, host, deliberation_id, role="deputy", display_name="陈代表")
    admitted = await invites.admit(ctx, host, made.id)
    assert admitted.status is I.ADMITTED and admitted.admitted_at == clock.now()
    assert (await invites.admit(ctx, host, made.id)).admitted_at == admitted.admitted_at
    clock.advance(timedelta(minutes=10))
    removed = await invites.remove(ctx, host, made.id, "发言与议题无关")
    assert (removed.status, removed.removed_at, removed.removed_reason) == (
        I.REMOVED,
        clock.now(),
        "发言与议题无关",
    )
    assert removed.deliberation_id == deliberation_id and removed.live_sid is None
    assert removed.link == "" and removed.token == ""
    with pytest.raises(Gone):
        await check(ctx, made.token)
    with pytest.raises(Conflict) as twice:
        await invites.remove(ctx, host, made.id, "再移除一次")
    assert twice.value.fields["removed_at"] == clock.now().isoformat()
    with pytest.raises(Conflict) as readmit:
        await invites.admit(ctx, host, made.id)
    assert readmit.value.fields == {"status": "removed"}
    async with ctx.db.read() as s:
        actions = list(await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-3:] == ["invitation.invite", "invitation.admit", "invitation.remove"]


async def test_a_removal_may_come_without_a_reason_but_not_a_bad_one(
    ctx: Context, host: Principal, deliberation_id: int
) -> None:
    made = await invites.invite(ctx, host, deliberation_id, role="deputy", display_name="陈代表")
    with pytest.raises(ValidationFailed):
        await invites.remove(ctx, host, made.id, ["not", "text"])
    with pytest.raises(ValidationFailed):
        await invites.remove(ctx, host, made.id, "长" * 201)
    assert (await invites.remove(ctx, host, made.id)).removed_reason == ""


async def test_bad_invitations_name_their_fields(
    ctx: Context, host: Principal, deliberation_id: int
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await invites.invite(ctx, host, deliberation_id, role="king", display_name="", hours=721)
    assert set(refused.value.fields) == {"role", "display_name", "hours"}
    with pytest.raises(ValidationFailed):
        await invites.invite(ctx, host, deliberation_id, role="expert", display_name="刘", hours=0)
    longest = await invites.invite(
        ctx, host, deliberation_id, role="expert", display_name="刘教授", hours=720
    )
    assert longest.expires_at - ctx.clock.now() <= timedelta(hours=720)


async def test_only_the_sessions_hosts_invite_admit_and_remove(
    ctx: Context, city: City, host: Principal, deliberation_id: int
) -> None:
    made = await invites.invite(ctx, host, deliberation_id, role="official", display_name="王局长")
    other = await make_staff(ctx, Role.DISPATCHER, city.other_county, username="other")
    officer = await make_staff(ctx, Role.INFO_OFFICER, city.town, username="officer")
    for actor in (other, officer):
        for act in (
            invites.invite(ctx, actor, deliberation_id, role="official", display_name="某"),
            invites.list_invitations(ctx, actor, deliberation_id),
            invites.admit(ctx, actor, made.id),
            invites.remove(ctx, actor, made.id, "无权"),
            invites.get_invitation(ctx, actor, made.id),
        ):
            with pytest.raises(Forbidden):
                await act
    with pytest.raises(NotFound):
        await invites.admit(ctx, host, 9999)


async def test_guests_are_invited_until_the_session_is_over(
    ctx: Context, city: City, host: Principal, deliberation_id: int
) -> None:
    agenda = await key_topics(ctx, city, host, 1)
    early = await draft(ctx, host, city, agenda)
    in_draft = await invites.invite(ctx, host, early.id, role="expert", display_name="刘教授")
    with pytest.raises(Conflict) as not_yet:  # nobody is admitted to a draft
        await invites.admit(ctx, host, in_draft.id)
    assert not_yet.value.fields == {"status": "draft"}
    await schedule.start(ctx, host, deliberation_id)
    await schedule.end(ctx, host, deliberation_id)
    with pytest.raises(Conflict) as over:
        await invites.invite(ctx, host, deliberation_id, role="expert", display_name="刘教授")
    assert over.value.fields == {"status": "ended"}
