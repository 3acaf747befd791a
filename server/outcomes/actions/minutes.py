"""Minutes (会议纪要): drafted from a session's log, edited by the host, published with an
outcome for each agenda topic.

The draft is made the first time anyone opens the minutes of an ended session: the log
no longer changes once the session has ended, so drafting then or at the end gives the
same facts, and ending a session stays the live room's business alone. Publishing is one
transaction: the minutes, every outcome, the session (ended → published) and its topics
(deliberated → implementing) change together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.audit import record_audit
from server.core.auth import Permission, Principal
from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import Conflict, NotFound, StaleUpdate, ValidationFailed
from server.deliberations.actions import schedule
from server.deliberations.model import DeliberationStatus
from server.deliberations.tables import Deliberation
from server.outcomes import store
from server.outcomes.model import (
    MINUTES_TEXT_MAX,
    Invalid,
    MinutesStatus,
    OutcomeFields,
    OutcomeSource,
    OutcomeStatus,
    clean_outcome,
    discussion_seconds,
)
from server.outcomes.tables import Minutes, Outcome
from server.topics import actions as topics
from server.topics.model import TopicStatus

_HELD = frozenset({DeliberationStatus.ENDED, DeliberationStatus.PUBLISHED})


@dataclass(frozen=True, slots=True)
class OutcomeInput:
    """The host's entry for one agenda topic."""

    topic_id: int
    decision: str
    unit_id: int | None
    lead: str
    due_on: date | None


@dataclass(frozen=True, slots=True)
class MinutesView:
    deliberation_id: int
    deliberation_title: str
    room_name: str
    status: MinutesStatus
    facts: dict[str, Any]
    body: str
    version: int
    published_at: datetime | None
    # One entry per agenda topic: number, title and its outcome (or None yet).
    topics: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "deliberation_id": self.deliberation_id,
            "deliberation_title": self.deliberation_title,
            "room_name": self.room_name,
            "status": self.status,
            "facts": self.facts,
            "body": self.body,
            "version": self.version,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "topics": self.topics,
        }


def _require_host(actor: Principal, region_path: str) -> None:
    actor.require(Permission.HOST_DELIBERATIONS, region_path)


async def _session_of(
    session: AsyncSession, deliberation_id: int, *, lock: bool = False
) -> tuple[Deliberation, str, str]:
    found = await store.get_deliberation(session, deliberation_id, lock=lock)
    if found is None:
        raise NotFound("No such deliberation.")
    return found


async def draft_facts(session: AsyncSession, d: Deliberation) -> dict[str, Any]:
    """What the session's log says: attendance by role, the agenda with each topic's
    discussion time and recording chapter, poll results, who had the floor (by role,
    never by name), comment and question counts."""
    agenda = await store.agenda(session, d.id)
    marks = await store.agenda_marks(session, d.id)
    end = d.ended_at or d.updated_at
    seconds = discussion_seconds(marks, end)
    recording_id, chapters = await store.recording_chapters(session, d.id)
    chapter_of = {topic_id: start for topic_id, start in chapters if topic_id is not None}
    by_kind: dict[str, dict[str, int]] = {}
    for kind, status, rows, checked_in in await store.registration_counts(session, d.id):
        entry = by_kind.setdefault(kind, {"registered": 0, "waitlisted": 0, "checked_in": 0})
        if status in ("registered", "waitlisted"):
            entry[status] += rows
        entry["checked_in"] += checked_in
    guests: dict[str, int] = {}
    organisations: list[str] = []
    for role, organisation in await store.admitted_guests(session, d.id):
        guests[role] = guests.get(role, 0) + 1
        if organisation and organisation not in organisations:
            organisations.append(organisation)
    number_of = {topic_id: number for topic_id, number, _, _ in agenda}
    polls = await store.closed_polls(session, d.id)
    options = await store.poll_options(session, [p.id for p in polls])
    poll_facts = []
    for p in polls:
        counts = (p.results or {}).get("options", {})
        poll_facts.append(
            {
                "question": p.question,
                "kind": p.kind,
                "topic_number": number_of.get(p.topic_id) if p.topic_id else None,
                "ballots": (p.results or {}).get("ballots", 0),
                "options": [
                    {"label": o.label, "votes": int(counts.get(str(o.id), 0))}
                    for o in options
                    if o.poll_id == p.id
                ],
            }
        )
    speakers = [
        {
            "role": s.role,
            "on_site": s.on_site,
            "topic_number": number_of.get(s.topic_id) if s.topic_id else None,
            "seconds": int(((s.ended_at or end) - s.floor_at).total_seconds()) if s.floor_at else 0,
        }
        for s in await store.speakers(session, d.id)
    ]
    comments = await store.comment_counts(session, d.id)
    return {
        "title": d.title,
        "place": d.place,
        "started_at": d.started_at.isoformat() if d.started_at else None,
        "ended_at": d.ended_at.isoformat() if d.ended_at else None,
        "duration_seconds": int((end - d.started_at).total_seconds()) if d.started_at else 0,
        "attendance": {
            "by_kind": by_kind,
            "checked_in": sum(e["checked_in"] for e in by_kind.values()),
            "guests": guests,
            "guest_organisations": organisations,
        },
        "agenda": [
            {
                "topic_id": topic_id,
                "number": number,
                "title": title,
                "seconds": seconds.get(topic_id, 0),
                "recording_id": recording_id if topic_id in chapter_of else None,
                "chapter_start": chapter_of.get(topic_id),
            }
            for topic_id, number, title, _ in agenda
        ],
        "polls": poll_facts,
        "speakers": speakers,
        "comments": {
            "visible": comments.get("visible", 0),
            "held": comments.get("held", 0),
            "hidden": comments.get("hidden", 0),
        },
        "questions": await store.count_questions(session, d.id),
    }


def draft_body(facts: dict[str, Any]) -> str:
    """The text the host starts from: the facts in the page's language (zh-CN)."""
    lines = [f"会议：{facts['title']}", f"地点：{facts['place']}"]
    if facts.get("started_at"):
        start = datetime.fromisoformat(facts["started_at"]).astimezone(LOCAL_TZ)
        minutes = facts["duration_seconds"] // 60
        lines.append(f"时间：{start:%Y-%m-%d %H:%M}，历时 {minutes} 分钟")
    attendance = facts["attendance"]
    guests = sum(attendance["guests"].values())
    lines.append(f"参会：现场签到 {attendance['checked_in']} 人，视频连线嘉宾 {guests} 人")
    if attendance["guest_organisations"]:
        lines.append("连线单位：" + "、".join(attendance["guest_organisations"]))
    lines.append("议程：")
    for i, item in enumerate(facts["agenda"], 1):
        lines.append(f"{i}. {item['number']} {item['title']}（讨论 {item['seconds'] // 60} 分钟）")
    for poll in facts["polls"]:
        tally = "，".join(f"{o['label']} {o['votes']} 票" for o in poll["options"])
        lines.append(f"表决：{poll['question']}（{poll['ballots']} 人参与）：{tally}")
    if facts["speakers"]:
        lines.append(f"发言：{len(facts['speakers'])} 人次")
    lines.append("议定事项：")
    return "\n".join(lines) + "\n"


def _outcome_json(o: Outcome | None, unit_names: dict[int, str]) -> dict[str, Any] | None:
    if o is None:
        return None
    return {
        "id": o.id,
        "source": o.source,
        "status": o.status,
        "decision": o.decision,
        "unit_id": o.unit_id,
        "unit_name": unit_names.get(o.unit_id) if o.unit_id else None,
        "lead": o.lead,
        "due_on": o.due_on.isoformat(),
        "percent": o.percent,
    }


async def _view(session: AsyncSession, d: Deliberation, room_name: str, m: Minutes) -> MinutesView:
    agenda = await store.agenda(session, d.id)
    outcomes = {
        o.topic_id: o for o in await store.outcomes_of_topics(session, [a[0] for a in agenda])
    }
    names = await store.unit_names(session, [o.unit_id for o in outcomes.values()])
    return MinutesView(
        deliberation_id=d.id,
        deliberation_title=d.title,
        room_name=room_name,
        status=m.status,
        facts=m.facts,
        body=m.body,
        version=m.version,
        published_at=m.published_at,
        topics=[
            {
                "topic_id": topic_id,
                "number": number,
                "title": title,
                "status": status,
                "outcome": _outcome_json(outcomes.get(topic_id), names),
            }
            for topic_id, number, title, status in agenda
        ],
    )


async def get_minutes(ctx: Context, actor: Principal, deliberation_id: int) -> MinutesView:
    """The session's minutes for its host, drafted from the log on first opening.

    NotFound for an unknown session, Forbidden outside the host's territory, Conflict
    while the session has not ended (there is no log to draft from yet)."""
    async with ctx.db.read() as session:
        d, path, room_name = await _session_of(session, deliberation_id)
        _require_host(actor, path)
        m = await store.get_minutes(session, deliberation_id)
        if m is not None:
            return await _view(session, d, room_name, m)
    if d.status not in _HELD:
        raise Conflict(
            f"The session is {d.status}; minutes are drafted once it has ended.",
            fields={"status": d.status},
        )
    async with ctx.db.write() as session:
        d, _, room_name = await _session_of(session, deliberation_id, lock=True)
        m = await store.get_minutes(session, deliberation_id)
        if m is None:  # nobody drafted it while we waited for the lock
            now = ctx.clock.now()
            facts = await draft_facts(session, d)
            m = Minutes(
                deliberation_id=d.id,
                status=MinutesStatus.DRAFT,
                facts=facts,
                body=draft_body(facts),
                drafted_at=now,
                updated_at=now,
                version=1,
            )
            session.add(m)
            await session.flush()
        return await _view(session, d, room_name, m)


def _field_errors(topic_id: int, exc: Invalid) -> dict[str, str]:
    return {f"outcomes.{topic_id}.{name}": message for name, message in exc.fields.items()}


async def save_minutes(
    ctx: Context,
    actor: Principal,
    deliberation_id: int,
    *,
    version: int,
    body: str,
    outcomes: Sequence[OutcomeInput],
) -> MinutesView:
    """Save the host's edit of a draft: the text and the outcomes entered so far.

    Each given outcome must be complete and valid (decision, responsible unit, a due date
    not in the past); agenda topics left out keep what they had. Refused with every field
    error at once, and with StaleUpdate if the minutes changed since ``version``; nothing
    is written on a refusal. Published minutes are read-only (Conflict)."""
    body = body.strip()
    if len(body) > MINUTES_TEXT_MAX:
        raise ValidationFailed(
            "The minutes are too long.", fields={"body": f"At most {MINUTES_TEXT_MAX}."}
        )
    await get_minutes(ctx, actor, deliberation_id)  # drafts them if this is the first edit
    today = ctx.clock.now().astimezone(LOCAL_TZ).date()
    errors: dict[str, str] = {}
    cleaned: list[tuple[int, OutcomeFields]] = []
    seen: set[int] = set()
    for entry in outcomes:
        if entry.topic_id in seen:
            errors[f"outcomes.{entry.topic_id}"] = "Given twice."
            continue
        seen.add(entry.topic_id)
        try:
            fields = clean_outcome(
                OutcomeFields(entry.decision, entry.unit_id, entry.lead, entry.due_on), today
            )
        except Invalid as exc:
            errors.update(_field_errors(entry.topic_id, exc))
            continue
        cleaned.append((entry.topic_id, fields))
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        d, _, room_name = await _session_of(session, deliberation_id, lock=True)
        m = await store.get_minutes(session, deliberation_id, lock=True)
        assert m is not None
        if m.status is MinutesStatus.PUBLISHED:
            raise Conflict("These minutes are published and can no longer be edited.")
        if m.version != version:
            raise StaleUpdate(
                f"The minutes changed since you loaded them (now version {m.version}).",
                fields={"version": str(m.version)},
            )
        agenda_ids = {a[0] for a in await store.agenda(session, d.id)}
        existing = {o.topic_id: o for o in await store.outcomes_of_topics(session, list(seen))}
        for topic_id, fields in cleaned:
            if topic_id not in agenda_ids:
                errors[f"outcomes.{topic_id}"] = "Not on this session's agenda."
            elif (o := existing.get(topic_id)) is not None and o.deliberation_id != d.id:
                errors[f"outcomes.{topic_id}"] = "This topic already has an outcome."
            elif (
                fields.unit_id is not None and await store.get_unit(session, fields.unit_id) is None
            ):
                errors[f"outcomes.{topic_id}.unit_id"] = "No such unit."
        if errors:
            raise ValidationFailed("Some outcomes need attention.", fields=errors)
        for topic_id, fields in cleaned:
            values = {
                "decision": fields.decision,
                "unit_id": fields.unit_id,
                "lead": fields.lead,
                "due_on": fields.due_on,
                "updated_at": now,
            }
            if (o := existing.get(topic_id)) is not None:
                await store.update_outcome(session, o.id, expected_version=o.version, values=values)
            else:
                session.add(
                    Outcome(
                        topic_id=topic_id,
                        deliberation_id=d.id,
                        source=OutcomeSource.DELIBERATION,
                        status=OutcomeStatus.DRAFT,
                        percent=0,
                        created_at=now,
                        version=1,
                        **values,
                    )
                )
        m.body = body
        m.updated_at = now
        m.version += 1
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="minutes.save",
            target=f"deliberation:{d.id}",
            detail={"topics": sorted(seen)},
        )
        await session.flush()
        return await _view(session, d, room_name, m)


async def publish_minutes(
    ctx: Context, actor: Principal, deliberation_id: int, *, version: int
) -> MinutesView:
    """Publish the minutes and the session's outcomes (the session becomes published, its
    deliberated topics implementing), all in one transaction.

    Refused (nothing changes) while an agenda topic has no outcome from this session
    (ValidationFailed naming them), when already published (Conflict), or when the
    minutes changed since ``version`` (StaleUpdate)."""
    await get_minutes(ctx, actor, deliberation_id)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        d, _, room_name = await _session_of(session, deliberation_id, lock=True)
        m = await store.get_minutes(session, deliberation_id, lock=True)
        assert m is not None
        if m.status is MinutesStatus.PUBLISHED:
            raise Conflict("These minutes are already published.")
        if m.version != version:
            raise StaleUpdate(
                f"The minutes changed since you loaded them (now version {m.version}).",
                fields={"version": str(m.version)},
            )
        agenda = await store.agenda(session, d.id)
        outcomes = {
            o.topic_id: o for o in await store.outcomes_of_topics(session, [a[0] for a in agenda])
        }
        missing = [
            number
            for topic_id, number, _, _ in agenda
            if (o := outcomes.get(topic_id)) is None
            or (o.deliberation_id != d.id and o.source is not OutcomeSource.HANDLER)
        ]
        if missing:
            raise ValidationFailed(
                "Record an outcome for every agenda topic before publishing: " + ", ".join(missing),
                fields={"outcomes": ", ".join(missing)},
            )
        schedule_ok = d.status is DeliberationStatus.ENDED
        if not schedule_ok:
            raise Conflict(f"The session is {d.status}; only an ended session's minutes publish.")
        await schedule.mark_published(session, d, now)
        ours = [o for o in outcomes.values() if o.deliberation_id == d.id]
        for o in ours:
            await store.update_outcome(
                session,
                o.id,
                expected_version=o.version,
                values={"status": OutcomeStatus.PUBLISHED, "published_at": now, "updated_at": now},
            )
        moves = await topics.move_in_transaction(
            ctx,
            session,
            actor,
            [o.topic_id for o in ours],
            TopicStatus.IMPLEMENTING,
            note=f"{d.title} · 协商结果已公布",
            action="topic.outcome",
        )
        m.status = MinutesStatus.PUBLISHED
        m.published_at = now
        m.published_by_id = actor.user_id
        m.updated_at = now
        m.version += 1
        record_audit(
            session,
            at=now,
            actor_id=actor.user_id,
            action="minutes.publish",
            target=f"deliberation:{d.id}",
            detail={"outcomes": sorted(o.id for o in ours)},
        )
        await session.flush()
        await session.refresh(d)
        view = await _view(session, d, room_name, m)
    await topics.publish_moves(ctx, moves)
    return view


async def public_minutes(ctx: Context, deliberation_id: int) -> MinutesView:
    """Published minutes, for anyone; NotFound until they are published."""
    async with ctx.db.read() as session:
        found = await store.get_deliberation(session, deliberation_id)
        m = await store.get_minutes(session, deliberation_id)
        if found is None or m is None or m.status is not MinutesStatus.PUBLISHED:
            raise NotFound("These minutes are not published.")
        d, _, room_name = found
        return await _view(session, d, room_name, m)
