"""Nominations: a resident's own on the public form, staff's on behalf of an
organisation; accepted ones become candidates, declined ones keep their reason."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.awards import actions as awards
from server.awards.tables import AwardCandidate, AwardNomination
from server.core.auth import Principal
from server.core.context import Context
from server.core.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from tests.awards.helpers import admin_of, reviewers_of
from tests.awards.rounds import YEAR, nominate_room
from tests.factories import City, make_city

REASONS = "多年来积极参与社区协商议事，提出的加装电梯建议被采纳。"


async def _counts(ctx: Context) -> tuple[int, int]:
    async with ctx.db.read() as s:
        n = await s.scalar(select(func.count(AwardNomination.id)))
        c = await s.scalar(select(func.count(AwardCandidate.id)))
    return int(n or 0), int(c or 0)


async def _self(ctx: Context, city: City, **overrides: object) -> awards.Nominated:
    values: dict[str, object] = {
        "name": "司马光明",
        "phone": "13811112222",
        "room_code": city.room.code,
        "reasons": REASONS,
        "device_id": "dev-sima",
        "ip": "192.0.2.44",
    }
    values.update(overrides)
    return await awards.nominate_self(ctx, YEAR, **values)  # type: ignore[arg-type]


async def test_a_resident_nominates_themselves_and_is_accepted(ctx: Context) -> None:
    city = await make_city(ctx)
    admin = await admin_of(ctx, city)
    with pytest.raises(NotFound):
        await _self(ctx, city)
    await awards.open_round(ctx, admin, YEAR, excellent=3, best=1)
    done = await _self(ctx, city)
    assert (done.kind, done.status) == ("resident", "pending")
    with pytest.raises(Conflict, match="already nominated"):
        await _self(ctx, city, phone="+86 138-1111-2222", device_id="dev-2")
    detail = await awards.round_detail(ctx, admin, YEAR)
    (n,) = detail["nominations"]
    assert (n["title"], n["masked_phone"], n["room"]) == ("司***", "138****2222", city.room.name)
    assert "司马光明" not in str(detail) and "13811112222" not in str(detail)
    candidate_id = await awards.accept_nomination(ctx, admin, YEAR, done.id)
    with pytest.raises(Conflict, match="already accepted"):
        await awards.accept_nomination(ctx, admin, YEAR, done.id)
    with pytest.raises(Conflict, match="already accepted"):
        await awards.decline_nomination(ctx, admin, YEAR, done.id, reason="重复提名")
    detail = await awards.round_detail(ctx, admin, YEAR)
    (c,) = detail["candidates"]["resident"]
    assert c["id"] == candidate_id and c["title"] == "司***" and c["nominated"]
    assert c["source"] == "nomination" and REASONS in c["reasons"]
    assert await _counts(ctx) == (1, 1)


async def test_bad_self_nominations_are_refused(ctx: Context) -> None:
    city = await make_city(ctx)
    admin = await admin_of(ctx, city)
    await awards.open_round(ctx, admin, YEAR)
    with pytest.raises(ValidationFailed) as refused:
        await _self(ctx, city, name=" ", phone="12345", room_code="NOPE", reasons="好")
    assert set(refused.value.fields) == {"name", "phone", "room_code", "reasons"}
    with pytest.raises(ValidationFailed) as missing:
        await _self(ctx, city, phone=None, room_code="", reasons=7)
    assert set(missing.value.fields) == {"phone", "room_code", "reasons"}
    with pytest.raises(ValidationFailed):
        await awards.nominate_self(
            ctx,
            "last year",
            name="张三",
            phone="13811112222",
            room_code=city.room.code,
            reasons=REASONS,
        )
    assert await _counts(ctx) == (0, 0)


async def test_self_nominations_are_rate_limited(ctx: Context) -> None:
    city = await make_city(ctx)
    admin = await admin_of(ctx, city)
    await awards.open_round(ctx, admin, YEAR)
    allowed = ctx.settings.rate_limit_device.count
    for i in range(allowed):
        await _self(ctx, city, phone=f"1390000{i:04d}")
    with pytest.raises(RateLimited):
        await _self(ctx, city, phone="13900009999")
    assert await _counts(ctx) == (allowed, 0)


async def test_organisations_nominate_rooms_cases_and_residents(ctx: Context) -> None:
    city = await make_city(ctx)
    admin = await admin_of(ctx, city)
    await awards.open_round(ctx, admin, YEAR)
    room = await nominate_room(ctx, admin, city.room.id)
    with pytest.raises(Conflict, match="already nominated"):
        await nominate_room(ctx, admin, city.room.id)
    resident = await awards.nominate(
        ctx,
        admin,
        YEAR,
        kind="resident",
        organisation="幸福里社区居委会",
        reasons=REASONS,
        name="诸葛亮亮",
        phone="13655556666",
        room_id=city.room.id,
    )
    with pytest.raises(ValidationFailed) as bad:
        await awards.nominate(
            ctx, admin, YEAR, kind="case", organisation="", reasons="短", topic_number="X-1"
        )
    assert set(bad.value.fields) == {"organisation", "reasons", "topic_number"}
    with pytest.raises(ValidationFailed) as kind:
        await awards.nominate(ctx, admin, YEAR, kind="team", organisation="居委会", reasons=REASONS)
    assert "kind" in kind.value.fields
    with pytest.raises(ValidationFailed) as no_room:
        await awards.nominate(
            ctx, admin, YEAR, kind="room", organisation="居委会", reasons=REASONS, room_id=9999
        )
    assert set(no_room.value.fields) == {"room_id"}
    with pytest.raises(Forbidden):
        await awards.decline_nomination(
            ctx, await _reviewer(ctx, city), YEAR, room, reason="不符合"
        )
    with pytest.raises(ValidationFailed):
        await awards.decline_nomination(ctx, admin, YEAR, room, reason="")
    await awards.decline_nomination(ctx, admin, YEAR, room, reason="年内未开展活动")
    detail = await awards.round_detail(ctx, admin, YEAR)
    statuses = {n["id"]: (n["status"], n["decline_reason"]) for n in detail["nominations"]}
    assert statuses == {room: ("declined", "年内未开展活动"), resident.id: ("pending", "")}
    await awards.close_review(ctx, admin, YEAR)
    with pytest.raises(Conflict, match="closed"):
        await awards.accept_nomination(ctx, admin, YEAR, resident.id)
    with pytest.raises(Conflict, match="closed"):
        await _self(ctx, city)
    assert await _counts(ctx) == (2, 0)


async def _reviewer(ctx: Context, city: City) -> Principal:
    return (await reviewers_of(ctx, city, 1))[0]
