"""Candidates proposed from a year's figures (docs/awards.md states the formulas).

Rooms by sessions held, resolution and satisfaction; cases from the resolved key topics
deliberated in a session; residents from their accepted topics and their sign-ups and
check-ins. Read-only: the caller inserts what it keeps.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.awards import store
from server.awards.actions.common import resident_key, year_bounds
from server.awards.model import AwardKind, case_score, rate, resident_score, room_score
from server.outcomes.model import Satisfaction
from server.topics.model import TopicStatus, mask_name, mask_phone, normalise_phone


@dataclass(frozen=True, slots=True)
class Proposal:
    kind: AwardKind
    subject_key: str
    title: str
    composite: float
    figures: dict[str, Any]
    room_id: int | None = None
    topic_id: int | None = None
    masked_phone: str = ""


def _pool(items: list[Proposal], pool: int | None) -> list[Proposal]:
    ranked = sorted(items, key=lambda p: (-p.composite, p.subject_key))
    return ranked if pool is None else ranked[:pool]


async def _rooms(session: AsyncSession, start: datetime, end: datetime) -> list[Proposal]:
    names = await store.room_names(session)
    held = dict(await store.sessions_held(session, start, end))
    received: dict[int, int] = defaultdict(int)
    resolved: dict[int, int] = defaultdict(int)
    closed_out: dict[int, int] = defaultdict(int)
    for room_id, status, n in await store.topics_by_status(session, start, end):
        received[room_id] += n
        if status == TopicStatus.RESOLVED:
            resolved[room_id] += n
        elif status in (TopicStatus.REJECTED, TopicStatus.MERGED):
            closed_out[room_id] += n
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for room_id, verdict, n in await store.room_verdicts(session, start, end):
        counts[room_id][verdict] = n
    out = []
    for room_id in sorted(set(held) | set(resolved)):
        if room_id not in names:
            continue
        base = received[room_id] - closed_out[room_id]
        resolution = rate(resolved[room_id], base)
        satisfaction = Satisfaction.of(counts[room_id])
        figures = {
            "sessions": held.get(room_id, 0),
            "received": received[room_id],
            "resolved": resolved[room_id],
            "resolution_rate": None if resolution is None else round(resolution, 4),
            "satisfaction": satisfaction.as_dict(),
        }
        composite = room_score(held.get(room_id, 0), resolution, satisfaction.rate)
        out.append(
            Proposal(
                AwardKind.ROOM,
                f"room:{room_id}",
                names[room_id][0],
                composite,
                figures,
                room_id=room_id,
            )
        )
    return out


async def _cases(session: AsyncSession, start: datetime, end: datetime) -> list[Proposal]:
    rows = await store.resolved_cases(session, start, end)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for topic_id, verdict, n in await store.case_verdicts(session, [r[0] for r in rows], end):
        counts[topic_id][verdict] = n
    out = []
    for topic_id, number, title, room_id, percent in rows:
        satisfaction = Satisfaction.of(counts[topic_id])
        figures = {"number": number, "percent": percent, "satisfaction": satisfaction.as_dict()}
        out.append(
            Proposal(
                AwardKind.CASE,
                f"case:{topic_id}",
                f"{number} {title}",
                case_score(satisfaction.rate, percent),
                figures,
                room_id=room_id,
                topic_id=topic_id,
            )
        )
    return out


@dataclass
class _Resident:
    name: str = ""
    phone: str = ""
    room_id: int | None = None
    accepted: int = 0
    signed_up: int = 0
    checked_in: int = 0
    devices: set[str] = field(default_factory=set)


async def _residents(session: AsyncSession, start: datetime, end: datetime) -> list[Proposal]:
    people: dict[str, _Resident] = {}
    by_phone: dict[str, str] = {}
    by_device: dict[str, str] = {}
    for room_id, name, raw_phone, device in await store.accepted_proposals(session, start, end):
        phone = normalise_phone(raw_phone) or "" if raw_phone else ""
        key = resident_key(phone, device)
        if key is None:
            continue  # entered on paper without a phone: no one to name
        who = people.setdefault(key, _Resident())
        who.accepted += 1
        who.room_id = room_id  # the room of their latest accepted topic
        who.name = name.strip() or who.name
        who.phone = phone or who.phone
        if phone:
            by_phone[phone] = key
        if device:
            by_device.setdefault(device, key)
    for raw_phone, device, checked_in in await store.participation(session, start, end):
        phone = normalise_phone(raw_phone) or "" if raw_phone else ""
        key = by_phone.get(phone) if phone else None
        if key is None and device:
            key = by_device.get(device)
        if key is None:
            continue  # took part without proposing: not a candidate
        people[key].signed_up += 1
        people[key].checked_in += int(bool(checked_in))
    out = []
    for key, who in people.items():
        figures = {
            "accepted_topics": who.accepted,
            "signed_up": who.signed_up,
            "checked_in": who.checked_in,
        }
        out.append(
            Proposal(
                AwardKind.RESIDENT,
                key,
                mask_name(who.name),
                resident_score(who.accepted, who.signed_up, who.checked_in),
                figures,
                room_id=who.room_id,
                masked_phone=mask_phone(who.phone),
            )
        )
    return out


async def propose(
    session: AsyncSession, year: int, pool: int | None
) -> dict[AwardKind, list[Proposal]]:
    """Each kind's proposals for ``year`` from the rows as they stand (a year not over
    counts what happened so far), best composite first, the first ``pool`` of each (all
    if None). Requires an open session."""
    start, end = year_bounds(year)
    return {
        AwardKind.ROOM: _pool(await _rooms(session, start, end), pool),
        AwardKind.RESIDENT: _pool(await _residents(session, start, end), pool),
        AwardKind.CASE: _pool(await _cases(session, start, end), pool),
    }
