"""The authorization matrix for topics: who sees and does what, where, and who is told.

A handler sees and acts only on topics assigned to its unit; a dispatcher only within
its county; admins everywhere below their own region. The territory is the factories'
city with a second town in county A and a unit in each place::

    安和市 city ────┬─ 清河区 county A ─┬─ 城南街道 town A1 ── 幸福里社区 ── room A
                    │                    └─ 城北街道 town A2
                    └─ 高新园区 park B ──── 科创街道 town B1 ── 智谷社区 ── room B

    units: relay@city, dept@city (a department of the city);
           relay@A, V (a department of county A), U (town A1), T2 (town A2);
           relay@B, X (town B1)

Each row of the matrix is an action on a topic in one placement; the test tries it as
every actor, each on a topic of its own, and compares the whole row at once, so a
failure names every actor whose outcome differs. A refusal must change nothing (no row
in any topic table, no audit entry, no push); an allowed change must change something
and push only to the rooms of the topic's regions and its unit.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from server.accounts import actions as accounts
from server.accounts.actions import UnitView
from server.accounts.model import UnitKind
from server.app import create_app
from server.core.audit import AuditEntry
from server.core.auth import Principal, Role
from server.core.context import Context
from server.core.errors import AppError, Forbidden, NotFound
from server.core.notifier import RecordingNotifier
from server.core.web import CTX, SESSION_COOKIE
from server.rooms import actions as rooms
from server.rooms.actions import RegionView, RoomView
from server.rooms.model import RegionLevel, RoomFields
from server.topics import actions as topics
from server.topics.actions import handling, similarity
from server.topics.classify import CATEGORIES
from server.topics.model import Submission, TopicStatus
from server.topics.tables import (
    DeadlineExtension,
    Notification,
    Topic,
    TopicCorrection,
    TopicDeadline,
    TopicEvent,
    TopicPhoto,
)
from tests.conftest import make_settings
from tests.factories import PASSWORD, City, make_city

ALLOWED, FORBIDDEN, NOT_FOUND = "allowed", "403", "404"
MISSING_ID = 999_999

# --- the territory and the actors ---------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    role: Role
    region: str
    unit: str | None = None
    must_change_password: bool = False


ACTORS: dict[str, Actor] = {
    "admin@city": Actor(Role.ADMIN, "city"),
    "admin@A": Actor(Role.ADMIN, "A"),
    "dispatcher@A": Actor(Role.DISPATCHER, "A"),
    "dispatcher@B": Actor(Role.DISPATCHER, "B"),
    "handler@U": Actor(Role.HANDLER, "A1", unit="U"),
    "handler@V": Actor(Role.HANDLER, "A", unit="V"),
    "room-chief@A": Actor(Role.ROOM_CHIEF, "A1-community"),
    "info-officer@A": Actor(Role.INFO_OFFICER, "A1"),
    "new-pw-dispatcher@A": Actor(Role.DISPATCHER, "A", must_change_password=True),
    "new-pw-handler@U": Actor(Role.HANDLER, "A1", unit="U", must_change_password=True),
}
UNITS: dict[str, tuple[UnitKind, str]] = {
    "relay@city": (UnitKind.RELAY, "city"),
    "relay@A": (UnitKind.RELAY, "A"),
    "U": (UnitKind.TOWN, "A1"),
    "V": (UnitKind.DEPARTMENT, "A"),
    "T2": (UnitKind.TOWN, "A2"),
    "relay@B": (UnitKind.RELAY, "B"),
    "X": (UnitKind.TOWN, "B1"),
    "dept@city": (UnitKind.DEPARTMENT, "city"),
}
DISPATCH_A = ("admin@city", "admin@A", "dispatcher@A")
DISPATCH_B = ("admin@city", "dispatcher@B")
VIEW_A = (*DISPATCH_A, "room-chief@A", "info-officer@A")
UNIT_U = (*DISPATCH_A, "handler@U")
UNIT_V = (*DISPATCH_A, "handler@V")
BUS = {
    "title": "12路公交车站太远",
    "description": "12路公交车的站点离小区太远，老人每天要走二十分钟才能坐上车，希望增设站点。",
}
BUS_AGAIN = {
    "title": "希望12路公交增设站点",
    "description": "小区老人坐12路公交车要走二十分钟到站点，希望在小区门口增设一个站点。",
}

SPARE = {  # topics to merge into; unlike each other and every other topic here
    "A": {"title": "垃圾分类不规范", "description": "垃圾桶旁边经常堆满没有分类的垃圾，气味很大。"},
    "B": {"title": "广场舞噪音扰民", "description": "每天晚上广场舞音响声音太大，影响居民休息。"},
}


@dataclass
class World:
    ctx: Context
    city: City
    regions: dict[str, RegionView]
    units: dict[str, UnitView]
    staff: dict[str, Principal]
    tokens: dict[str, str]  # session tokens, for socket.io consoles
    spare: dict[str, int]  # per side, a submitted topic to merge into
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def admin(self) -> Principal:
        return self.staff["admin@city"]

    def room(self, side: str) -> RoomView:
        return self.city.room if side == "A" else self.city.other_room

    def region_rooms(self, side: str) -> list[str]:
        """The socket.io rooms of the regions above a topic raised in ``side``'s room."""
        names = ("city", side, f"{side}1", f"{side}1-community")
        return [f"region:{self.regions[n].id}" for n in names]

    async def raise_topic(self, side: str, **text: str) -> int:
        n = next(self.counter)
        text = {
            "title": f"楼道灯坏了{n}号",
            "description": "三号楼二单元楼道灯坏了一个星期。",
        } | text
        done = await topics.submit_topic(
            self.ctx,
            Submission(text["title"], text["description"], "demand"),
            [],
            room_code=self.room(side).code,
            device_id=f"device-{n}",
            ip=f"192.0.{n // 200}.{n % 200}",  # one each: intake is rate-limited per address
        )
        return done.topic_id

    async def enrol(self, key: str, a: Actor) -> tuple[Principal, str]:
        """A staff account for ``a``, logged in: its principal and session token."""
        username = key.lower().replace("@", ".")
        created = await accounts.create_user(
            self.ctx,
            None,
            username=username,
            display_name=key,
            role=a.role,
            region_id=self.regions[a.region].id,
            password=None if a.must_change_password else PASSWORD,
            unit_id=self.units[a.unit].id if a.unit else None,
        )
        login = await accounts.login(
            self.ctx,
            username=username,
            password=created.one_time_password or PASSWORD,
            ip=f"10.0.{next(self.counter)}.1",  # one each: logins are rate-limited per address
        )
        assert login.principal.must_change_password is a.must_change_password
        return login.principal, login.token

    async def version(self, topic_id: int) -> int:
        async with self.ctx.db.read() as session:
            topic = await session.get(Topic, topic_id)
        return topic.version if topic else 1

    async def topic(self, topic_id: int) -> Topic:
        async with self.ctx.db.read() as session:
            topic = await session.get(Topic, topic_id)
        assert topic is not None
        return topic

    async def route(self, topic_id: int, unit: str) -> None:
        v = await self.version(topic_id)
        await topics.route_topic(
            self.ctx, self.admin, topic_id, version=v, unit_id=self.units[unit].id
        )

    async def move(self, topic_id: int, to: TopicStatus) -> None:
        v = await self.version(topic_id)
        await topics.move_topic(self.ctx, self.admin, topic_id, to, version=v)


async def make_world(ctx: Context) -> World:
    city = await make_city(ctx)
    town2 = await rooms.create_region(
        ctx, None, parent_id=city.county.id, level=RegionLevel.TOWN, name="城北街道"
    )
    assert city.other_community.parent_id is not None
    other_town = await rooms.get_region(ctx, city.other_community.parent_id)
    assert other_town is not None
    regions = {
        "city": city.city,
        "A": city.county,
        "A1": city.town,
        "A1-community": city.community,
        "A2": town2,
        "B": city.other_county,
        "B1": other_town,
        "B1-community": city.other_community,
    }
    units = {
        key: await accounts.create_unit(
            ctx, None, name=f"{key} 单位", kind=kind, region_id=regions[region].id
        )
        for key, (kind, region) in UNITS.items()
    }
    world = World(ctx, city, regions, units, {}, {}, {})
    for key, actor in ACTORS.items():
        world.staff[key], world.tokens[key] = await world.enrol(key, actor)
    world.spare = {side: await world.raise_topic(side, **SPARE[side]) for side in "AB"}
    return world


async def place(w: World, placement: str, **text: str) -> int:
    """A fresh topic in ``placement``: "missing", or "<side>-<state>" with side A or B."""
    if placement == "missing":
        return MISSING_ID
    side, state = placement.split("-", 1)
    topic_id = await w.raise_topic(side, **text)
    if state == "submitted":
        return topic_id
    await w.move(topic_id, TopicStatus.ACCEPTED)
    if state == "accepted":
        return topic_id
    await w.route(topic_id, f"relay@{side}")
    if state == "dispatched":
        return topic_id
    unit = {"assigned-V": "V", "assigned-X": "X"}.get(state, "U")
    await w.route(topic_id, unit)
    if state == "handling-U":
        await w.move(topic_id, TopicStatus.HANDLING)
    elif state == "paused-U":
        await handling.pause_topic(w.ctx, w.admin, topic_id, reason="等待居民补充材料")
    elif state.startswith("ext-by-"):
        asker = w.staff[state.removeprefix("ext-by-")]
        await handling.request_extension(w.ctx, asker, topic_id, days=3, reason="需协调供电公司")
    else:
        assert state in ("assigned-U", "assigned-V", "assigned-X"), state
    return topic_id


# --- the actions ---------------------------------------------------------------------------------

Act = Callable[[World, Principal, int], Awaitable[object]]


def move(to: TopicStatus, note: str = "") -> Act:
    async def act(w: World, actor: Principal, t: int) -> object:
        return await topics.move_topic(w.ctx, actor, t, to, version=await w.version(t), note=note)

    return act


def escalate(unit: str | None) -> Act:
    """Escalation (提级督办) names its lead, and may hand the topic to a town or department."""

    async def act(w: World, actor: Principal, t: int) -> object:
        return await topics.move_topic(
            w.ctx,
            actor,
            t,
            TopicStatus.ESCALATED,
            version=await w.version(t),
            lead="区住建局 王局长",
            unit_id=w.units[unit].id if unit else None,
        )

    return act


def route(unit: str) -> Act:
    async def act(w: World, actor: Principal, t: int) -> object:
        v = await w.version(t)
        return await topics.route_topic(w.ctx, actor, t, version=v, unit_id=w.units[unit].id)

    return act


def merge_into(side: str) -> Act:
    async def act(w: World, actor: Principal, t: int) -> object:
        v = await w.version(t)
        return await topics.merge_topic(w.ctx, actor, t, w.spare[side], version=v, note="重复")

    return act


async def reclassify(w: World, actor: Principal, t: int) -> object:
    current = (await w.topic(t)).category if t != MISSING_ID else None
    category = next(c for c in CATEGORIES if c != current)
    v = await w.version(t)
    return await topics.correct_classification(w.ctx, actor, t, version=v, category=category)


async def approve_extension(w: World, actor: Principal, t: int) -> object:
    async with w.ctx.db.read() as session:
        ext = await session.scalar(
            select(DeadlineExtension.id).where(DeadlineExtension.topic_id == t)
        )
    assert ext is not None
    return await handling.decide_extension(w.ctx, actor, t, ext, approve=True, note="同意")


async def resolve(w: World, actor: Principal, t: int) -> object:
    v = await w.version(t)
    return await handling.resolve_topic(w.ctx, actor, t, version=v, result="已更换灯具，照明恢复。")


READS: dict[str, Act] = {
    "detail": lambda w, actor, t: topics.topic_detail(w.ctx, actor, t),
    "similar": lambda w, actor, t: topics.similar_for_topic(w.ctx, actor, t),
    "suggest-unit": lambda w, actor, t: topics.suggest_unit(w.ctx, actor, t),
}
WRITES: dict[str, Act] = {
    "accept": move(TopicStatus.ACCEPTED, "属实，受理"),
    "reject": move(TopicStatus.REJECTED, "不属于受理范围"),
    "start-handling": move(TopicStatus.HANDLING),
    "escalate": escalate(None),
    **{f"escalate-to-{unit}": escalate(unit) for unit in ("V", "T2", "X", "dept@city")},
    **{f"route-to-{unit}": route(unit) for unit in UNITS},
    "merge-into-A": merge_into("A"),
    "merge-into-B": merge_into("B"),
    "reclassify": reclassify,
    "contact": lambda w, actor, t: handling.record_contact(w.ctx, actor, t, method="phone"),
    "progress": lambda w, actor, t: handling.add_progress(w.ctx, actor, t, note="已联系物业"),
    "pause": lambda w, actor, t: handling.pause_topic(w.ctx, actor, t, reason="等待居民回复"),
    "resume": lambda w, actor, t: handling.resume_topic(w.ctx, actor, t),
    "ask-extension": lambda w, actor, t: handling.request_extension(
        w.ctx, actor, t, days=2, reason="需要协调"
    ),
    "approve-extension": approve_extension,
    "resolve": resolve,
}


# --- observing one attempt -----------------------------------------------------------------------

TABLES = (
    Topic,
    TopicEvent,
    TopicDeadline,
    DeadlineExtension,
    TopicCorrection,
    TopicPhoto,
    Notification,
    AuditEntry,
)


async def snapshot(ctx: Context, *topic_ids: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a topic action could write (versions, statuses, events, deadlines,
    extensions, corrections, photos, notifications, the audit log): all of them, or
    those of the given topics."""
    found = {}
    async with ctx.db.read() as session:
        for model in TABLES:
            table = model.__table__
            query = select(table).order_by(table.c.id)
            if topic_ids and model is Topic:
                query = query.where(table.c.id.in_(topic_ids))
            elif topic_ids and model is AuditEntry:
                query = query.where(table.c.target.in_([f"topic:{t}" for t in topic_ids]))
            elif topic_ids:
                query = query.where(table.c.topic_id.in_(topic_ids))
            found[model.__tablename__] = [tuple(r) for r in await session.execute(query)]
    return found


def changed(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]
) -> list[str]:
    return [name for name in before if before[name] != after[name]]


async def push_problems(w: World, notifier: RecordingNotifier, topic_id: int) -> list[str]:
    """What is wrong with the pushes an allowed change sent: topic events go to the
    rooms of the topic's regions and its unit, exactly; notifications only to staff
    whose territory or unit holds the topic."""
    topic = await w.topic(topic_id)
    side = "A" if topic.room_id == w.city.room.id else "B"
    rooms = w.region_rooms(side) + ([f"unit:{topic.unit_id}"] if topic.unit_id else [])
    entitled = {
        f"user:{p.user_id}"
        for key, p in w.staff.items()
        if ACTORS[key].region in ("city", side, f"{side}1", f"{side}1-community")
        and (p.unit_id is None or p.unit_id == topic.unit_id)
    }
    problems = []
    for sent in notifier.sent:
        if sent.event == "topic" and sent.rooms != rooms:
            problems.append(f"topic pushed to {sent.rooms}, not {rooms}")
        elif sent.event == "notification" and not set(sent.rooms) <= entitled:
            problems.append(f"notification pushed to outsiders {set(sent.rooms) - entitled}")
        elif sent.event not in ("topic", "notification"):
            problems.append(f"unexpected push {sent.event}")
    if not any(s.event == "topic" for s in notifier.sent):
        problems.append("no topic push")
    return problems


async def attempt(
    w: World, notifier: RecordingNotifier, actor: str, action: str, topic_id: int
) -> str:
    """The outcome of one actor trying one action, as the matrix spells it."""
    before = await snapshot(w.ctx)
    notifier.sent.clear()
    act = READS.get(action) or WRITES[action]
    try:
        await act(w, w.staff[actor], topic_id)
    except AppError as exc:
        outcome = {Forbidden: FORBIDDEN, NotFound: NOT_FOUND}.get(
            type(exc), f"{exc.status} {exc.code}"
        )
        if diff := changed(before, await snapshot(w.ctx)):
            outcome += f", but changed {diff}"
        if notifier.sent:
            outcome += f", but pushed {[s.rooms for s in notifier.sent]}"
        return outcome
    diff = changed(before, await snapshot(w.ctx))
    problems = []
    if action in READS:  # reading changes nothing and tells nobody
        problems += [f"changed {diff}"] if diff else []
        problems += [f"pushed to {[s.rooms for s in notifier.sent]}"] if notifier.sent else []
    else:
        problems += [] if diff else ["changed nothing"]
        problems += await push_problems(w, notifier, topic_id)
    return ", ".join([ALLOWED, *problems])


# --- the matrix ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    action: str
    placement: str
    allowed: tuple[str, ...]  # every other actor is refused with 403
    why: str = ""
    actors: tuple[str, ...] = tuple(ACTORS)  # who tries

    @property
    def id(self) -> str:
        left_out = [a for a in ACTORS if a not in self.actors]
        if len(self.actors) == 1:
            return f"{self.action}--{self.placement}--{self.actors[0]}"
        if left_out:
            return f"{self.action}--{self.placement}--without-{'+'.join(left_out)}"
        return f"{self.action}--{self.placement}"

    def expected(self) -> dict[str, str]:
        if self.placement == "missing":
            return dict.fromkeys(self.actors, NOT_FOUND)
        return {a: ALLOWED if a in self.allowed else FORBIDDEN for a in self.actors}

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


MATRIX = [
    # Seeing a topic: the territory's staff; a handler only its own unit's.
    Row("detail", "A-submitted", VIEW_A),
    Row("detail", "A-assigned-U", (*VIEW_A, "handler@U")),
    Row("detail", "A-assigned-V", (*VIEW_A, "handler@V")),
    Row("detail", "B-submitted", DISPATCH_B),
    Row("detail", "missing", ()),
    Row("similar", "A-assigned-U", (*VIEW_A, "handler@U")),
    Row("similar", "B-submitted", DISPATCH_B),
    Row("similar", "missing", ()),
    Row("suggest-unit", "A-accepted", VIEW_A, "handlers have no routing table"),
    # Deciding on a new topic: the dispatchers of its territory.
    Row("accept", "A-submitted", DISPATCH_A),
    Row("accept", "B-submitted", DISPATCH_B),
    Row("accept", "missing", ()),
    Row("reject", "A-submitted", DISPATCH_A),
    Row("reclassify", "A-submitted", DISPATCH_A),
    Row("reclassify", "A-assigned-U", DISPATCH_A, "the unit's handler may not relabel"),
    Row("reclassify", "B-submitted", DISPATCH_B),
    Row("reclassify", "missing", ()),
    # Routing: to a unit that serves the topic's region and lies in the actor's territory.
    Row("route-to-relay@A", "A-accepted", DISPATCH_A),
    Row("route-to-relay@A", "B-accepted", (), "relay@A does not serve park B"),
    Row("route-to-relay@A", "missing", ()),
    Row("route-to-relay@B", "A-accepted", (), "relay@B does not serve county A"),
    Row("route-to-relay@B", "B-accepted", DISPATCH_B),
    Row("route-to-relay@city", "A-accepted", ("admin@city",), "above county A's territory"),
    Row("route-to-U", "A-dispatched", DISPATCH_A),
    Row("route-to-V", "A-dispatched", DISPATCH_A),
    Row("route-to-T2", "A-dispatched", (), "town A2's unit does not serve town A1"),
    Row("route-to-X", "A-dispatched", (), "park B's unit, outside county A"),
    # Merging: both topics must lie in the actor's territory.
    Row("merge-into-A", "A-submitted", DISPATCH_A),
    Row("merge-into-B", "A-submitted", ("admin@city",), "across territories"),
    Row("merge-into-A", "B-submitted", ("admin@city",), "across territories"),
    # Handling: the assigned unit's handlers and the territory's dispatchers.
    Row("start-handling", "A-assigned-U", UNIT_U),
    Row("start-handling", "A-assigned-V", UNIT_V),
    # Escalating (提级督办) may hand the topic to a town or department serving its region,
    # at or above the actor's level; the unit's own handler may hand it on too.
    Row("escalate", "A-handling-U", UNIT_U),
    Row("escalate-to-V", "A-handling-U", (*DISPATCH_A, "handler@U")),
    Row("escalate-to-dept@city", "A-handling-U", (*DISPATCH_A, "handler@U")),
    Row("escalate-to-T2", "A-handling-U", (), "town A2's unit does not serve town A1"),
    Row("escalate-to-X", "A-handling-U", (), "park B's unit, outside county A"),
    Row("contact", "A-assigned-U", UNIT_U),
    Row("contact", "A-assigned-V", UNIT_V),
    Row("contact", "B-assigned-X", DISPATCH_B),
    Row("contact", "missing", ()),
    Row("progress", "A-assigned-U", UNIT_U),
    Row("progress", "B-assigned-X", DISPATCH_B),
    Row("pause", "A-assigned-U", UNIT_U),
    Row("resume", "A-paused-U", UNIT_U),
    Row("ask-extension", "A-assigned-U", UNIT_U),
    Row("approve-extension", "A-ext-by-handler@U", DISPATCH_A, "a handler cannot decide"),
    Row(
        "approve-extension",
        "A-ext-by-dispatcher@A",
        ("admin@city", "admin@A"),
        "dispatcher@A may not decide its own request",
    ),
    Row("resolve", "A-handling-U", UNIT_U),
]


@pytest.mark.parametrize("row", [r.param() for r in MATRIX])
async def test_matrix(ctx: Context, notifier: RecordingNotifier, row: Row) -> None:
    w = await make_world(ctx)
    observed: dict[str, str] = {}
    shared: int | None = None  # clean refusals and reads change nothing: they share a topic
    for actor, expected in row.expected().items():
        fresh = expected == ALLOWED and row.action in WRITES
        topic_id = shared if shared is not None and not fresh else await place(w, row.placement)
        observed[actor] = outcome = await attempt(w, notifier, actor, row.action, topic_id)
        if not fresh:
            clean = outcome in (FORBIDDEN, NOT_FOUND) or (
                outcome == ALLOWED and row.action in READS
            )
            shared = topic_id if clean else None
    assert observed == row.expected(), row.why


# --- the queue -----------------------------------------------------------------------------------

QUEUE_PLACEMENTS = ("A-submitted", "A-assigned-U", "A-assigned-V", "B-submitted", "B-assigned-X")
IN_A = {"A-spare", "A-submitted", "A-assigned-U", "A-assigned-V"}
IN_B = {"B-spare", "B-submitted", "B-assigned-X"}
QUEUES: list[Any] = [
    *(
        pytest.param(actor, "", expected, id=actor)
        for actor, expected in {
            "admin@city": IN_A | IN_B,
            "admin@A": IN_A,
            "dispatcher@A": IN_A,
            "dispatcher@B": IN_B,
            "handler@U": {"A-assigned-U"},
            "handler@V": {"A-assigned-V"},
            "room-chief@A": IN_A,
            "info-officer@A": IN_A,
            "new-pw-dispatcher@A": FORBIDDEN,
        }.items()
    ),
    pytest.param(
        "new-pw-handler@U",
        "",
        FORBIDDEN,
        id="new-pw-handler@U",
    ),
    # Asking for someone else's place or unit does not widen anyone's queue.
    pytest.param("admin@city", "region=B", IN_B, id="admin@city-region=B"),
    pytest.param("admin@A", "region=B", FORBIDDEN, id="admin@A-region=B"),
    pytest.param("dispatcher@A", "region=B", FORBIDDEN, id="dispatcher@A-region=B"),
    pytest.param("dispatcher@A", "region=city", FORBIDDEN, id="dispatcher@A-region=city"),
    pytest.param("dispatcher@A", "unit=X", set(), id="dispatcher@A-unit=X"),
    pytest.param("handler@U", "region=B", set(), id="handler@U-region=B"),
    pytest.param("handler@U", "unit=V", {"A-assigned-U"}, id="handler@U-unit=V"),
    pytest.param("room-chief@A", "search=B", set(), id="room-chief@A-search=B"),
]


@pytest.mark.parametrize(("actor", "query", "expected"), QUEUES)
async def test_queue_lists_exactly_the_actors_topics(
    ctx: Context, actor: str, query: str, expected: set[str] | str
) -> None:
    w = await make_world(ctx)
    named = {p: await place(w, p) for p in QUEUE_PLACEMENTS}
    named |= {"A-spare": w.spare["A"], "B-spare": w.spare["B"]}
    names = {topic_id: name for name, topic_id in named.items()}
    key, _, value = query.partition("=")
    kwargs: dict[str, Any] = {}
    if key == "region":
        kwargs["region_id"] = w.regions[value].id
    elif key == "unit":
        kwargs["unit_id"] = w.units[value].id
    elif key == "search":  # a county B topic's number
        kwargs["search"] = (await w.topic(named[f"{value}-submitted"])).number
    try:
        listed = await topics.list_topics(ctx, w.staff[actor], **kwargs)
    except Forbidden:
        seen: set[str] | str = FORBIDDEN
    else:
        seen = {names[t.id] for t in listed.topics}
        assert listed.total == len(listed.topics)  # the count leaks nothing either
    assert seen == expected


async def test_a_handlers_queue_holds_every_topic_it_may_open(ctx: Context) -> None:
    w = await make_world(ctx)
    north = await rooms.create_region(
        ctx, None, parent_id=w.regions["A2"].id, level=RegionLevel.COMMUNITY, name="北苑社区"
    )
    room = await rooms.create_room(
        ctx, None, region_id=north.id, fields=RoomFields("北苑社区议事室", "赵室长", "北苑1号", "")
    )
    handler, _ = await w.enrol("handler@V-in-A1", Actor(Role.HANDLER, "A1", unit="V"))
    raised = await topics.submit_topic(
        ctx,
        Submission("北苑路灯不亮", "北苑小区门口的路灯坏了半个月，晚上出行不安全。", "demand"),
        [],
        room_code=room.code,
        device_id="north-1",
        ip="198.51.100.1",
    )
    t = raised.topic_id
    await w.move(t, TopicStatus.ACCEPTED)
    await w.route(t, "relay@A")
    await w.route(t, "V")
    assert (await topics.topic_detail(ctx, handler, t)).may_handle
    assert [x.id for x in (await topics.list_topics(ctx, handler)).topics] == [t]


# --- bulk routing --------------------------------------------------------------------------------


async def test_bulk_routing_refuses_item_by_item_and_changes_only_the_routed(
    ctx: Context, notifier: RecordingNotifier
) -> None:
    w = await make_world(ctx)
    mine, theirs, stale, far = [
        await place(w, p) for p in ("A-accepted", "B-accepted", "A-accepted", "A-accepted")
    ]
    refused = (theirs, stale, far)
    before = await snapshot(ctx, *refused)
    notifier.sent.clear()
    dispatcher = w.staff["dispatcher@A"]
    relay = w.units["relay@A"].id
    outcomes = await topics.route_topics(
        ctx, dispatcher, [(mine, 2), (theirs, 2), (stale, 1), (MISSING_ID, 1)], unit_id=relay
    )
    assert [(o.topic_id, o.ok, o.error) for o in outcomes] == [
        (mine, True, ""),
        (theirs, False, "forbidden"),
        (stale, False, "stale_update"),
        (MISSING_ID, False, "not_found"),
    ]
    assert (await w.topic(mine)).unit_id == relay
    outside = await topics.route_topics(ctx, dispatcher, [(far, 2)], unit_id=w.units["X"].id)
    assert [(o.ok, o.error) for o in outside] == [(False, "forbidden")]
    by_handler = await topics.route_topics(ctx, w.staff["handler@U"], [(far, 2)], unit_id=relay)
    assert [(o.ok, o.error) for o in by_handler] == [(False, "forbidden")]
    assert await snapshot(ctx, *refused) == before
    assert [(s.payload["topic"]["id"], s.rooms) for s in notifier.sent] == [
        (mine, [*w.region_rooms("A"), f"unit:{relay}"])
    ]


# --- similar topics and clusters -----------------------------------------------------------------


async def test_similar_topics_stay_inside_the_actors_territory_or_unit(ctx: Context) -> None:
    w = await make_world(ctx)
    bus = {
        "U": await place(w, "A-assigned-U", **BUS),
        "U-2": await place(w, "A-assigned-U", **BUS_AGAIN),
        "A": await place(w, "A-submitted", **BUS_AGAIN),
        "B": await place(w, "B-submitted", **BUS_AGAIN),
    }
    names = {topic_id: name for name, topic_id in bus.items()}

    async def similar(actor: str, topic: str) -> set[str] | str:
        try:
            found = await topics.similar_for_topic(ctx, w.staff[actor], bus[topic])
        except Forbidden:
            return FORBIDDEN
        return {names[m.topic.id] for m in found}

    seen = {actor: await similar(actor, "U") for actor in ACTORS}
    assert seen == {
        "admin@city": {"U-2", "A", "B"},
        "admin@A": {"U-2", "A"},
        "dispatcher@A": {"U-2", "A"},
        "dispatcher@B": FORBIDDEN,
        "handler@U": {"U-2"},
        "handler@V": FORBIDDEN,
        "room-chief@A": {"U-2", "A"},
        "info-officer@A": {"U-2", "A"},
        "new-pw-dispatcher@A": FORBIDDEN,
        "new-pw-handler@U": FORBIDDEN,
    }
    assert await similar("dispatcher@B", "B") == set()  # its twins are all in county A
    assert await similar("admin@city", "B") == {"U", "U-2", "A"}


async def test_clusters_count_only_the_actors_territory_and_handlers_get_none(
    ctx: Context,
) -> None:
    w = await make_world(ctx)
    bus = {
        "A-1": await place(w, "A-submitted", **BUS),
        "A-2": await place(w, "A-submitted", **BUS_AGAIN),
        "B": await place(w, "B-submitted", **BUS_AGAIN),
    }
    names = {topic_id: name for name, topic_id in bus.items()}
    query = similarity.cluster_query(ctx, min_topics=2, min_rooms=1, threshold=0.2)

    async def clusters(actor: str) -> list[set[str]] | str:
        try:
            found = await topics.topic_clusters(ctx, w.staff[actor], query)
        except Forbidden:
            return FORBIDDEN
        return [{names.get(t.id, str(t.id)) for t in c.topics} for c in found]

    seen = {actor: await clusters(actor) for actor in ACTORS}
    in_a = [{"A-1", "A-2"}]
    assert seen == {
        "admin@city": [{"A-1", "A-2", "B"}],
        "admin@A": in_a,
        "dispatcher@A": in_a,
        "dispatcher@B": [],  # one topic of its own: no cluster built from county A's
        "handler@U": FORBIDDEN,
        "handler@V": FORBIDDEN,
        "room-chief@A": in_a,
        "info-officer@A": in_a,
        "new-pw-dispatcher@A": FORBIDDEN,
        "new-pw-handler@U": FORBIDDEN,
    }


# --- pushes and notifications --------------------------------------------------------------------


async def test_pushes_follow_the_topic_to_its_regions_and_its_unit_only(
    ctx: Context, notifier: RecordingNotifier
) -> None:
    w = await make_world(ctx)
    notifier.sent.clear()
    handler = w.staff["handler@U"]
    t = await w.raise_topic("A")
    await topics.move_topic(ctx, w.staff["dispatcher@A"], t, TopicStatus.ACCEPTED, version=1)
    await w.route(t, "relay@A")
    await w.route(t, "U")
    await topics.move_topic(ctx, handler, t, TopicStatus.HANDLING, version=4)
    await handling.record_contact(ctx, handler, t, method="visit")
    await handling.resolve_topic(ctx, handler, t, version=5, result="已更换灯具，照明恢复。")
    region_a = w.region_rooms("A")
    relay, unit_u = f"unit:{w.units['relay@A'].id}", f"unit:{w.units['U'].id}"
    assert [(s.event, s.payload["op"], s.rooms) for s in notifier.sent] == [
        ("topic", "submitted", region_a),
        ("topic", "moved", region_a),  # accepted
        ("topic", "moved", [*region_a, relay]),  # dispatched
        ("topic", "moved", [*region_a, unit_u]),  # assigned
        ("topic", "moved", [*region_a, unit_u]),  # handling
        ("topic", "updated", [*region_a, unit_u]),  # contact
        ("topic", "moved", [*region_a, unit_u]),  # resolved
    ]
    never = {f"region:{w.regions[r].id}" for r in ("B", "B1", "B1-community", "A2")}
    never |= {f"unit:{w.units[u].id}" for u in ("V", "X", "T2", "relay@B", "relay@city")}
    assert never.isdisjoint(room for s in notifier.sent for room in s.rooms)


async def test_extension_requests_tell_the_territorys_supervisors_only(
    ctx: Context, notifier: RecordingNotifier
) -> None:
    w = await make_world(ctx)
    t = await place(w, "A-assigned-U")
    notifier.sent.clear()
    await handling.request_extension(ctx, w.staff["handler@U"], t, days=3, reason="需协调")
    [asked] = [s for s in notifier.sent if s.event == "notification"]
    supervisors = ("admin@city", "admin@A", "dispatcher@A", "new-pw-dispatcher@A")
    assert sorted(asked.rooms) == sorted(f"user:{w.staff[a].user_id}" for a in supervisors)

    async def inbox(actor: str) -> list[str]:
        return [n.kind for n in (await topics.deadlines.list_notifications(ctx, w.staff[actor]))[0]]

    assert {a: await inbox(a) for a in ACTORS} == {
        a: ["extension.requested"] if a in supervisors else [] for a in ACTORS
    }
    (note,), _ = await topics.deadlines.list_notifications(ctx, w.staff["dispatcher@A"])
    for outsider in ("dispatcher@B", "handler@V", "handler@U"):  # not theirs to mark read
        assert await topics.deadlines.mark_read(ctx, w.staff[outsider], [note.id]) == 0
    assert (await topics.deadlines.list_notifications(ctx, w.staff["dispatcher@A"]))[1] == 1
    notifier.sent.clear()
    async with ctx.db.read() as session:
        ext = await session.scalar(select(DeadlineExtension.id))
    assert ext is not None
    await handling.decide_extension(ctx, w.staff["dispatcher@A"], t, ext, approve=True)
    [told] = [s for s in notifier.sent if s.event == "notification"]
    assert told.rooms == [f"user:{w.staff['handler@U'].user_id}"]


# --- the live channel, end to end ----------------------------------------------------------------


@pytest.fixture
async def live_server(aiohttp_server: Any, tmp_path: Path, database_url: str) -> TestServer:
    settings = make_settings(tmp_path, database_url, PUBLIC_BASE_URL="http://127.0.0.1")
    server: TestServer = await aiohttp_server(create_app(settings))  # the real notifier
    return server


class Console:
    """A staff console: a socket.io client on /staff that keeps the topics it is sent."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.topics: list[tuple[str, int, str]] = []  # (op, topic id, status)
        self.arrived = asyncio.Event()
        self.client.on("topic", self.on_topic, namespace="/staff")

    async def on_topic(self, data: dict[str, Any]) -> None:
        self.topics.append((data["op"], data["topic"]["id"], data["topic"]["status"]))
        self.arrived.set()

    async def connect(self, server: TestServer, token: str) -> None:
        await self.client.connect(
            str(server.make_url("/")),
            namespaces=["/staff"],
            headers={"Cookie": f"{SESSION_COOKIE}={token}"},
            transports=["websocket"],
            wait_timeout=5,
        )

    async def heard(self) -> list[tuple[str, int, str]]:
        await asyncio.wait_for(self.arrived.wait(), 5)
        self.arrived.clear()
        return self.topics


@pytest.fixture
async def consoles() -> AsyncIterator[dict[str, Console]]:
    made: dict[str, Console] = {}
    yield made
    for console in made.values():
        await console.client.disconnect()


async def test_live_consoles_hear_only_their_unit_or_territory(
    live_server: TestServer, consoles: dict[str, Console]
) -> None:
    w = await make_world(live_server.app[CTX])
    to_u, to_v, in_b = [await place(w, p) for p in ("A-dispatched", "A-dispatched", "B-accepted")]
    for actor in ("handler@U", "handler@V", "dispatcher@A", "dispatcher@B"):
        consoles[actor] = Console()
        await consoles[actor].connect(live_server, w.tokens[actor])
    consoles["new-pw-handler@U"] = Console()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await consoles["new-pw-handler@U"].connect(live_server, w.tokens["new-pw-handler@U"])

    await w.route(to_u, "U")
    assert await consoles["handler@U"].heard() == [("moved", to_u, "assigned")]
    assert await consoles["dispatcher@A"].heard() == [("moved", to_u, "assigned")]
    await asyncio.sleep(0.3)  # long enough for a misrouted push to have arrived
    assert consoles["handler@V"].topics == consoles["dispatcher@B"].topics == []

    # The silent consoles are live: each hears its own topic, and only that.
    await w.route(to_v, "V")
    await w.route(in_b, "relay@B")
    assert await consoles["handler@V"].heard() == [("moved", to_v, "assigned")]
    assert await consoles["dispatcher@B"].heard() == [("moved", in_b, "dispatched")]
    await asyncio.sleep(0.3)
    assert consoles["handler@U"].topics == [("moved", to_u, "assigned")]
    assert consoles["handler@V"].topics == [("moved", to_v, "assigned")]
    assert consoles["dispatcher@B"].topics == [("moved", in_b, "dispatched")]
