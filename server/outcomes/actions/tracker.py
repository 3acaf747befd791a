"""The public outcome tracker (结果追踪): every published outcome with its progress, flag
and satisfaction counts, filterable by region and state. Nothing personal is shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.core.clock import LOCAL_TZ
from server.core.context import Context
from server.core.errors import NotFound, ValidationFailed
from server.outcomes import store
from server.outcomes.model import Satisfaction, outcome_flag

TRACKER_FLAGS = ("overdue", "open", "done")
PAGE = 20


@dataclass(frozen=True, slots=True)
class TrackerItem:
    id: int
    topic_number: str
    topic_title: str
    category: str | None
    room_name: str
    region_name: str
    decision: str
    unit_name: str
    due_on: str
    percent: int
    flag: str
    satisfaction: Satisfaction

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topic_number": self.topic_number,
            "topic_title": self.topic_title,
            "category": self.category,
            "room_name": self.room_name,
            "region_name": self.region_name,
            "decision": self.decision,
            "unit_name": self.unit_name,
            "due_on": self.due_on,
            "percent": self.percent,
            "flag": self.flag,
            "satisfaction": self.satisfaction.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class TrackerPage:
    items: list[TrackerItem]
    total: int
    offset: int

    def as_json(self) -> dict[str, Any]:
        return {
            "outcomes": [i.as_json() for i in self.items],
            "total": self.total,
            "offset": self.offset,
        }


async def outcome_tracker(
    ctx: Context, *, region_id: int | None = None, flag: str | None = None, offset: int = 0
) -> TrackerPage:
    """One page of published outcomes. ValidationFailed for an unknown flag, NotFound for
    an unknown region."""
    if flag is not None and flag not in TRACKER_FLAGS:
        raise ValidationFailed(
            "Unknown state.", fields={"flag": "One of " + ", ".join(TRACKER_FLAGS) + "."}
        )
    today = ctx.clock.now().astimezone(LOCAL_TZ).date()
    async with ctx.db.read() as session:
        path = "/"
        if region_id is not None:
            found = await store.region_path_of(session, region_id)
            if found is None:
                raise NotFound("No such region.")
            path = found
        rows, total = await store.list_public_outcomes(
            session, region_path=path, today=today, flag=flag, offset=max(offset, 0), limit=PAGE
        )
        names = await store.unit_names(session, [o.unit_id for o, *_ in rows])
    items = [
        TrackerItem(
            id=o.id,
            topic_number=t.number,
            topic_title=t.title,
            category=t.category,
            room_name=room,
            region_name=region,
            decision=o.decision,
            unit_name=names.get(o.unit_id, "") if o.unit_id else "",
            due_on=o.due_on.isoformat(),
            percent=o.percent,
            flag=outcome_flag(o.due_on, o.percent, today),
            satisfaction=Satisfaction.of(counts),
        )
        for o, t, room, region, counts in rows
    ]
    return TrackerPage(items, total, max(offset, 0))
