"""What the topic actions share: the staff view of a topic and its live events."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.core.context import Context
from server.rooms.actions import RoomView
from server.topics.model import (
    TopicKind,
    TopicSource,
    TopicStatus,
    mask_phone,
)
from server.topics.tables import Topic

log = logging.getLogger(__name__)

STAFF_NAMESPACE = "/staff"
MAX_NOTE = 1000
MAX_MERGE_CHAIN = 20


def unit_room(unit_id: int) -> str:
    """The socket.io room of a unit's handlers."""
    return f"unit:{unit_id}"


def user_room(user_id: int) -> str:
    """The socket.io room of one staff member's consoles (their notifications)."""
    return f"user:{user_id}"


def region_room(region_id: int) -> str:
    """The socket.io room of staff whose territory is this region."""
    return f"region:{region_id}"


@dataclass(frozen=True, slots=True)
class StaffTopic:
    id: int
    number: str
    title: str
    description: str
    kind: TopicKind
    source: TopicSource
    status: TopicStatus
    category: str | None
    room_id: int
    room_name: str
    room_code: str
    region_id: int
    region_name: str
    submitter_name: str
    submitter_phone_masked: str
    photo_count: int
    created_at: datetime
    version: int = 1
    unit_id: int | None = None
    subject: str | None = None
    category_confidence: float | None = None
    subject_confidence: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    lead: str = ""
    # The most pressing open deadline, when the caller looked it up.
    flag: str | None = None
    due_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "description": self.description,
            "kind": self.kind,
            "source": self.source,
            "status": self.status,
            "category": self.category,
            "room": {"id": self.room_id, "name": self.room_name, "code": self.room_code},
            "region": {"id": self.region_id, "name": self.region_name},
            "submitter": {"name": self.submitter_name, "phone": self.submitter_phone_masked},
            "photo_count": self.photo_count,
            "version": self.version,
            "unit_id": self.unit_id,
            "lead": self.lead,
            "classification": {
                "category": self.category,
                "category_confidence": self.category_confidence,
                "subject": self.subject,
                "subject_confidence": self.subject_confidence,
                "evidence": self.evidence,
            },
            "created_at": self.created_at.isoformat(),
            "deadline": {"flag": self.flag, "due_at": self.due_at.isoformat()}
            if self.due_at
            else None,
        }


def staff_view(
    topic: Topic, room_name: str, room_code: str, region_name: str, photo_count: int
) -> StaffTopic:
    return StaffTopic(
        id=topic.id,
        number=topic.number,
        title=topic.title,
        description=topic.description,
        kind=topic.kind,
        source=topic.source,
        status=topic.status,
        category=topic.category,
        room_id=topic.room_id,
        room_name=room_name,
        room_code=room_code,
        region_id=topic.region_id,
        region_name=region_name,
        submitter_name=topic.submitter_name,
        submitter_phone_masked=mask_phone(topic.submitter_phone),
        photo_count=photo_count,
        created_at=topic.created_at,
        version=topic.version,
        unit_id=topic.unit_id,
        subject=topic.subject,
        category_confidence=topic.category_confidence,
        subject_confidence=topic.subject_confidence,
        evidence=topic.classification_evidence or {},
        lead=topic.lead,
    )


async def publish_for_room(ctx: Context, room: RoomView, op: str, topic: StaffTopic) -> None:
    await publish_for_region(ctx, room.region_path, op, topic)


async def publish_for_region(ctx: Context, region_path: str, op: str, topic: StaffTopic) -> None:
    """Tell the staff whose territory holds the topic and the unit it is assigned to, and
    nobody else. After commit only."""
    ancestors = [int(p) for p in region_path.strip("/").split("/") if p]
    rooms = [region_room(r) for r in ancestors]
    if topic.unit_id is not None:
        rooms.append(unit_room(topic.unit_id))
    try:
        await ctx.notifier.emit(
            "topic",
            {"type": "topic", "op": op, "topic": topic.to_json()},
            namespace=STAFF_NAMESPACE,
            rooms=rooms,
        )
    except Exception:  # the topic is stored; a lost push is repaired by the next page load
        log.exception("could not publish topic %s", topic.number)
