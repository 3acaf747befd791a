"""A seeded city with 18 months of topics, sessions, outcomes and evaluations, for the
report benchmark (benchmarks/reports.py) and its test.

The regions, rooms, units and staff go through the server's own actions (the room import,
``create_unit``, ``create_user``: ``dispatch.make_city``). The scale data (topics and
everything that hangs off them) is bulk-inserted with SQLAlchemy Core into the server's
tables, one transaction per batch of topics, with exactly the rows the actions would
write:

* every topic walks a legal path of ``server.topics.model.TRANSITIONS`` (``transition``
  raises otherwise) and each move is a ``topic_events`` row, with a first-contact record
  before handling and some public progress notes while handling;
* the supervised deadlines open and close as ``server.topics.supervision.plan_for_move``
  says, with the server's own due dates (``deadlines.new_deadline``), met or late;
* a key topic on a session's agenda is scheduled when the session is announced and
  deliberated when it ends; the session's minutes are published with its outcome, which
  moves the topic to implementing (as ``publish_minutes`` does), then dated progress
  updates follow, and the resolving move completes it (``record_resolution``);
* a topic resolved without a session gets the handler's published, complete outcome with
  its one 100 % update (``record_resolution``);
* published outcomes get evaluations: mostly satisfied; a proposer who is unsatisfied
  reopens a resolved topic (``rate_outcome``), so those topics end reopened.

Deterministic for a given seed. ``Seeded`` carries the totals the benchmark checks the
reports against.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dispatch import City, make_city
from similar_probe import Generator, Labelled
from sqlalchemy import insert, select

from server.accounts import actions as accounts
from server.core.auth import Principal, Role, token_digest
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.deliberations.model import CommentStatus, DeliberationStatus, ModerationMode
from server.deliberations.tables import AgendaItem, Deliberation
from server.outcomes.model import (
    MinutesStatus,
    OutcomeSource,
    OutcomeStatus,
    Verdict,
)
from server.outcomes.tables import Evaluation, Minutes, Outcome, OutcomeUpdate
from server.rooms.tables import Region
from server.topics import store
from server.topics.actions import deadlines
from server.topics.actions.classification import classifier
from server.topics.model import (
    OPEN_STATES,
    ActorKind,
    EventKind,
    TopicKind,
    TopicSource,
    TopicStatus,
    counter_key,
    format_number,
    transition,
)
from server.topics.supervision import Outcome as DeadlineOutcome
from server.topics.supervision import Stage, outcome, plan_for_move

# The clock's "now": Wednesday 1 April 2026, 09:00 in China. March 2026 is the last whole
# month and 2026 Q1 the last whole quarter; the seeded history starts 18 months earlier.
NOW = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
MONTHS = 18
SPAN = timedelta(days=548)
BATCH = 2000  # topics per seeding transaction
PASSWORD = "correct horse battery"

S = TopicStatus
# Status by age (days), as in dispatch.py but with the key topics' sessions and reopened
# topics: about 70 % of 18 months of topics end resolved.
STATUS_MIX: list[tuple[float, dict[TopicStatus, int]]] = [
    (2, {S.SUBMITTED: 45, S.ACCEPTED: 20, S.DISPATCHED: 12, S.ASSIGNED: 15, S.REJECTED: 5,
         S.MERGED: 3}),
    (7, {S.SUBMITTED: 4, S.ACCEPTED: 8, S.DISPATCHED: 8, S.ASSIGNED: 22, S.HANDLING: 40,
         S.RESOLVED: 10, S.REJECTED: 5, S.MERGED: 3}),
    (30, {S.ASSIGNED: 4, S.HANDLING: 30, S.ESCALATED: 4, S.SCHEDULED: 2, S.DELIBERATED: 1,
          S.RESOLVED: 48, S.REJECTED: 6, S.MERGED: 4}),
    (90, {S.HANDLING: 7, S.ESCALATED: 2, S.SCHEDULED: 1, S.DELIBERATED: 1, S.IMPLEMENTING: 4,
          S.REOPENED: 2, S.RESOLVED: 66, S.REJECTED: 9, S.MERGED: 6}),
    (math.inf, {S.HANDLING: 3, S.ESCALATED: 1, S.IMPLEMENTING: 3, S.REOPENED: 2,
                S.RESOLVED: 73, S.REJECTED: 10, S.MERGED: 8}),
]  # fmt: skip
_HANDLED = [S.ACCEPTED, S.DISPATCHED, S.ASSIGNED, S.HANDLING]
_ESCALATED = [*_HANDLED, S.ESCALATED]
_SESSION = [*_ESCALATED, S.SCHEDULED, S.DELIBERATED]
# The moves that lead to each status, with weights (each checked against the workflow).
# About 1 topic in 10 is escalated as a key topic; about 1 in 20 goes to a session.
PATHS: dict[TopicStatus, list[tuple[int, list[TopicStatus]]]] = {
    S.SUBMITTED: [(1, [])],
    S.ACCEPTED: [(1, [S.ACCEPTED])],
    S.DISPATCHED: [(1, [S.ACCEPTED, S.DISPATCHED])],
    S.ASSIGNED: [(1, [S.ACCEPTED, S.DISPATCHED, S.ASSIGNED])],
    S.HANDLING: [(1, _HANDLED)],
    S.ESCALATED: [(1, _ESCALATED)],
    S.SCHEDULED: [(1, [*_ESCALATED, S.SCHEDULED])],
    S.DELIBERATED: [(1, _SESSION)],
    S.IMPLEMENTING: [(2, [*_SESSION, S.IMPLEMENTING]), (1, [*_ESCALATED, S.IMPLEMENTING])],
    S.RESOLVED: [
        (36, [*_HANDLED, S.RESOLVED]),
        (1, [*_ESCALATED, S.RESOLVED]),
        (1, [*_SESSION, S.IMPLEMENTING, S.RESOLVED]),
        (1, [*_ESCALATED, S.IMPLEMENTING, S.RESOLVED]),
    ],
    S.REOPENED: [(1, [*_HANDLED, S.RESOLVED, S.REOPENED])],
    S.REJECTED: [(1, [S.REJECTED]), (1, [S.ACCEPTED, S.REJECTED])],
    S.MERGED: [(1, [S.MERGED]), (1, [S.ACCEPTED, S.MERGED])],
}
# Days a move usually takes after the previous one: (low, high).
GAPS = {
    S.ACCEPTED: (0.05, 1.5),
    S.DISPATCHED: (0.05, 1.0),
    S.ASSIGNED: (0.05, 1.0),
    S.HANDLING: (0.2, 3.0),
    S.ESCALATED: (1.0, 10.0),
    S.SCHEDULED: (2.0, 12.0),
    S.DELIBERATED: (3.0, 14.0),  # announced → the session ends
    S.IMPLEMENTING: (1.0, 7.0),  # minutes published some days after the session
    S.RESOLVED: (1.0, 25.0),
    S.REOPENED: (1.0, 15.0),
    S.REJECTED: (0.1, 2.0),
    S.MERGED: (0.1, 3.0),
}
LEADS = ["县住建局 局长", "街道办事处 主任", "区城管局 副局长", "镇人民政府 镇长"]
RESULTS = [
    "已现场处置完毕，经回访居民确认问题解决。",
    "已协调责任单位完成维修，设施恢复正常使用。",
    "已联系物业限期整改，整改情况经复查合格。",
    "已按政策答复居民，并协助办理相关手续。",
    "已清理并安排专人定期巡查，防止问题反复。",
]
DECISIONS = [
    "经协商议定：由责任单位制定整改方案，分阶段实施，每月向居民公布进展。",
    "议事会议定：采取增设设施与加强管理相结合的办法，由街道牵头、社区配合落实。",
    "经与会居民和部门协商：先行临时处置，列入年度民生实事项目彻底解决。",
]
PROGRESS = [
    "方案已制定，已报街道审核。",
    "施工单位已进场，完成部分工程。",
    "主体工作完成，正在组织验收。",
    "已完成过半，预计按期完成。",
]
COMMENTS = ["处理很及时，谢谢！", "基本解决了，希望长效管理。", "还有反复，希望再看看。", ""]


@dataclass
class Plan:
    """One seeded topic before insertion: its row and the rows that hang off it."""

    values: dict[str, Any]
    county: int
    town: int
    events: list[dict[str, Any]] = field(default_factory=list)
    deadlines: list[dict[str, Any]] = field(default_factory=list)
    session: dict[str, Any] | None = None  # its deliberation, if it was on an agenda
    minutes: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Seeded:
    """What was seeded, and the totals reports are checked against."""

    city: City
    admin: Principal
    region_paths: dict[int, str]  # region id -> path
    town_count: int
    community_count: int
    counts: Counter[str]
    # per topic: (id, region id, status, category, created_at, resolved_at or None)
    topics: list[tuple[int, int, str, str | None, datetime, datetime | None]]
    # per session that went live: (region id, started_at)
    held: list[tuple[int, datetime]]
    # every public event: (topic id, at, kind, from, to)
    public_events: list[tuple[int, datetime, str, str | None, str]]
    # progress updates on published outcomes: (topic id, at)
    updates: list[tuple[int, datetime]]
    # evaluations: (topic id, created_at, verdict, proposer)
    evaluations: list[tuple[int, datetime, str, bool]]
    live_sessions: int = 0


def pick_status(rng: random.Random, age_days: float) -> TopicStatus:
    for limit, weights in STATUS_MIX:
        if age_days <= limit:
            statuses, w = zip(*weights.items(), strict=True)
            return rng.choices(statuses, weights=w)[0]
    raise AssertionError("unreachable")


def pick_path(rng: random.Random, status: TopicStatus) -> list[TopicStatus]:
    weights, paths = zip(*PATHS[status], strict=True)
    return list(rng.choices(paths, weights=weights)[0])


def _local_date(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def stretch(items: list[Labelled]) -> list[Labelled]:
    """similar_probe's year, stretched over 18 months ending five minutes before NOW."""
    first, last = items[0].doc.created_at, items[-1].doc.created_at
    width = max((last - first).total_seconds(), 1.0)
    target = SPAN - timedelta(minutes=5)
    start = NOW - SPAN
    out = []
    for item in items:
        share = (item.doc.created_at - first).total_seconds() / width
        out.append(replace(item, doc=replace(item.doc, created_at=start + target * share)))
    return out


class Planner:
    def __init__(self, ctx: Context, city: City, seed: int, model: Any) -> None:
        self.ctx = ctx
        self.city = city
        self.rng = random.Random(seed)
        self.pol = deadlines.policy(ctx)
        self.model = model
        self.dispatcher = city.city_dispatcher.user_id
        self.handler = city.handler.user_id
        self.live_left = 2  # sessions live right now (the dashboard lists them)

    def plan(self, item: Labelled) -> Plan:
        rng, city = self.rng, self.city
        room_id, community, town = city.rooms[item.doc.room_id]
        county = city.county_of_town[town]
        created = item.doc.created_at
        age = (NOW - created).total_seconds() / 86400
        title, _, description = item.doc.text.partition("\n")
        title, description = title.strip()[:60], description.strip()
        category, subject = self.model.classify(title, description)
        status = pick_status(rng, age)
        moves = pick_path(rng, status)
        gaps = [rng.uniform(*GAPS[m]) for m in moves]
        room_for = max(1e-6, age * 0.98)
        if sum(gaps) > room_for:  # squeeze the moves into the topic's life so far
            gaps = [g * room_for / sum(gaps) for g in gaps]
        offline = rng.random() < 0.15
        named = rng.random() < 0.3
        values: dict[str, Any] = {
            "category": category.label,
            "category_confidence": round(category.confidence, 4),
            "subject": subject.label,
            "subject_confidence": round(subject.confidence, 4),
            "classification_evidence": {
                "category": list(category.evidence),
                "subject": list(subject.evidence),
            },
            "room_id": room_id,
            "region_id": community,
            "title": title,
            "description": description,
            "kind": TopicKind.DEMAND if rng.random() < 0.8 else TopicKind.SUGGESTION,
            "source": TopicSource.OFFLINE if offline else TopicSource.QR,
            "status": status,
            "unit_id": None,
            "lead": "",
            "submitter_name": "张先生" if named else "",
            "submitter_phone": f"138{rng.randrange(10**8):08d}" if named else "",
            "consent": named,
            "device_id": None if offline else f"bench-device-{rng.randrange(10**9)}",
            "tracking_digest": token_digest(f"reports-bench-{item.doc.topic_id}-{rng.random()}"),
            "entered_by_id": self.dispatcher if offline else None,
            "created_at": created,
            "updated_at": created,
            "version": 1,
        }
        p = Plan(values, county, town)
        p.events.append(
            self._event(
                created,
                None,
                S.SUBMITTED,
                actor=self.dispatcher if offline else None,
                kind_actor=ActorKind.STAFF if offline else ActorKind.RESIDENT,
            )
        )
        running: dict[Stage, dict[str, Any]] = {}

        def start(stage: Stage, at: datetime, unit: int | None) -> None:
            row = deadlines.new_deadline(self.ctx, self.pol, 0, stage, unit, at)
            row.update(closed_at=None, outcome=None, paused_at=None)
            running[stage] = row
            p.deadlines.append(row)

        def close(stage: Stage, at: datetime, how: DeadlineOutcome | None = None) -> None:
            row = running.pop(stage)
            row["closed_at"] = at
            row["outcome"] = how or outcome(at, row["due_at"], paused=False)

        for stage in plan_for_move(None, S.SUBMITTED).start:
            start(stage, created, None)
        at, current, unit = created, S.SUBMITTED, None
        resolved_at: datetime | None = None
        lead = ""
        for step, (move, gap) in enumerate(zip(moves, gaps, strict=True)):
            at += timedelta(days=gap)
            transition(current, move)  # raises if the path is not a legal workflow
            if move is S.DISPATCHED:
                unit = city.relay_unit[county]
            elif move is S.ASSIGNED:
                unit = (
                    city.town_unit[town]
                    if rng.random() < 0.85
                    else rng.choice(city.departments[county])
                )
            elif move is S.ESCALATED:
                lead = rng.choice(LEADS)
            plan = plan_for_move(current, move)
            for stage in list(running):
                if stage in plan.done:
                    close(stage, at)
                elif stage in plan.cancel:
                    close(stage, at, DeadlineOutcome.CANCELLED)
            if move is S.HANDLING:  # first contact with the resident came first
                contact_at = at - timedelta(days=gap * rng.uniform(0.1, 0.6))
                p.events.append(
                    self._record(
                        contact_at,
                        current,
                        EventKind.CONTACT,
                        rng.choice(["phone: 已电话联系居民", "visit", "phone", "message"]),
                    )
                )
                if Stage.CONTACT in running:
                    close(Stage.CONTACT, contact_at)
            for stage in plan.start:
                if stage not in running:
                    start(stage, at, None if stage is Stage.ACCEPT else unit)
            note = ""
            actor = self.handler if move in (S.HANDLING, S.RESOLVED, S.IMPLEMENTING) else None
            if move is S.RESOLVED:
                note = rng.choice(RESULTS)
                resolved_at = at
            elif move is S.REJECTED:
                note = "不属于受理范围，已告知居民其他反映渠道。"
            if move is S.SCHEDULED:
                p.session = self._session(p, at, gaps, moves)
                note = f"列入议事：{p.session['title']}"
            elif move is S.DELIBERATED:
                assert p.session is not None
                p.session["status"] = DeliberationStatus.ENDED
                p.session["ended_at"] = at
                p.session["started_at"] = at - timedelta(hours=2)
                p.session["updated_at"] = at
                p.minutes = {
                    "status": MinutesStatus.DRAFT,
                    "facts": {"agenda": [values["title"]]},
                    "body": "",
                    "drafted_at": at,
                    "updated_at": at,
                    "published_at": None,
                    "published_by_id": None,
                    "version": 1,
                }
                p.outcome = self._session_outcome(at, unit, lead)
                note = f"{p.session['title']} · 已协商"
            elif move is S.IMPLEMENTING and p.session is not None:
                assert p.minutes is not None and p.outcome is not None
                p.session["status"] = DeliberationStatus.PUBLISHED
                p.session["updated_at"] = at
                p.minutes.update(
                    status=MinutesStatus.PUBLISHED,
                    published_at=at,
                    published_by_id=self.dispatcher,
                    updated_at=at,
                    version=2,
                )
                p.outcome.update(status=OutcomeStatus.PUBLISHED, published_at=at, updated_at=at)
                note = f"{p.session['title']} · 协商结果已公布"
                actor = self.dispatcher
            elif move is S.REOPENED:
                note = "首提者不满意，回访"
            kind_actor = ActorKind.RESIDENT if move is S.REOPENED else ActorKind.STAFF
            if move not in (S.REOPENED, S.HANDLING, S.RESOLVED, S.IMPLEMENTING):
                actor = self.dispatcher
            p.events.append(
                self._event(at, current, move, actor=actor, kind_actor=kind_actor, note=note)
            )
            if move is S.HANDLING and rng.random() < 0.3:  # a public progress note
                until = gaps[step + 1] if step + 1 < len(gaps) else (NOW - at).days
                later = at + timedelta(days=until * rng.uniform(0.2, 0.8))
                p.events.append(self._record(later, move, EventKind.PROGRESS, "正在协调处理"))
            if move is S.RESOLVED:
                self._resolve(p, at, unit, lead, note)
            elif move is S.REOPENED:
                self._reopen(p, at)
            current = move
        if p.outcome is not None and p.outcome["status"] is OutcomeStatus.PUBLISHED:
            self._progress(p, resolved_at)
            if resolved_at is not None or current is S.IMPLEMENTING:
                self._rate(p, resolved_at or p.outcome["published_at"], current)
        for row in running.values():  # a few clocks stopped, waiting on the resident
            if rng.random() < 0.04:
                row["paused_at"] = row["started_at"] + (NOW - row["started_at"]) / 2
                row["pause_reason"] = "等待居民补充材料"
        values["unit_id"] = unit
        values["lead"] = lead
        values["updated_at"] = max(e["at"] for e in p.events)
        values["version"] = 1 + len(moves)
        p.events.sort(key=lambda e: e["at"])
        return p

    def _event(
        self,
        at: datetime,
        current: TopicStatus | None,
        move: TopicStatus,
        *,
        actor: int | None,
        kind_actor: ActorKind,
        note: str = "",
    ) -> dict[str, Any]:
        return {
            "at": at,
            "actor_kind": kind_actor,
            "actor_id": actor,
            "from_status": current,
            "to_status": move,
            "note": note,
            "public": True,
            "kind": EventKind.MOVE,
        }

    def _record(
        self, at: datetime, status: TopicStatus, kind: EventKind, note: str
    ) -> dict[str, Any]:
        return {
            "at": at,
            "actor_kind": ActorKind.STAFF,
            "actor_id": self.handler,
            "from_status": status,
            "to_status": status,
            "note": note,
            "public": True,
            "kind": kind,
        }

    def _session(
        self, p: Plan, announced: datetime, gaps: list[float], moves: list[TopicStatus]
    ) -> dict[str, Any]:
        """The session whose agenda the topic joins, announced at ``announced``."""
        rng = self.rng
        if S.DELIBERATED in moves:
            starts = announced + timedelta(days=gaps[moves.index(S.DELIBERATED)], hours=-2)
            status = DeliberationStatus.ANNOUNCED  # moved on by the later moves
        elif self.live_left and announced < NOW - timedelta(hours=1):
            self.live_left -= 1
            starts = NOW - timedelta(minutes=rng.randint(10, 60))
            status = DeliberationStatus.LIVE
        else:
            starts = max(announced + timedelta(days=3), NOW) + timedelta(days=rng.uniform(1, 10))
            status = DeliberationStatus.ANNOUNCED
        title = f"{p.values['title'][:40]} 议事会"
        return {
            "room_id": p.values["room_id"],
            "region_id": p.values["region_id"],
            "title": title[:60],
            "description": "围绕居民反映的问题，邀请相关部门与居民代表共同协商。",
            "place": "社区协商议事室",
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=2),
            "capacity": 50,
            "status": status,
            "moderation": ModerationMode.POST_THEN_HIDE,
            "host_name": "社区书记",
            "moderators": "",
            "current_topic_id": None,
            "cancel_reason": "",
            "created_by_id": self.dispatcher,
            "created_at": announced - timedelta(hours=1),
            "updated_at": announced,
            "announced_at": announced,
            "started_at": starts if status is DeliberationStatus.LIVE else None,
            "ended_at": None,
            "version": 2,
        }

    def _session_outcome(self, at: datetime, unit: int | None, lead: str) -> dict[str, Any]:
        return {
            "deliberation_id": None,  # filled in once the session has its id
            "source": OutcomeSource.DELIBERATION,
            "status": OutcomeStatus.DRAFT,
            "decision": self.rng.choice(DECISIONS),
            "unit_id": unit,
            "lead": lead,
            "due_on": _local_date(at) + timedelta(days=self.rng.randint(30, 90)),
            "percent": 0,
            "created_at": at,
            "updated_at": at,
            "published_at": None,
            "completed_at": None,
            "version": 1,
        }

    def _resolve(self, p: Plan, at: datetime, unit: int | None, lead: str, result: str) -> None:
        """``record_resolution``: a new handler's outcome, or the session's completed."""
        if p.outcome is None:
            p.outcome = {
                "deliberation_id": None,
                "source": OutcomeSource.HANDLER,
                "status": OutcomeStatus.PUBLISHED,
                "decision": result,
                "unit_id": unit,
                "lead": lead,
                "due_on": _local_date(at),
                "percent": 100,
                "created_at": at,
                "updated_at": at,
                "published_at": at,
                "completed_at": at,
                "version": 1,
            }
        else:
            p.outcome.update(percent=100, completed_at=at, updated_at=at)
            p.outcome["version"] += 1
        p.updates.append(
            {"at": at, "percent": 100, "note": result, "by_id": self.handler, "unit_id": unit}
        )

    def _progress(self, p: Plan, resolved_at: datetime | None) -> None:
        """A session's outcome: dated progress updates between publication and the end."""
        o = p.outcome
        assert o is not None
        if o["source"] is not OutcomeSource.DELIBERATION:
            return
        start = o["published_at"]
        end = resolved_at or NOW
        steps = self.rng.randint(1, 3)
        percent = 0
        final = p.updates[:]  # the resolving update, if any, stays last
        p.updates.clear()
        for i in range(steps):
            at = start + (end - start) * (i + 1) / (steps + 1)
            percent = min(95, percent + self.rng.randint(15, 40))
            p.updates.append(
                {
                    "at": at,
                    "percent": percent,
                    "note": self.rng.choice(PROGRESS),
                    "by_id": self.handler,
                    "unit_id": o["unit_id"],
                }
            )
        p.updates += final
        if resolved_at is None:
            o["percent"] = percent
            o["updated_at"] = p.updates[-1]["at"]
            o["version"] += steps
        else:
            o["version"] += steps

    def _rate(self, p: Plan, after: datetime, final: TopicStatus) -> None:
        """Evaluations of a published outcome: a third of them get some; mostly satisfied."""
        rng = self.rng
        if rng.random() > 0.35:
            return
        o = p.outcome
        assert o is not None
        raters = rng.choice([1, 1, 2, 3, 4])
        proposer_first = rng.random() < 0.6 and final is not S.REOPENED
        for i in range(raters):
            at = min(NOW - timedelta(minutes=1), after + timedelta(days=rng.uniform(0.1, 14)))
            proposer = proposer_first and i == 0
            verdict = rng.choices(
                [Verdict.SATISFIED, Verdict.BASICALLY_SATISFIED, Verdict.UNSATISFIED],
                weights=[70, 22, 0 if proposer and final is S.RESOLVED else 8],
            )[0]
            self._evaluation(p, at, verdict, proposer, f"{i}")

    def _reopen(self, p: Plan, at: datetime) -> None:
        """The proposer's unsatisfied evaluation that reopened the topic, at that moment."""
        self._evaluation(p, at, Verdict.UNSATISFIED, True, "proposer")

    def _evaluation(
        self, p: Plan, at: datetime, verdict: Verdict, proposer: bool, who: str
    ) -> None:
        score = {
            Verdict.SATISFIED: self.rng.choice([4, 5, 5]),
            Verdict.BASICALLY_SATISFIED: self.rng.choice([3, 4]),
            Verdict.UNSATISFIED: self.rng.choice([1, 2]),
        }[verdict]
        device = hashlib.sha256(f"{p.values['tracking_digest']}:{who}".encode()).hexdigest()
        p.evaluations.append(
            {
                "region_id": p.values["region_id"],
                "identity_key": "proposer" if proposer else "device:" + device[:40],
                "proposer": proposer,
                "score": score,
                "verdict": verdict,
                "comment": self.rng.choice(COMMENTS),
                "comment_status": CommentStatus.VISIBLE,
                "reason": "",
                "moderated_by_id": None,
                "moderated_at": None,
                "created_at": at,
            }
        )


async def make_admin(ctx: Context, city: City) -> Principal:
    await accounts.create_user(
        ctx,
        None,
        username="cityadmin",
        display_name="cityadmin",
        role=Role.ADMIN,
        region_id=city.city_id,
        password=PASSWORD,
        unit_id=None,
    )
    result = await accounts.login(ctx, username="cityadmin", password=PASSWORD, ip="127.0.0.1")
    return result.principal


async def seed(ctx: Context, n_rooms: int, n_topics: int, seed: int) -> Seeded:
    """The city, its staff, and ``n_topics`` topics over 18 months with all their rows."""
    city = await make_city(ctx, n_rooms)
    admin = await make_admin(ctx, city)
    async with ctx.db.read() as session:
        regions = (await session.execute(select(Region.id, Region.level, Region.path))).all()
    paths = {r[0]: r[2] for r in regions}
    levels = Counter(str(r[1]) for r in regions)
    gen = Generator(seed, rooms=n_rooms)
    items = stretch(gen.year(n_topics))
    model = await classifier(ctx)
    planner = Planner(ctx, city, seed, model)
    prefix = ctx.settings.topic_number_prefix
    out = Seeded(
        city=city,
        admin=admin,
        region_paths=paths,
        town_count=levels["town"],
        community_count=levels["community"],
        counts=Counter(),
        topics=[],
        held=[],
        public_events=[],
        updates=[],
        evaluations=[],
    )
    counts = out.counts
    for first in range(0, len(items), BATCH):
        batch = [planner.plan(item) for item in items[first : first + BATCH]]
        await _insert(ctx, prefix, batch, out)
        print(f"  seeded {min(first + BATCH, len(items))}/{len(items)} topics", flush=True)
    out.live_sessions = 2 - planner.live_left
    counts["open"] = sum(counts[str(s)] for s in OPEN_STATES)
    return out


async def _insert(ctx: Context, prefix: str, batch: Sequence[Plan], out: Seeded) -> None:
    counts = out.counts
    async with ctx.db.write() as session:
        years = [_local_date(p.values["created_at"]).year for p in batch]
        for year in sorted(set(years)):
            members = [p for p, y in zip(batch, years, strict=True) if y == year]
            last = await store.take_numbers(session, counter_key(prefix, year), len(members))
            for seq, p in enumerate(members, start=last - len(members) + 1):
                p.values["number"] = format_number(prefix, year, seq)
        ids = await store.insert_topics(session, [p.values for p in batch])
        events: list[dict[str, Any]] = []
        clocks: list[dict[str, Any]] = []
        with_session = [(tid, p) for tid, p in zip(ids, batch, strict=True) if p.session]
        session_ids: list[int] = []
        if with_session:
            result = await session.execute(
                insert(Deliberation).returning(Deliberation.id, sort_by_parameter_order=True),
                [p.session for _, p in with_session],
            )
            session_ids = [r[0] for r in result.all()]
            await session.execute(
                insert(AgendaItem),
                [
                    {"deliberation_id": d, "topic_id": tid, "position": 1}
                    for d, (tid, _) in zip(session_ids, with_session, strict=True)
                ],
            )
            minutes = [
                {**p.minutes, "deliberation_id": d}
                for d, (_, p) in zip(session_ids, with_session, strict=True)
                if p.minutes is not None
            ]
            if minutes:
                await session.execute(insert(Minutes), minutes)
        session_of = {tid: d for d, (tid, _) in zip(session_ids, with_session, strict=True)}
        with_outcome = [(tid, p) for tid, p in zip(ids, batch, strict=True) if p.outcome]
        if with_outcome:
            rows = []
            for tid, p in with_outcome:
                assert p.outcome is not None
                row = {**p.outcome, "topic_id": tid}
                if row["source"] is OutcomeSource.DELIBERATION:
                    row["deliberation_id"] = session_of[tid]
                rows.append(row)
            result = await session.execute(
                insert(Outcome).returning(Outcome.id, sort_by_parameter_order=True), rows
            )
            outcome_ids = [r[0] for r in result.all()]
            updates = [
                {**u, "outcome_id": oid}
                for oid, (_, p) in zip(outcome_ids, with_outcome, strict=True)
                for u in p.updates
            ]
            if updates:
                await session.execute(insert(OutcomeUpdate), updates)
            ratings = [
                {**e, "outcome_id": oid}
                for oid, (_, p) in zip(outcome_ids, with_outcome, strict=True)
                for e in p.evaluations
            ]
            if ratings:
                await session.execute(insert(Evaluation), ratings)
            for tid, p in with_outcome:
                assert p.outcome is not None
                counts["outcomes"] += 1
                counts[f"outcomes_{p.outcome['source']}"] += 1
                if p.outcome["status"] is OutcomeStatus.PUBLISHED:
                    counts["outcomes_published"] += 1
                    out.updates += [(tid, u["at"]) for u in p.updates]
                counts["outcome_updates"] += len(p.updates)
                counts["evaluations"] += len(p.evaluations)
                out.evaluations += [
                    (tid, e["created_at"], str(e["verdict"]), e["proposer"]) for e in p.evaluations
                ]
        for tid, p in zip(ids, batch, strict=True):
            events += [{**e, "topic_id": tid} for e in p.events]
            clocks += [{**d, "topic_id": tid} for d in p.deadlines]
            status = str(p.values["status"])
            counts[status] += 1
            counts["topics"] += 1
            resolved = [e["at"] for e in p.events if e["to_status"] is S.RESOLVED]
            out.topics.append(
                (
                    tid,
                    p.values["region_id"],
                    status,
                    p.values["category"],
                    p.values["created_at"],
                    resolved[-1] if resolved and status == S.RESOLVED else None,
                )
            )
            out.public_events += [
                (tid, e["at"], str(e["kind"]), e["from_status"], str(e["to_status"]))
                for e in p.events
            ]
            if p.session is not None:
                counts["sessions"] += 1
                counts[f"sessions_{p.session['status']}"] += 1
                if p.session["started_at"] is not None:
                    out.held.append((p.values["region_id"], p.session["started_at"]))
            if any(d["outcome"] is DeadlineOutcome.LATE for d in p.deadlines):
                counts["topics_with_a_late_stage"] += 1
        await store.insert_events(session, events)
        await store.insert_deadlines(session, clocks)
        counts["events"] += len(events)
        counts["deadlines"] += len(clocks)
