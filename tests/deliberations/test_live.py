"""The live room (/live) with real socket.io clients against a real server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from server.app import create_app
from server.core.clock import FakeClock
from server.core.context import Context
from server.core.web import CTX
from server.deliberations.actions import invites as invite_actions
from server.deliberations.actions import schedule
from server.deliberations.tables import AgendaMark, Ballot, LiveComment, Poll, ReactionCount
from server.settings import Settings
from tests.conftest import make_settings
from tests.deliberations.live_helpers import LiveClient, Refused, Session, live_session
from tests.factories import City, make_city
from tests.test_live import session_cookie as login_cookie

DEVICE_A, DEVICE_B, DEVICE_C = "device-aaaaaaaa", "device-bbbbbbbb", "device-cccccccc"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path, database_url, PUBLIC_BASE_URL="http://127.0.0.1", LIVE_BATCH_MS="50"
    )


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings, clock: FakeClock) -> TestServer:
    srv: TestServer = await aiohttp_server(create_app(settings, clock=clock))  # real notifier
    return srv


@pytest.fixture
def ctx(server: TestServer) -> Context:
    return server.app[CTX]


@pytest.fixture
async def city(ctx: Context) -> City:
    return await make_city(ctx)


@pytest.fixture
async def clients() -> AsyncIterator[list[LiveClient]]:
    made: list[LiveClient] = []
    yield made
    for c in made:
        await c.close()


@pytest.fixture
def new_client(clients: list[LiveClient]) -> Any:
    def make() -> LiveClient:
        c = LiveClient()
        clients.append(c)
        return c

    return make


async def viewer(new_client: Any, server: TestServer, session: Session, device: str) -> LiveClient:
    c: LiveClient = new_client()
    await c.connect(server, session.id, device=device)
    await c.sync()
    return c


async def host(new_client: Any, server: TestServer, session: Session) -> LiveClient:
    c: LiveClient = new_client()
    await c.connect(server, session.id, cookie=await login_cookie(server, session.host.username))
    await c.sync()
    return c


async def invite(ctx: Context, session: Session, *, hours: int = 24) -> tuple[int, str]:
    created = await invite_actions.invite(
        ctx,
        session.host,
        session.id,
        role="official",
        display_name="王局长",
        organisation="县住建局",
        hours=hours,
    )
    return created.id, created.token


# Connecting


async def test_a_connection_without_a_known_session_or_identity_is_refused(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    cases: list[tuple[Any, dict[str, Any], str]] = [
        (None, {}, "deliberation_required"),
        ("7", {"device": DEVICE_A}, "deliberation_required"),
        (9999, {"device": DEVICE_A}, "not_found"),
        (session.id, {}, "bad_request"),  # no device id
        (session.id, {"device": "short"}, "bad_request"),
        (session.id, {"invite": f"{session.id}.99999999999.forged"}, "forbidden"),
        (session.id, {"invite": ["not", "text"]}, "forbidden"),
    ]
    for deliberation, auth, reason in cases:
        c: LiveClient = new_client()
        with pytest.raises(Refused) as refused:
            await c.connect(server, deliberation, **auth)
        assert reason in str(refused.value), (deliberation, auth, refused.value)
        assert not c.sio.connected


async def test_a_draft_session_admits_only_its_hosts(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city, start=False)
    draft = await schedule.create_deliberation(
        ctx,
        session.host,
        room_id=city.room.id,
        title="草稿",
        description="",
        place="议事室",
        starts_at=ctx.clock.now() + timedelta(days=1),
        ends_at=ctx.clock.now() + timedelta(days=1, hours=1),
        capacity=10,
        moderation="post",
        host_name="",
        moderators="",
        agenda=session.topics[:1],
    )
    c: LiveClient = new_client()
    with pytest.raises(Refused, match="forbidden"):
        await c.connect(server, draft.id, device=DEVICE_A)
    staff = await host(new_client, server, Session(draft.id, session.host, []))
    assert (await staff.sync())["deliberation"]["status"] == "draft"


async def test_expired_and_removed_invitations_are_refused_at_connect(
    ctx: Context, city: City, server: TestServer, new_client: Any, clock: FakeClock
) -> None:
    session = await live_session(ctx, city)
    _, short = await invite(ctx, session, hours=1)
    removed_id, removed = await invite(ctx, session)
    await invite_actions.remove(ctx, session.host, removed_id, "不再需要")
    with pytest.raises(Refused, match="gone"):
        await new_client().connect(server, session.id, invite=removed)
    # An invitation for one session does not open another.
    other = await live_session_other(ctx, city, session)
    with pytest.raises(Refused, match="forbidden"):
        await new_client().connect(server, other, invite=short)
    # It works until it expires.
    fine: LiveClient = new_client()
    await fine.connect(server, session.id, invite=short)
    assert (await fine.sync())["op"] == "lobby"
    clock.advance(timedelta(hours=1, seconds=1))
    with pytest.raises(Refused, match="gone"):
        await new_client().connect(server, session.id, invite=short)


async def live_session_other(ctx: Context, city: City, session: Session) -> int:
    now = ctx.clock.now()
    created = await schedule.create_deliberation(
        ctx,
        session.host,
        room_id=city.room.id,
        title="另一场",
        description="",
        place="议事室",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=1),
        capacity=10,
        moderation="post",
        host_name="",
        moderators="",
        agenda=session.topics[1:],
    )
    await schedule.announce(ctx, session.host, created.id, version=created.version)
    return created.id


# Comments


async def test_comments_reach_every_viewer_batched_and_persist(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    a = await viewer(new_client, server, session, DEVICE_A)
    b = await viewer(new_client, server, session, DEVICE_B)
    posters = [await viewer(new_client, server, session, f"poster-{i:04d}") for i in range(4)]
    acks = await asyncio.gather(
        *(
            p.call("comment", "post", body=f"第{i}条：电梯费用按楼层分摊")
            for i, p in enumerate(posters * 3)
        )
    )
    assert all(ack["ok"] for ack in acks), acks
    await b.wait_for(lambda: len(b.comments()) == 12)
    await a.wait_for(lambda: len(a.comments()) == 12)
    # Batched: twelve comments in far fewer packets than comments.
    assert 1 <= len(b.batches()) < 12
    assert sorted(c["id"] for c in b.comments()) == sorted(ack["comment"]["id"] for ack in acks)
    assert all(set(c) == {"id", "name", "role", "body", "topic_id", "at"} for c in b.comments())
    async with ctx.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(LiveComment)) == 12


async def test_bad_comments_get_an_error_ack_and_reach_nobody(
    ctx: Context, city: City, server: TestServer, new_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.deliberations.live")
    session = await live_session(ctx, city)
    a = await viewer(new_client, server, session, DEVICE_A)
    b = await viewer(new_client, server, session, DEVICE_B)
    bad: list[tuple[str, str, dict[str, Any], str]] = [
        ("comment", "post", {"body": ""}, "validation_failed"),
        ("comment", "post", {"body": "长" * 301}, "validation_failed"),
        ("comment", "post", {"body": 42}, "validation_failed"),
        ("comment", "shout", {"body": "hi"}, "bad_request"),
        ("nonsense", "post", {}, "bad_request"),
        ("comment", "post", {"body": "x" * 9000}, "bad_request"),  # over the event size cap
    ]
    for event, op, data, code in bad:
        ack = await a.call(event, op, **data)
        assert ack == {"ok": False, "error": ack["error"]} and ack["error"]["code"] == code, ack
    # Not an object at all.
    ack = await a.sio.call("comment", "just text", namespace="/live", timeout=5)
    assert ack["error"]["code"] == "bad_request"
    await b.quiet()
    assert b.comments() == []
    refused = [r.getMessage() for r in caplog.records if "live: refused" in r.getMessage()]
    assert len(refused) == len(bad) + 1, refused  # each one logged, with who sent it
    assert all("viewer:device-aaaaaaaa" in line for line in refused)
    # The namespace still works for everyone.
    assert (await a.call("comment", "post", body="正常发言"))["ok"]
    await b.wait_for(lambda: b.comments())


async def test_comment_floods_are_rate_limited_per_identity(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    a = await viewer(new_client, server, session, DEVICE_A)
    results = [await a.call("comment", "post", body=f"刷屏{i}") for i in range(7)]
    assert [r["ok"] for r in results] == [True] * 5 + [False] * 2
    assert (
        results[-1]["error"]["code"] == "rate_limited" and results[-1]["error"]["retry_after"] >= 1
    )
    # Another identity is not affected.
    b = await viewer(new_client, server, session, DEVICE_B)
    assert (await b.call("comment", "post", body="我还能说"))["ok"]


async def test_hold_mode_and_sensitive_words_hold_comments_for_the_host(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city, moderation="hold")
    staff = await host(new_client, server, session)
    a = await viewer(new_client, server, session, DEVICE_A)
    ack = await a.call("comment", "post", body="希望尽快开工")
    assert ack["ok"] and ack["comment"]["status"] == "held"
    held = await staff.wait_for(lambda: staff.events("comment", "held"))
    assert held[0]["comment"]["body"] == "希望尽快开工" and held[0]["comment"]["reason"]
    await a.quiet()
    assert a.comments() == []
    # The host approves: now everyone sees it.
    assert (await staff.call("comment", "approve", id=ack["comment"]["id"]))["ok"]
    await a.wait_for(lambda: [c for c in a.comments() if c["body"] == "希望尽快开工"])
    # Approving twice is refused.
    again = await staff.call("comment", "approve", id=ack["comment"]["id"])
    assert again["error"]["code"] == "conflict"


async def test_sensitive_words_are_held_even_in_post_mode_spaces_and_all(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    a = await viewer(new_client, server, session, DEVICE_A)
    ack = await a.call("comment", "post", body="加我微信 代 开 发 票")
    assert ack["comment"]["status"] == "held"
    held = await staff.wait_for(lambda: staff.events("comment", "held"))
    assert "代开发票" in held[0]["comment"]["reason"]
    assert (await a.call("comment", "post", body="电梯的事情很重要"))["comment"][
        "status"
    ] == "visible"
    await a.wait_for(lambda: a.comments())
    assert [c["body"] for c in a.comments()] == ["电梯的事情很重要"]


async def test_hiding_a_comment_removes_it_everywhere_and_keeps_the_record(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    a = await viewer(new_client, server, session, DEVICE_A)
    b = await viewer(new_client, server, session, DEVICE_B)
    posted = await a.call("comment", "post", body="跑题的广告")
    await b.wait_for(lambda: b.comments())
    # A viewer cannot moderate.
    refused = await b.call("comment", "hide", id=posted["comment"]["id"], reason="我不喜欢")
    assert refused["error"]["code"] == "forbidden"
    hidden = await staff.call("comment", "hide", id=posted["comment"]["id"], reason="广告")
    assert hidden["ok"]
    await b.wait_for(lambda: b.events("comment", "hidden"))
    assert b.events("comment", "hidden")[0]["id"] == posted["comment"]["id"]
    await b.wait_for(lambda: [x for x in b.batches() if x.get("moderation") == {"hidden": 1}])
    async with ctx.db.read() as s:
        row = await s.get(LiveComment, posted["comment"]["id"])
        assert row is not None and row.status == "hidden" and row.reason == "广告"
        assert row.moderated_by_id == session.host.user_id
    # A fresh snapshot leaves it out and publishes the count.
    snapshot = await b.sync()
    assert snapshot["comments"] == [] and snapshot["moderation"] == {"hidden": 1}
    # Hiding without a reason, or an unknown comment, is refused.
    assert (await staff.call("comment", "hide", id=posted["comment"]["id"]))["ok"] is False
    assert (await staff.call("comment", "hide", id=999999, reason="x"))["error"][
        "code"
    ] == "not_found"


# Polls


async def test_a_poll_one_vote_per_identity_live_tally_and_stored_results(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    a = await viewer(new_client, server, session, DEVICE_A)
    b = await viewer(new_client, server, session, DEVICE_B)
    made = await staff.call(
        "poll", "create", question="电梯费用怎么分摊？", options=["按楼层", "平均分摊", "再议"]
    )
    assert made["ok"] and made["poll"]["status"] == "draft"
    poll_id = made["poll"]["id"]
    first, second, third = (o["id"] for o in made["poll"]["options"])
    # Not open yet: votes are refused.
    early = await a.call("poll", "vote", id=poll_id, choices=[first])
    assert early["error"]["code"] == "invalid_transition"
    assert (await a.call("poll", "open", id=poll_id))["error"]["code"] == "forbidden"
    assert (await staff.call("poll", "open", id=poll_id))["ok"]
    opened = await a.wait_for(lambda: a.events("poll", "opened"))
    assert opened[0]["poll"]["id"] == poll_id

    assert (await a.call("poll", "vote", id=poll_id, choices=[first]))["ok"]
    assert (await b.call("poll", "vote", id=poll_id, choices=[second]))["ok"]
    twice = await a.call("poll", "vote", id=poll_id, choices=[second])
    assert twice["error"]["code"] == "conflict"
    for bad, code in [
        ([first, second], "validation_failed"),  # single choice
        ([], "validation_failed"),
        ([123456], "validation_failed"),
        ("all", "validation_failed"),
    ]:
        c: LiveClient = new_client()
        await c.connect(server, session.id, device=f"bad-voter-{len(str(bad)):04d}x")
        ack = await c.call("poll", "vote", id=poll_id, choices=bad)
        assert ack["error"]["code"] == code, (bad, ack)

    expected = {str(first): 1, str(second): 1, str(third): 0}
    await b.wait_for(
        lambda: [t for x in b.batches() if (t := x.get("tally")) and t["votes"] == expected]
    )
    closed = await staff.call("poll", "close", id=poll_id)
    assert closed["poll"]["tally"] == {"poll_id": poll_id, "ballots": 2, "votes": expected}
    await a.wait_for(lambda: a.events("poll", "closed"))
    late = await viewer(new_client, server, session, DEVICE_C)
    result = (await late.sync())["poll"]  # a late arrival sees how the vote went
    assert result["status"] == "closed" and result["tally"]["ballots"] == 2 and not result["voted"]
    after = await late.call("poll", "vote", id=poll_id, choices=[third])
    assert after["error"]["code"] == "invalid_transition"
    async with ctx.db.read() as s:
        poll = await s.get(Poll, poll_id)
        assert poll is not None and poll.results == {
            "ballots": 2,
            "votes": {str(first): 1, str(second): 1},
        }
        assert await s.scalar(select(func.count()).select_from(Ballot)) == 2


async def test_the_database_refuses_a_second_ballot_even_when_memory_would_not(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    """Many identical votes at once (as from two processes): exactly one counts."""
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    made = await staff.call(
        "poll", "create", question="同意吗？", options=["同意", "不同意"], kind="multiple"
    )
    poll_id = made["poll"]["id"]
    yes = made["poll"]["options"][0]["id"]
    await staff.call("poll", "open", id=poll_id)
    voters = [await viewer(new_client, server, session, DEVICE_A) for _ in range(3)]
    acks = await asyncio.gather(
        *(v.call("poll", "vote", id=poll_id, choices=[yes]) for v in voters for _ in range(3))
    )
    assert sum(ack["ok"] for ack in acks) == 1
    assert {ack["error"]["code"] for ack in acks if not ack["ok"]} == {"conflict"}
    async with ctx.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Ballot)) == 1


async def test_an_anonymous_poll_keeps_no_name_or_identity(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    a = await viewer(new_client, server, session, DEVICE_A)
    made = await staff.call(
        "poll", "create", question="匿名投票", options=["是", "否"], anonymous=True
    )
    await staff.call("poll", "open", id=made["poll"]["id"])
    assert (
        await a.call(
            "poll", "vote", id=made["poll"]["id"], choices=[made["poll"]["options"][0]["id"]]
        )
    )["ok"]
    again = await a.call(
        "poll", "vote", id=made["poll"]["id"], choices=[made["poll"]["options"][1]["id"]]
    )
    assert again["error"]["code"] == "conflict"
    async with ctx.db.read() as s:
        ballot = (await s.scalars(select(Ballot))).one()
        assert ballot.voter_name == "" and DEVICE_A not in ballot.voter_key
    assert (await a.sync())["poll"]["voted"] is True


async def test_only_one_poll_is_open_at_a_time_and_bad_polls_are_refused(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    for data in [
        {"question": "", "options": ["a", "b"]},
        {"question": "q", "options": ["only one"]},
        {"question": "q", "options": ["same", "same"]},
        {"question": "q", "options": ["a", "b"], "kind": "ranked"},
        {"question": "q", "options": "a,b"},
        {"question": "q", "options": [f"o{i}" for i in range(11)]},
    ]:
        ack = await staff.call("poll", "create", **data)
        assert ack["error"]["code"] == "validation_failed", (data, ack)
    one = (await staff.call("poll", "create", question="一", options=["a", "b"]))["poll"]["id"]
    two = (await staff.call("poll", "create", question="二", options=["a", "b"]))["poll"]["id"]
    assert (await staff.call("poll", "open", id=one))["ok"]
    assert (await staff.call("poll", "open", id=two))["error"]["code"] == "conflict"
    assert (await staff.call("poll", "close", id=two))["error"]["code"] == "invalid_transition"
    assert (await staff.call("poll", "close", id=one))["ok"]
    assert (await staff.call("poll", "open", id=one))["error"]["code"] == "invalid_transition"
    assert (await staff.call("poll", "open", id=two))["ok"]


# Questions, the queue, the agenda, reactions


async def test_questions_sorted_by_upvotes_one_upvote_each_and_put_to_the_floor(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    a = await viewer(new_client, server, session, DEVICE_A)
    b = await viewer(new_client, server, session, DEVICE_B)
    q1 = (await a.call("question", "ask", body="费用谁出？"))["question"]
    q2 = (await a.call("question", "ask", body="什么时候开工？"))["question"]
    assert (await a.call("question", "upvote", id=q2["id"]))["question"]["votes"] == 1
    assert (await b.call("question", "upvote", id=q2["id"]))["question"]["votes"] == 2
    assert (await b.call("question", "upvote", id=q2["id"]))["error"]["code"] == "conflict"
    await b.wait_for(lambda: [q for q in b.events("batch") if q.get("questions")])
    snapshot = await b.sync()
    assert [q["id"] for q in snapshot["questions"]] == [q2["id"], q1["id"]]
    assert snapshot["upvoted"] == [q2["id"]]  # so a reloaded page shows what it backed
    assert (await a.call("question", "floor", id=q2["id"]))["error"]["code"] == "forbidden"
    assert (await staff.call("question", "floor", id=q2["id"]))["ok"]
    update = await b.wait_for(lambda: b.events("question", "update"))
    assert update[0]["questions"][0]["status"] == "on_floor"
    # Moving on answers the one before.
    changed = (await staff.call("question", "floor", id=q1["id"]))["questions"]
    assert {q["id"]: q["status"] for q in changed} == {q2["id"]: "answered", q1["id"]: "on_floor"}


async def test_the_speaker_queue_with_guests_on_site_attendees_and_the_floor(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    a = await viewer(new_client, server, session, DEVICE_A)
    invitation_id, token = await invite(ctx, session)
    guest: LiveClient = new_client()
    await guest.connect(server, session.id, invite=token)
    assert (await staff.call("lobby", "admit", id=invitation_id))["ok"]
    await guest.wait_for(lambda: guest.events("lobby", "admitted"))
    await guest.sync()

    assert (await a.call("queue", "raise"))["error"]["code"] == "forbidden"  # viewers watch
    raised = await guest.call("queue", "raise")
    assert raised["ok"] and raised["queue"][0]["name"] == "王局长"
    assert raised["queue"][0]["invitation_id"] == invitation_id  # the guest finds its hand
    assert (await guest.sync())["me"]["invitation_id"] == invitation_id
    assert (await guest.call("queue", "raise"))["error"]["code"] == "conflict"
    on_site = await staff.call("queue", "raise", name="张大爷", role="resident")
    assert [r["name"] for r in on_site["queue"]] == ["王局长", "张大爷"]
    guest_request, elder_request = (r["id"] for r in on_site["queue"])
    assert (await guest.call("queue", "give", id=guest_request))["error"]["code"] == "forbidden"
    given = await staff.call("queue", "give", id=guest_request, seconds=120)
    speaking = given["queue"][0]
    assert speaking["status"] == "speaking" and speaking["seconds"] == 120 and speaking["ends_at"]
    state = await a.wait_for(lambda: a.events("queue", "state"))
    assert state[-1]["queue"][0]["status"] == "speaking" and "now" in state[-1]
    # Giving the floor to the next ends the current speaker's turn.
    nxt = await staff.call("queue", "give", id=elder_request)
    assert [r["name"] for r in nxt["queue"]] == ["张大爷"]
    assert (await staff.call("queue", "give", id=elder_request, seconds=5))["error"][
        "code"
    ] == "validation_failed"
    assert (await staff.call("queue", "take", id=elder_request))["queue"] == []
    assert (await staff.call("queue", "take", id=elder_request))["error"]["code"] == "conflict"


async def test_the_host_moves_the_agenda_and_each_move_is_a_chapter_mark(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    a = await viewer(new_client, server, session, DEVICE_A)
    first, second = session.topics
    assert (await a.call("agenda", "goto", topic_id=first))["error"]["code"] == "forbidden"
    assert (await staff.call("agenda", "goto", topic_id=first))["agenda"][
        "current_topic_id"
    ] == first
    await a.wait_for(lambda: a.events("agenda", "current"))
    assert a.events("agenda", "current")[0]["current_topic_id"] == first
    assert (await staff.call("agenda", "goto", topic_id=second))["ok"]
    assert (await staff.call("agenda", "goto", topic_id=second))["error"]["code"] == "conflict"
    assert (await staff.call("agenda", "goto", topic_id=999999))["error"][
        "code"
    ] == "validation_failed"
    # Comments are filed under the current topic.
    posted = await a.call("comment", "post", body="停车位不够")
    assert posted["comment"]["topic_id"] == second
    async with ctx.db.read() as s:
        marks = (await s.scalars(select(AgendaMark).order_by(AgendaMark.id))).all()
        assert [m.topic_id for m in marks] == [first, second]
    assert (await a.sync())["agenda"]["current_topic_id"] == second


async def test_reactions_are_aggregated_per_batch_and_counted(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    a = await viewer(new_client, server, session, DEVICE_A)
    b = await viewer(new_client, server, session, DEVICE_B)
    acks = await asyncio.gather(*(a.call("reaction", "send", kind="applause") for _ in range(8)))
    assert all(ack["ok"] for ack in acks)
    assert (await a.call("reaction", "send", kind="boo"))["error"]["code"] == "validation_failed"
    # Batches carry the session's totals (every process's), saved before they are sent.
    await b.wait_for(lambda: [x for x in b.batches() if x.get("reactions") == {"applause": 8}])
    assert len([x for x in b.batches() if "reactions" in x]) < 8
    await b.quiet()
    async with ctx.db.read() as s:
        row = (await s.scalars(select(ReactionCount))).one()
        assert (row.kind, row.count) == ("applause", 8)
    assert (await b.sync())["reactions"] == {"applause": 8}


async def test_presence_counts_viewers_guests_and_hosts(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    await viewer(new_client, server, session, DEVICE_A)
    b = await viewer(new_client, server, session, DEVICE_B)
    await staff.wait_for(
        lambda: [
            x
            for x in staff.batches()
            if x.get("presence") == {"viewers": 2, "guests": 0, "hosts": 1}
        ]
    )
    await b.close()
    await staff.wait_for(
        lambda: [
            x
            for x in staff.batches()
            if x.get("presence") == {"viewers": 1, "guests": 0, "hosts": 1}
        ]
    )
    assert (await staff.sync())["presence"] == {"viewers": 1, "guests": 0, "hosts": 1}


# Resync


async def test_a_reconnecting_client_gets_a_snapshot_and_nothing_twice(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    posters = [await viewer(new_client, server, session, f"poster-{i:04d}") for i in range(12)]
    for i, p in enumerate(posters * 5):
        assert (await p.call("comment", "post", body=f"意见{i}"))["ok"]
    made = await staff.call("poll", "create", question="开工时间", options=["三月", "五月"])
    await staff.call("poll", "open", id=made["poll"]["id"])
    await staff.call("queue", "raise", name="张大爷", role="resident")
    await staff.call("agenda", "goto", topic_id=session.topics[0])

    phone: LiveClient = new_client()
    await phone.connect(server, session.id, device=DEVICE_A)
    snapshot = await phone.sync()
    assert [c["body"] for c in snapshot["comments"]] == [f"意见{i}" for i in range(10, 60)]
    assert snapshot["cursor"] == snapshot["comments"][-1]["id"]
    assert snapshot["poll"]["id"] == made["poll"]["id"] and snapshot["poll"]["voted"] is False
    assert snapshot["poll"]["tally"]["ballots"] == 0
    assert [r["name"] for r in snapshot["queue"]] == ["张大爷"]
    assert snapshot["agenda"]["current_topic_id"] == session.topics[0]
    assert snapshot["deliberation"]["status"] == "live" and snapshot["me"]["role"] == "viewer"
    assert "lobby" not in snapshot and "polls" not in snapshot  # host-only parts

    await phone.close()
    late = await viewer(new_client, server, session, DEVICE_B)  # the posters spent their budget
    assert (await late.call("comment", "post", body="断线期间的发言"))["ok"]
    again: LiveClient = new_client()
    await again.connect(server, session.id, device=DEVICE_A)
    snap2 = await again.sync()
    assert snap2["comments"][-1]["body"] == "断线期间的发言"
    assert (await late.call("comment", "post", body="重连之后的发言"))["ok"]
    await again.wait_for(lambda: [c for c in again.comments() if c["body"] == "重连之后的发言"])
    shown = [c["id"] for c in snap2["comments"]] + [
        c["id"] for c in again.comments() if c["id"] > snap2["cursor"]
    ]
    assert len(shown) == len(set(shown))
    assert again.comments()[-1]["body"] == "重连之后的发言"


# Guests and the lobby


async def test_a_guest_waits_in_the_lobby_until_admitted_and_a_removed_guest_is_cut_off(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    a = await viewer(new_client, server, session, DEVICE_A)
    invitation_id, token = await invite(ctx, session)
    guest: LiveClient = new_client()
    await guest.connect(server, session.id, invite=token)
    lobby = await staff.wait_for(
        lambda: [
            x for x in staff.events("lobby", "state") if x["guests"] and x["guests"][0]["connected"]
        ]
    )
    assert lobby[-1]["guests"][0] == {
        "id": invitation_id,
        "name": "王局长",
        "role": "official",
        "organisation": "县住建局",
        "status": "invited",
        "connected": True,
    }
    waiting = await guest.sync()
    assert waiting["op"] == "lobby" and "comments" not in waiting
    assert (await guest.call("comment", "post", body="我先说两句"))["error"]["code"] == "forbidden"
    await a.call("comment", "post", body="大厅里看不到这条")
    await guest.quiet()
    assert guest.comments() == []
    # A viewer cannot admit anyone.
    assert (await a.call("lobby", "admit", id=invitation_id))["error"]["code"] == "forbidden"

    assert (await staff.call("lobby", "admit", id=invitation_id))["ok"]
    await guest.wait_for(lambda: guest.events("lobby", "admitted"))
    snapshot = await guest.sync()
    assert snapshot["me"] == {
        "role": "guest",
        "name": "王局长",
        "guest_role": "official",
        "invitation_id": invitation_id,
    }
    posted = await guest.call("comment", "post", body="住建局支持加装电梯")
    assert posted["ok"] and posted["comment"]["role"] == "guest"
    await a.wait_for(lambda: [c for c in a.comments() if c["body"] == "住建局支持加装电梯"])

    removed = await staff.call("lobby", "remove", id=invitation_id, reason="连线结束")
    assert removed["ok"] and removed["guests"] == []
    await guest.wait_for(lambda: not guest.sio.connected)
    with pytest.raises(Refused, match="gone"):
        await new_client().connect(server, session.id, invite=token)
    assert (await staff.call("lobby", "admit", id=invitation_id))["error"]["code"] == "conflict"


async def test_nothing_can_be_said_in_a_session_that_is_not_live(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    session = await live_session(ctx, city, start=False)
    staff = await host(new_client, server, session)
    a = await viewer(new_client, server, session, DEVICE_A)
    assert (await a.call("comment", "post", body="还没开始"))["error"][
        "code"
    ] == "invalid_transition"
    assert (await a.call("question", "ask", body="几点开始？"))["error"][
        "code"
    ] == "invalid_transition"
    assert (await staff.call("agenda", "goto", topic_id=session.topics[0]))["error"][
        "code"
    ] == "invalid_transition"
    # The host may prepare a poll before the start, but not open it.
    made = await staff.call("poll", "create", question="预备投票", options=["a", "b"])
    assert made["ok"]
    assert (await staff.call("poll", "open", id=made["poll"]["id"]))["error"][
        "code"
    ] == "invalid_transition"
    async with ctx.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(LiveComment)) == 0


async def test_a_host_acting_over_http_reaches_the_guest_and_the_consoles(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    """The staff API's admit and remove (the same actions) tell the live room too."""
    session = await live_session(ctx, city)
    staff = await host(new_client, server, session)
    invitation_id, token = await invite(ctx, session)
    guest: LiveClient = new_client()
    await guest.connect(server, session.id, invite=token)
    await invite_actions.admit(ctx, session.host, invitation_id)
    await guest.wait_for(lambda: guest.events("lobby", "admitted"))
    assert (await guest.sync())["op"] == "full"
    assert (await guest.call("comment", "post", body="已连线"))["ok"]
    await staff.wait_for(
        lambda: [
            x
            for x in staff.events("lobby", "state")
            if x["guests"] and x["guests"][0]["status"] == "admitted"
        ]
    )
    await invite_actions.remove(ctx, session.host, invitation_id, "连线结束")
    await guest.wait_for(lambda: guest.events("lobby", "removed"))
    refused = await guest.call("comment", "post", body="还想说")
    assert refused["error"]["code"] == "forbidden"
    await staff.wait_for(lambda: [x for x in staff.events("lobby", "state") if x["guests"] == []])


async def test_a_role_claimed_in_the_handshake_is_ignored(
    ctx: Context, city: City, server: TestServer, new_client: Any
) -> None:
    """Identity comes from the session cookie, the invitation or the device, never from
    what the client says it is."""
    session = await live_session(ctx, city)
    forged: LiveClient = new_client()
    await forged.sio.connect(
        str(server.make_url("/")),
        namespaces=["/live"],
        auth={
            "deliberation": session.id,
            "device": DEVICE_A,
            "role": "host",
            "user_id": session.host.user_id,
        },
        transports=["websocket"],
        wait_timeout=5,
    )
    snapshot = await forged.sync()
    assert snapshot["me"]["role"] == "viewer" and "lobby" not in snapshot
    made = await forged.call("poll", "create", question="伪造", options=["a", "b"])
    assert made["error"]["code"] == "forbidden"
    # A stolen-looking cookie that is not a session is no better.
    fake: LiveClient = new_client()
    await fake.connect(server, session.id, cookie="msy_session=not-a-session", device=DEVICE_B)
    assert (await fake.sync())["me"]["role"] == "viewer"
