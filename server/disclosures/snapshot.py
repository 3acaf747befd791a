"""Assembling a month's disclosures from the rows the store read (pure: stdlib and the
outcomes' pure rules only).

Every fact is as of the month's end: a topic's status is that of its last public event
before the end, an outcome counts if it was published before the end, its percent is
that of its last progress update before the end, and its overdue flag is judged on the
month's last day. Regenerating a month later therefore gives the same facts, unless the
rows themselves were corrected.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from server.disclosures.model import SCHEMA, Month, public_note, qualifies, redact, summary
from server.outcomes.model import outcome_flag

DISCLOSED_LEVELS = ("town", "community")


@dataclass(frozen=True, slots=True)
class RegionRow:
    id: int
    level: str
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class TopicRow:
    id: int
    number: str
    title: str
    kind: str
    category: str | None
    subject: str | None
    lead: str
    room_id: int
    room_name: str
    region_path: str
    unit_name: str | None
    submitter_name: str  # for scrubbing only: never copied into the snapshot
    submitter_phone: str  # likewise


@dataclass(frozen=True, slots=True)
class EventRow:
    topic_id: int
    at: datetime
    kind: str
    from_status: str | None
    to_status: str
    note: str


@dataclass(frozen=True, slots=True)
class SessionRow:
    topic_id: int
    id: int
    title: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    topic_id: int
    id: int
    source: str
    decision: str
    unit_name: str | None
    lead: str
    due_on: date
    published_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class UpdateRow:
    outcome_id: int
    at: datetime
    percent: int
    note: str


@dataclass(frozen=True, slots=True)
class HeldRow:
    id: int
    title: str
    started_at: datetime
    room_name: str
    region_path: str


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything read for one month, city-wide."""

    regions: Sequence[RegionRow]
    topics: Sequence[TopicRow]
    events: Sequence[EventRow]
    sessions: Sequence[SessionRow]
    outcomes: Sequence[OutcomeRow]
    updates: Sequence[UpdateRow]
    held: Sequence[HeldRow]


@dataclass(frozen=True, slots=True)
class RegionDisclosure:
    region_id: int
    region_name: str
    counts: dict[str, int]
    content: dict[str, Any]
    # ``content`` as JSON text: a town repeats its communities' topics, so each topic is
    # encoded once and its text spliced into every region that lists it.
    content_json: str


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def path_ids(path: str) -> list[int]:
    return [int(p) for p in path.strip("/").split("/") if p]


def _iso(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="minutes")


def _by(rows: Iterable[Any], key: str) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


def build(month: Month, tz: tzinfo, facts: Facts, generated_at: datetime) -> list[RegionDisclosure]:
    """One disclosure per town and community (those without topics too: "nothing this
    month" is also a public statement), in region path order."""
    start, end = month.start(tz), month.end(tz)
    names = {r.id: r.name for r in facts.regions}
    levels = {r.id: r.level for r in facts.regions}
    events = _by(facts.events, "topic_id")
    sessions = _by(facts.sessions, "topic_id")
    outcomes = {o.topic_id: o for o in facts.outcomes}
    updates = _by(facts.updates, "outcome_id")

    entries: dict[int, list[tuple[dict[str, Any], str]]] = defaultdict(list)
    for topic in facts.topics:
        entry = _topic_entry(
            topic,
            events.get(topic.id, []),
            sessions.get(topic.id, []),
            outcomes.get(topic.id),
            updates,
            month,
            tz,
            start,
            end,
        )
        if not entry["in_month"]:
            continue  # the subquery's rule and qualifies() agree; this is the backstop
        encoded = (entry, _encode(entry))
        for region_id in path_ids(topic.region_path):
            if levels.get(region_id) in DISCLOSED_LEVELS:
                entries[region_id].append(encoded)

    held: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for h in facts.held:
        item = {"id": h.id, "title": h.title, "at": _iso(h.started_at, tz), "room": h.room_name}
        for region_id in path_ids(h.region_path):
            held[region_id].append(item)

    out = []
    for region in sorted(facts.regions, key=lambda r: r.path):
        if region.level not in DISCLOSED_LEVELS:
            continue
        chain = [names[i] for i in path_ids(region.path) if levels.get(i) != "city" and i in names]
        listed = sorted(entries.get(region.id, []), key=lambda e: e[0]["number"])
        topics = [entry for entry, _ in listed]
        counts = summary(topics, len(held.get(region.id, [])))
        content: dict[str, Any] = {
            "schema": SCHEMA,
            "month": str(month),
            "region": {"id": region.id, "level": region.level, "name": region.name, "chain": chain},
            "period": {
                "start": _iso(start, tz),
                "end": _iso(end, tz),  # exclusive
                "last_day": month.last_day().isoformat(),
            },
            "generated_at": _iso(generated_at, tz),
            "counts": counts,
            "sessions": held.get(region.id, []),
            "topics": [],  # last: the encoded topics are spliced in below
        }
        head = _encode(content)
        assert head.endswith('"topics":[]}')
        text = head[: -len("[]}")] + "[" + ",".join(e for _, e in listed) + "]}"
        content["topics"] = topics
        out.append(RegionDisclosure(region.id, " · ".join(chain), counts, content, text))
    return out


def _topic_entry(
    topic: TopicRow,
    events: list[EventRow],
    sessions: list[SessionRow],
    outcome: OutcomeRow | None,
    updates: dict[int, list[UpdateRow]],
    month: Month,
    tz: tzinfo,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    personal = tuple(n for n in (topic.submitter_name, topic.submitter_phone) if n)

    def clean(text: str) -> str:
        return redact(text, personal)

    timeline = [
        {
            "at": _iso(e.at, tz),
            "kind": e.kind,
            "status": e.to_status,
            "note": clean(public_note(e.kind, e.note)),
        }
        for e in events
    ]
    happened = {
        e.to_status if e.kind == "move" else e.kind
        for e in events
        if start <= e.at < end and qualifies(e.kind, e.from_status, e.to_status)
    }
    status = events[-1].to_status if events else ""
    result: dict[str, str] | None = None
    progress: dict[str, Any] | None = None
    if outcome is not None:
        done = updates.get(outcome.id, [])
        if any(start <= u.at < end for u in done):
            happened.add("outcome_progress")
        last = done[-1] if done else None
        if last is not None:
            percent = last.percent
        else:
            percent = 100 if outcome.completed_at is not None and outcome.completed_at < end else 0
        progress = {
            "id": outcome.id,
            "source": outcome.source,
            "decision": clean(outcome.decision),
            "unit": outcome.unit_name,
            "lead": clean(outcome.lead),
            "due_on": outcome.due_on.isoformat(),
            "published_at": _iso(outcome.published_at, tz),
            "percent": percent,
            "flag": str(outcome_flag(outcome.due_on, percent, month.last_day())),
            "latest_update": None
            if last is None
            else {"at": _iso(last.at, tz), "percent": last.percent, "note": clean(last.note)},
        }
        result = {"kind": "decision", "text": progress["decision"]}
    elif status in ("resolved", "rejected"):
        note = next((e.note for e in reversed(events) if e.to_status == status), "")
        result = {
            "kind": "resolution" if status == "resolved" else "rejection",
            "text": clean(note),
        }
    return {
        "id": topic.id,
        "number": topic.number,
        "title": clean(topic.title),
        "kind": topic.kind,
        "category": topic.category,
        "subject": topic.subject,
        "room": {"id": topic.room_id, "name": topic.room_name},
        "status": status,
        "unit": (outcome.unit_name if outcome and outcome.unit_name else topic.unit_name),
        "lead": clean(topic.lead),
        "in_month": sorted(happened),
        "timeline": timeline,
        "sessions": [
            {"id": s.id, "title": s.title, "at": _iso(s.started_at, tz)} for s in sessions
        ],
        "result": result,
        "outcome": progress,
    }
