"""A demo city for `make run`: regions, a dozen rooms, staff with one-time passwords, topics."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from pathlib import Path

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal, Role
from server.core.clock import LOCAL_TZ, FakeClock
from server.core.context import Context
from server.deliberations.actions import room, schedule
from server.deliberations.actions.common import staff_identity
from server.outcomes import actions as outcome_actions
from server.rooms import actions as rooms
from server.rooms.model import RegionLevel, RoomFields
from server.topics import actions as topics
from server.topics.actions import handling
from server.topics.model import Submission, TopicStatus

CITY = "安和市"
TREE: dict[tuple[str, RegionLevel], dict[str, list[str]]] = {
    ("清河区", RegionLevel.COUNTY): {
        "城南街道": ["幸福里社区", "书香苑社区", "河畔社区"],
        "王营镇": ["王营村", "新河村"],
    },
    ("运河县", RegionLevel.COUNTY): {
        "码头镇": ["码头社区", "漕运村"],
        "运东街道": ["运东社区", "丽景社区"],
    },
    ("高新开发园区", RegionLevel.PARK): {
        "科创街道": ["创业社区", "智谷社区", "蓝湾社区"],
    },
}
# Receiving units (派单 targets): name, kind, the region they serve.
UNITS = [
    ("清河区县区中转中心", UnitKind.RELAY, "清河区"),
    ("城南街道办事处", UnitKind.TOWN, "城南街道"),
    ("王营镇人民政府", UnitKind.TOWN, "王营镇"),
    ("清河区住房和城乡建设局", UnitKind.DEPARTMENT, "清河区"),
    ("清河区教育体育局", UnitKind.DEPARTMENT, "清河区"),
    ("清河区医疗保障局", UnitKind.DEPARTMENT, "清河区"),
    ("运河县县区中转中心", UnitKind.RELAY, "运河县"),
    ("高新园区中转中心", UnitKind.RELAY, "高新开发园区"),
]
# username, display name, role, region, unit (handlers work for one)
STAFF = [
    ("admin", "系统管理员", Role.ADMIN, None, None),
    ("dispatcher", "清河区派单员", Role.DISPATCHER, "清河区", None),
    ("info.chengnan", "城南街道信息员", Role.INFO_OFFICER, "城南街道", None),
    ("handler.chengnan", "城南街道专人", Role.HANDLER, "城南街道", "城南街道办事处"),
    ("chief.xingfu", "幸福里室长", Role.ROOM_CHIEF, "幸福里社区", None),
]
TOPICS = [
    (
        "小区电动车充电桩不够用",
        "幸福里小区只有两组充电桩，晚上经常排队，有居民在楼道里私拉电线充电，存在火灾隐患，希望增设充电桩。",
        "demand",
    ),
    (
        "老旧小区加装电梯进展缓慢",
        "3号楼住着很多老人，加装电梯的申请交了一年多还没有动静，想了解审批到哪一步了。",
        "demand",
    ),
    (
        "建议在社区开办老年助餐点",
        "社区独居老人较多，做饭不方便，建议利用党群服务中心一楼开设老年助餐点，按成本价供餐。",
        "suggestion",
    ),
    (
        "学校门口早晚高峰拥堵",
        "实验小学门口上下学时段车辆乱停，孩子过马路很危险，希望交警和学校一起想办法，比如设置临时停车带。",
        "demand",
    ),
    (
        "医保异地报销手续繁琐",
        "在外地住院的医药费回来报销要跑好几趟，材料要求也不清楚，希望能一次说清楚或者网上办理。",
        "demand",
    ),
    (
        "河边步道路灯不亮",
        "河畔社区沿河步道有七八盏路灯坏了半个月，晚上散步看不清路，已经有人摔倒。",
        "demand",
    ),
    (
        "建议增加垃圾分类指导员",
        "垃圾分类投放点经常混投，建议早晚投放时段安排志愿者或指导员现场指导。",
        "suggestion",
    ),
    (
        "物业费上涨没有公示",
        "小区物业通知明年物业费上涨，但没有公开收支情况，也没有开业主大会，希望社区协调公开账目。",
        "demand",
    ),
]


# The topics raised two months before the demo starts (the others are new today).
HISTORY = frozenset(range(1, 7))

# The demo room's first topic, escalated to a key topic (提级督办), on a session announced
# for tomorrow evening (协商议事会): the live room's pages (/host, /watch) have one to show.
SESSION_LEAD = "清河区住房和城乡建设局"
SESSION_TITLE = "增设充电桩协商议事会"


@dataclass(frozen=True, slots=True)
class DemoResult:
    created: bool
    room_id: int
    logins: list[dict[str, str]]


def demo_file(data_dir: Path) -> Path:
    return data_dir / "demo.json"


async def load_demo(ctx: Context) -> DemoResult:
    """Create the demo city unless the database already has regions.

    Writes the one-time passwords to ``demo.json`` in the data dir (mode 0600) so
    `make run` can show them again until they are changed.
    """
    path = demo_file(ctx.settings.data_dir)
    if await rooms.list_region_tree(ctx, None):
        if path.exists():
            saved = json.loads(path.read_text("utf-8"))
            return DemoResult(False, int(saved["room_id"]), list(saved["logins"]))
        return DemoResult(False, 0, [])
    city = await rooms.create_region(ctx, None, parent_id=None, level=RegionLevel.CITY, name=CITY)
    by_name = {CITY: city.id}
    paths = {CITY: city.path}
    room_ids: list[int] = []
    for (county_name, level), towns in TREE.items():
        county = await rooms.create_region(
            ctx, None, parent_id=city.id, level=level, name=county_name
        )
        by_name[county_name] = county.id
        for town_name, communities in towns.items():
            town = await rooms.create_region(
                ctx, None, parent_id=county.id, level=RegionLevel.TOWN, name=town_name
            )
            by_name[town_name] = town.id
            paths[town_name] = town.path
            for community_name in communities:
                community = await rooms.create_region(
                    ctx, None, parent_id=town.id, level=RegionLevel.COMMUNITY, name=community_name
                )
                by_name[community_name] = community.id
                room = await rooms.create_room(
                    ctx,
                    None,
                    region_id=community.id,
                    fields=RoomFields(
                        name=f"{community_name}协商议事室",
                        chief=f"{community_name[:2]}室长",
                        address=f"{county_name}{town_name}{community_name}党群服务中心二楼",
                        opening_hours="周一至周五 9:00-17:00",
                    ),
                )
                room_ids.append(room.id)
    logins = []
    user_ids: dict[str, int] = {}
    unit_ids: dict[str, int] = {}
    for unit_name, unit_kind, unit_region in UNITS:
        unit = await accounts.create_unit(
            ctx, None, name=unit_name, kind=unit_kind, region_id=by_name[unit_region]
        )
        unit_ids[unit_name] = unit.id
    for username, display, role, staff_region, staff_unit in STAFF:
        created = await accounts.create_user(
            ctx,
            None,
            username=username,
            display_name=display,
            role=role,
            region_id=by_name[staff_region or CITY],
            unit_id=unit_ids[staff_unit] if staff_unit else None,
        )
        logins.append({"username": username, "password": created.one_time_password, "role": role})
        user_ids[username] = created.user.id
    # Most topics were raised two months ago, so the demo has a history (resolved topics,
    # a session's published outcome, ratings) for the public boards; the rest today.
    past = replace(ctx, clock=FakeClock(ctx.clock.now() - timedelta(days=62)))
    submitted = []
    for i, (title, description, kind) in enumerate(TOPICS):
        done = await topics.submit_topic(
            past if i in HISTORY else ctx,
            Submission(title=title, description=description, kind=kind),
            [],
            room_code=(await rooms.get_room(ctx, None, room_ids[i % 3]))[0].code,
            device_id=f"demo-{i}",
            ip="127.0.0.1",
        )
        submitted.append(done.topic_id)
        past.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    # The demo acts as its administrator, whose one-time password nobody has replaced yet.
    admin = Principal(
        user_id=user_ids["admin"],
        username="admin",
        display_name="系统管理员",
        role=Role.ADMIN,
        region_id=city.id,
        region_path=city.path,
        session_id="demo",
        csrf_token="",
    )
    handler = replace(
        admin,
        user_id=user_ids["handler.chengnan"],
        username="handler.chengnan",
        display_name="城南街道专人",
        role=Role.HANDLER,
        region_id=by_name["城南街道"],
        region_path=paths["城南街道"],
        unit_id=unit_ids["城南街道办事处"],
    )
    await _history(past, admin, handler, room_ids[0], submitted, unit_ids)
    await _follow_up(ctx, submitted[3])
    session_id = await _announced_session(ctx, admin, room_ids[0], submitted[0], unit_ids)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(
            {"room_id": room_ids[0], "deliberation_id": session_id, "logins": logins},
            fh,
            ensure_ascii=False,
            indent=2,
        )
    return DemoResult(True, room_ids[0], logins)


async def _to_town(ctx: Context, actor: Principal, topic_id: int, unit_ids: dict[str, int]) -> int:
    """Accept the topic and send it through the county relay to the town office; its
    version."""
    version = (
        await topics.move_topic(ctx, actor, topic_id, TopicStatus.ACCEPTED, version=1)
    ).version
    for unit in ("清河区县区中转中心", "城南街道办事处"):
        moved = await topics.route_topic(
            ctx, actor, topic_id, version=version, unit_id=unit_ids[unit]
        )
        version = moved.version
    return version


async def _history(
    past: Context,
    admin: Principal,
    handler: Principal,
    room_id: int,
    submitted: list[int],
    unit_ids: dict[str, int],
) -> None:
    """Two months of work on the older topics, on a clock that starts after they were
    raised: street lights and waste sorting resolved by the town's handler and rated; the
    school gate resolved; the lift deliberated in a session whose outcome is published and
    40 % done; the rest accepted or sent to the county relay. Nothing is left overdue
    for the town's handler, whose work the demo starts clean."""
    clock: FakeClock = past.clock  # type: ignore[assignment]
    results = {
        5: "已更换沿河步道 8 盏路灯，并安排每周巡查。",
        6: "已招募 6 名志愿者在早晚投放时段现场指导。",
        3: "已协调交警在上下学时段设置临时停车带。",
    }
    for i, result in results.items():
        version = await _to_town(past, admin, submitted[i], unit_ids)
        moved = await topics.move_topic(
            past, handler, submitted[i], TopicStatus.HANDLING, version=version
        )
        clock.advance(timedelta(days=2))
        await handling.resolve_topic(
            past, handler, submitted[i], version=moved.version, result=result
        )
    ratings = [
        (5, 5, "satisfied", "路灯修好了，晚上散步安心多了"),
        (5, 4, "basically_satisfied", ""),
    ]
    ratings += [(6, 5, "satisfied", "志愿者很耐心"), (6, 3, "basically_satisfied", "")]
    for i, score, verdict, comment in ratings:
        oid = await outcome_actions.outcome_for_topic(past, submitted[i])
        assert oid is not None
        await outcome_actions.rate_outcome(
            past,
            oid,
            score=score,
            verdict=verdict,
            comment=comment,
            device_id=f"neighbour-{i}-{score}",
        )
    await topics.move_topic(past, admin, submitted[4], TopicStatus.ACCEPTED, version=1)
    await topics.route_topic(
        past, admin, submitted[4], version=2, unit_id=unit_ids["清河区县区中转中心"]
    )
    await topics.move_topic(past, admin, submitted[2], TopicStatus.ACCEPTED, version=1)
    # The lift: escalated, deliberated, its outcome published and under way.
    version = await _to_town(past, admin, submitted[1], unit_ids)
    await handling.record_contact(
        past, handler, submitted[1], method="visit", note="上门了解3号楼住户意愿"
    )
    await topics.move_topic(
        past, admin, submitted[1], TopicStatus.ESCALATED, version=version, lead=SESSION_LEAD
    )
    starts_at = clock.now() + timedelta(days=2)
    created = await schedule.create_deliberation(
        past,
        admin,
        room_id=room_id,
        title="老旧小区加装电梯协商议事会",
        description="3号楼加装电梯的审批、费用分摊和施工安排。",
        place="幸福里社区党群服务中心二楼",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1, minutes=30),
        capacity=40,
        host_name="幸福里室长",
        agenda=[submitted[1]],
    )
    await schedule.announce(past, admin, created.id, version=created.version)
    clock.advance(timedelta(days=2))
    await schedule.start(past, admin, created.id)
    who = staff_identity(admin, created.id)
    await room.goto_topic(past, who, submitted[1])
    poll = await room.create_poll(
        past, who, question="同意按楼层分摊加装电梯费用吗？", options=["同意", "不同意"]
    )
    await room.open_poll(past, who, poll.id)
    clock.advance(timedelta(minutes=50))
    await schedule.end(past, admin, created.id)
    minutes = await outcome_actions.get_minutes(past, admin, created.id)
    due_on = (clock.now() + timedelta(days=90)).astimezone(LOCAL_TZ).date()
    saved = await outcome_actions.save_minutes(
        past,
        admin,
        created.id,
        version=minutes.version,
        body=minutes.body + "1. 按楼层分摊费用，一楼住户不分摊；住建局牵头办理审批和施工。\n",
        outcomes=[
            outcome_actions.OutcomeInput(
                topic_id=submitted[1],
                decision="按楼层分摊加装电梯费用（一楼不分摊），区住建局牵头办理审批并组织施工。",
                unit_id=unit_ids[SESSION_LEAD],
                lead="区住建局 王局长",
                due_on=due_on,
            )
        ],
    )
    await outcome_actions.publish_minutes(past, admin, created.id, version=saved.version)
    clock.advance(timedelta(days=10))
    lift = await outcome_actions.outcome_for_topic(past, submitted[1])
    assert lift is not None
    view = await outcome_actions.staff_outcome(past, admin, lift)
    await outcome_actions.add_progress(
        past, admin, lift, version=view.version, percent=40, note="审批已通过，施工单位已进场。"
    )


async def _follow_up(ctx: Context, topic_id: int) -> None:
    """Today, the school gate's proposer is not satisfied: the topic is reopened for
    follow-up (回访), its new deadline running from now."""
    school = await outcome_actions.outcome_for_topic(ctx, topic_id)
    assert school is not None
    await outcome_actions.rate_outcome(
        ctx, school, score=2, verdict="unsatisfied", comment="停车带只设了一边", device_id="demo-3"
    )


async def _announced_session(
    ctx: Context, actor: Principal, room_id: int, topic_id: int, unit_ids: dict[str, int]
) -> int:
    """Accept the topic, send it through the county relay to the town office, escalate it
    and put it on an announced session in its room; the session's id."""
    version = await _to_town(ctx, actor, topic_id, unit_ids)
    await topics.move_topic(
        ctx, actor, topic_id, TopicStatus.ESCALATED, version=version, lead=SESSION_LEAD
    )
    tomorrow = ctx.clock.now().astimezone(LOCAL_TZ).date() + timedelta(days=1)
    starts_at = datetime.combine(tomorrow, time(19, 30), LOCAL_TZ)
    created = await schedule.create_deliberation(
        ctx,
        actor,
        room_id=room_id,
        title=SESSION_TITLE,
        description="小区充电桩不够用，居民私拉电线充电有火灾隐患。请居民、物业和住建部门一起商量增设方案。",
        place="幸福里社区党群服务中心二楼",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1, minutes=30),
        capacity=40,
        host_name="幸福里室长",
        agenda=[topic_id],
    )
    announced = await schedule.announce(ctx, actor, created.id, version=created.version)
    return announced.id
