"""Queries for minutes, outcomes, progress and evaluations.

The minutes are drafted from a session's log, so the log queries read the deliberation
tables directly (read-only, one statement each) rather than assembling them from
several deliberation actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.tables import Unit
from server.deliberations.model import CommentStatus, InvitationStatus, PollStatus
from server.deliberations.tables import (
    AgendaItem,
    AgendaMark,
    Deliberation,
    Invitation,
    LiveComment,
    Poll,
    PollOption,
    Question,
    Recording,
    RecordingChapter,
    Registration,
    SpeakerRequest,
)
from server.outcomes.model import Flag, OutcomeStatus
from server.outcomes.tables import Evaluation, Minutes, Outcome, OutcomePhoto, OutcomeUpdate
from server.rooms.tables import Region, Room
from server.topics.tables import Topic

# --- the session's log, for drafting minutes -------------------------------------------


async def agenda(session: AsyncSession, deliberation_id: int) -> list[tuple[int, str, str, str]]:
    """(topic id, number, title, status) in agenda order."""
    rows = await session.execute(
        select(Topic.id, Topic.number, Topic.title, Topic.status)
        .join(AgendaItem, AgendaItem.topic_id == Topic.id)
        .where(AgendaItem.deliberation_id == deliberation_id)
        .order_by(AgendaItem.position)
    )
    return [(r[0], r[1], r[2], str(r[3])) for r in rows.all()]


async def agenda_marks(session: AsyncSession, deliberation_id: int) -> list[tuple[int, datetime]]:
    rows = await session.execute(
        select(AgendaMark.topic_id, AgendaMark.at)
        .where(AgendaMark.deliberation_id == deliberation_id)
        .order_by(AgendaMark.at, AgendaMark.id)
    )
    return [(r[0], r[1]) for r in rows.all()]


async def registration_counts(
    session: AsyncSession, deliberation_id: int
) -> list[tuple[str, str, int, int]]:
    """(attendee kind, registration status, rows, checked in) for the session."""
    rows = await session.execute(
        select(
            Registration.kind,
            Registration.status,
            func.count(),
            func.count(Registration.checked_in_at),
        )
        .where(Registration.deliberation_id == deliberation_id)
        .group_by(Registration.kind, Registration.status)
    )
    return [(str(r[0]), str(r[1]), r[2], r[3]) for r in rows.all()]


async def admitted_guests(session: AsyncSession, deliberation_id: int) -> list[tuple[str, str]]:
    """(role, organisation) of the guests the host admitted (names are not kept here)."""
    rows = await session.execute(
        select(Invitation.role, Invitation.organisation)
        .where(
            Invitation.deliberation_id == deliberation_id,
            Invitation.admitted_at.is_not(None),
            Invitation.status != InvitationStatus.INVITED,
        )
        .order_by(Invitation.id)
    )
    return [(str(r[0]), r[1]) for r in rows.all()]


async def closed_polls(session: AsyncSession, deliberation_id: int) -> list[Poll]:
    return list(
        await session.scalars(
            select(Poll)
            .where(Poll.deliberation_id == deliberation_id, Poll.status == PollStatus.CLOSED)
            .order_by(Poll.closed_at, Poll.id)
        )
    )


async def poll_options(session: AsyncSession, poll_ids: Sequence[int]) -> list[PollOption]:
    if not poll_ids:
        return []
    return list(
        await session.scalars(
            select(PollOption)
            .where(PollOption.poll_id.in_(poll_ids))
            .order_by(PollOption.poll_id, PollOption.position)
        )
    )


async def speakers(session: AsyncSession, deliberation_id: int) -> list[SpeakerRequest]:
    """Everyone who was given the floor, in order."""
    return list(
        await session.scalars(
            select(SpeakerRequest)
            .where(
                SpeakerRequest.deliberation_id == deliberation_id,
                SpeakerRequest.floor_at.is_not(None),
            )
            .order_by(SpeakerRequest.floor_at, SpeakerRequest.id)
        )
    )


async def comment_counts(session: AsyncSession, deliberation_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(LiveComment.status, func.count())
        .where(LiveComment.deliberation_id == deliberation_id)
        .group_by(LiveComment.status)
    )
    return {str(s): n for s, n in rows.all()}


async def count_questions(session: AsyncSession, deliberation_id: int) -> int:
    return (
        await session.scalar(
            select(func.count()).where(Question.deliberation_id == deliberation_id)
        )
    ) or 0


async def recording_chapters(
    session: AsyncSession, deliberation_id: int
) -> tuple[int | None, list[tuple[int | None, float]]]:
    """The session's recording id and its chapters (topic id, start seconds)."""
    rec = await session.scalar(
        select(Recording.id).where(Recording.deliberation_id == deliberation_id)
    )
    if rec is None:
        return None, []
    rows = await session.execute(
        select(RecordingChapter.topic_id, RecordingChapter.start)
        .where(RecordingChapter.recording_id == rec)
        .order_by(RecordingChapter.position)
    )
    return rec, [(r[0], r[1]) for r in rows.all()]


# --- minutes ---------------------------------------------------------------------------


async def get_minutes(
    session: AsyncSession, deliberation_id: int, *, lock: bool = False
) -> Minutes | None:
    query = select(Minutes).where(Minutes.deliberation_id == deliberation_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def get_deliberation(
    session: AsyncSession, deliberation_id: int, *, lock: bool = False
) -> tuple[Deliberation, str, str] | None:
    """The session with its region's path and its room's name."""
    query = (
        select(Deliberation, Region.path, Room.name)
        .join(Region, Deliberation.region_id == Region.id)
        .join(Room, Deliberation.room_id == Room.id)
        .where(Deliberation.id == deliberation_id)
    )
    if lock:
        query = query.with_for_update(of=Deliberation)
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1], row[2])


# --- outcomes --------------------------------------------------------------------------


async def outcomes_of_topics(session: AsyncSession, topic_ids: Sequence[int]) -> list[Outcome]:
    if not topic_ids:
        return []
    query = (
        select(Outcome)
        .where(Outcome.topic_id.in_(topic_ids))
        .execution_options(populate_existing=True)  # versioned UPDATEs bypass the session
    )
    return list(await session.scalars(query))


async def get_outcome_by_topic(
    session: AsyncSession, topic_id: int, *, lock: bool = False
) -> Outcome | None:
    query = (
        select(Outcome)
        .where(Outcome.topic_id == topic_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def get_outcome(
    session: AsyncSession, outcome_id: int, *, lock: bool = False
) -> tuple[Outcome, Topic, str, str, str] | None:
    """The outcome with its topic, the topic's region path, room name and region name."""
    query = (
        select(Outcome, Topic, Region.path, Room.name, Region.name)
        .join(Topic, Outcome.topic_id == Topic.id)
        .join(Region, Topic.region_id == Region.id)
        .join(Room, Topic.room_id == Room.id)
        .where(Outcome.id == outcome_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(of=Outcome)
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4])


async def topic_lead(session: AsyncSession, topic_id: int) -> str:
    return (await session.scalar(select(Topic.lead).where(Topic.id == topic_id))) or ""


async def topic_id_by_tracking(session: AsyncSession, digest: str) -> int | None:
    """The topic a tracking token's digest belongs to."""
    return await session.scalar(select(Topic.id).where(Topic.tracking_digest == digest))


async def unit_names(session: AsyncSession, unit_ids: Sequence[int | None]) -> dict[int, str]:
    ids = {u for u in unit_ids if u is not None}
    if not ids:
        return {}
    rows = await session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))
    return {r[0]: r[1] for r in rows.all()}


async def get_unit(session: AsyncSession, unit_id: int) -> Unit | None:
    return await session.get(Unit, unit_id)


async def update_outcome(
    session: AsyncSession, outcome_id: int, *, expected_version: int, values: dict[str, Any]
) -> bool:
    """Versioned UPDATE: False if someone changed the outcome since it was read."""
    result = await session.execute(
        update(Outcome)
        .where(Outcome.id == outcome_id, Outcome.version == expected_version)
        .values(version=Outcome.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_updates(session: AsyncSession, outcome_id: int) -> list[OutcomeUpdate]:
    return list(
        await session.scalars(
            select(OutcomeUpdate)
            .where(OutcomeUpdate.outcome_id == outcome_id)
            .order_by(OutcomeUpdate.id)
        )
    )


async def list_photos(session: AsyncSession, outcome_id: int) -> list[OutcomePhoto]:
    return list(
        await session.scalars(
            select(OutcomePhoto)
            .where(OutcomePhoto.outcome_id == outcome_id)
            .order_by(OutcomePhoto.id)
        )
    )


async def get_photo(session: AsyncSession, outcome_id: int, photo_id: int) -> OutcomePhoto | None:
    return await session.scalar(
        select(OutcomePhoto).where(
            OutcomePhoto.id == photo_id, OutcomePhoto.outcome_id == outcome_id
        )
    )


async def list_outcomes(
    session: AsyncSession,
    *,
    region_path: str,
    unit_id: int | None = None,
    overdue_before: date | None = None,
    status: OutcomeStatus | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[tuple[Outcome, Topic, str]]:
    """Outcomes of topics in the region's subtree, newest first, with the room name.

    ``overdue_before``: only unfinished outcomes due before that local date."""
    query = (
        select(Outcome, Topic, Room.name)
        .join(Topic, Outcome.topic_id == Topic.id)
        .join(Region, Topic.region_id == Region.id)
        .join(Room, Topic.room_id == Room.id)
        .where(Region.path.startswith(region_path, autoescape=True))
        .order_by(Outcome.id.desc())
        .limit(limit)
    )
    if unit_id is not None:
        query = query.where(Outcome.unit_id == unit_id)
    if status is not None:
        query = query.where(Outcome.status == status)
    if overdue_before is not None:
        query = query.where(Outcome.due_on < overdue_before, Outcome.percent < 100)
    if before_id is not None:
        query = query.where(Outcome.id < before_id)
    return [(r[0], r[1], r[2]) for r in (await session.execute(query)).all()]


# --- evaluations -----------------------------------------------------------------------


async def verdict_counts(session: AsyncSession, outcome_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Evaluation.verdict, func.count())
        .where(Evaluation.outcome_id == outcome_id)
        .group_by(Evaluation.verdict)
    )
    return {str(v): n for v, n in rows.all()}


async def score_sum(session: AsyncSession, outcome_id: int) -> int:
    return (
        await session.scalar(
            select(func.coalesce(func.sum(Evaluation.score), 0)).where(
                Evaluation.outcome_id == outcome_id
            )
        )
    ) or 0


async def visible_evaluations(
    session: AsyncSession, outcome_id: int, *, limit: int = 100
) -> list[Evaluation]:
    return list(
        await session.scalars(
            select(Evaluation)
            .where(Evaluation.outcome_id == outcome_id)
            .order_by(Evaluation.id.desc())
            .limit(limit)
        )
    )


async def get_evaluation(
    session: AsyncSession, evaluation_id: int, *, lock: bool = False
) -> Evaluation | None:
    query = select(Evaluation).where(Evaluation.id == evaluation_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def has_evaluation(session: AsyncSession, outcome_id: int, identity_key: str) -> bool:
    found = await session.scalar(
        select(Evaluation.id).where(
            Evaluation.outcome_id == outcome_id, Evaluation.identity_key == identity_key
        )
    )
    return found is not None


async def held_evaluations(
    session: AsyncSession, region_path: str, *, limit: int = 100
) -> list[tuple[Evaluation, str]]:
    """Comments waiting for a moderator in the region's subtree, with the topic number."""
    rows = await session.execute(
        select(Evaluation, Topic.number)
        .join(Outcome, Evaluation.outcome_id == Outcome.id)
        .join(Topic, Outcome.topic_id == Topic.id)
        .join(Region, Topic.region_id == Region.id)
        .where(
            Evaluation.comment_status == CommentStatus.HELD,
            Region.path.startswith(region_path, autoescape=True),
        )
        .order_by(Evaluation.id)
        .limit(limit)
    )
    return [(r[0], r[1]) for r in rows.all()]


async def topic_id_by_number(session: AsyncSession, number: str) -> int | None:
    """The topic with this public number (for the tracking page's outcome link)."""
    return await session.scalar(select(Topic.id).where(Topic.number == number))


async def due_outcomes(
    session: AsyncSession, *, until: date, limit: int
) -> list[tuple[Outcome, Topic, str]]:
    """Published, unfinished outcomes due by ``until`` whose unit has not yet been told
    they are overdue, with the topic and its region's path."""
    rows = await session.execute(
        select(Outcome, Topic, Region.path)
        .join(Topic, Outcome.topic_id == Topic.id)
        .join(Region, Topic.region_id == Region.id)
        .where(
            Outcome.status == OutcomeStatus.PUBLISHED,
            Outcome.percent < 100,
            Outcome.due_on <= until,
            Outcome.reminded != Flag.OVERDUE,
        )
        .order_by(Outcome.due_on, Outcome.id)
        .limit(limit)
    )
    return [(r[0], r[1], r[2]) for r in rows.all()]


async def mark_reminded(
    session: AsyncSession, outcome_id: int, *, was: Flag, now_flag: Flag
) -> bool:
    """Claim one reminder: False if another process claimed it first."""
    result = await session.execute(
        update(Outcome)
        .where(Outcome.id == outcome_id, Outcome.reminded == was)
        .values(reminded=now_flag)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_public_outcomes(
    session: AsyncSession,
    *,
    region_path: str,
    today: date,
    flag: str | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Outcome, Topic, str, str, dict[str, int]]], int]:
    """Published outcomes of topics in the region's subtree, most recently updated first,
    with room and region names and verdict counts; and how many there are.

    ``flag``: ``overdue`` (unfinished, past due), ``done`` (complete), ``open``
    (unfinished), or None for all."""
    where = [
        Outcome.status == OutcomeStatus.PUBLISHED,
        Region.path.startswith(region_path, autoescape=True),
    ]
    if flag == "overdue":
        where += [Outcome.percent < 100, Outcome.due_on < today]
    elif flag == "done":
        where.append(Outcome.percent >= 100)
    elif flag == "open":
        where.append(Outcome.percent < 100)
    base = (
        select(Outcome, Topic, Room.name, Region.name)
        .join(Topic, Outcome.topic_id == Topic.id)
        .join(Region, Topic.region_id == Region.id)
        .join(Room, Topic.room_id == Room.id)
        .where(*where)
    )
    total = (
        await session.scalar(select(func.count()).select_from(base.order_by(None).subquery()))
    ) or 0
    rows = (
        await session.execute(
            base.order_by(Outcome.updated_at.desc(), Outcome.id.desc()).offset(offset).limit(limit)
        )
    ).all()
    ids = [r[0].id for r in rows]
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        found = await session.execute(
            select(Evaluation.outcome_id, Evaluation.verdict, func.count())
            .where(Evaluation.outcome_id.in_(ids))
            .group_by(Evaluation.outcome_id, Evaluation.verdict)
        )
        for outcome_id, verdict, n in found.all():
            counts[outcome_id][str(verdict)] = n
    return [(r[0], r[1], r[2], r[3], counts[r[0].id]) for r in rows], total


async def region_path_of(session: AsyncSession, region_id: int) -> str | None:
    return await session.scalar(select(Region.path).where(Region.id == region_id))
