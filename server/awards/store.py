"""Queries of the awards feature: the year's figures (read from the rooms, topics,
deliberations, registrations, outcomes and evaluations tables, never written), and the
rounds, reviewers, candidates, nominations, scores and publications of this feature.

Every function takes an open session; none raises HTTP errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.awards.tables import (
    AwardCandidate,
    AwardNomination,
    AwardPublication,
    AwardReviewer,
    AwardRound,
    AwardScore,
)
from server.deliberations.model import DeliberationStatus, RegistrationStatus
from server.deliberations.tables import Deliberation, Registration
from server.outcomes.model import OutcomeSource, OutcomeStatus
from server.outcomes.tables import Evaluation, Outcome
from server.rooms.tables import Region, Room
from server.topics.model import TopicStatus
from server.topics.tables import Topic

HELD = (DeliberationStatus.LIVE, DeliberationStatus.ENDED, DeliberationStatus.PUBLISHED)
# A topic that got past intake: accepted, whatever became of it since.
NOT_ACCEPTED = (TopicStatus.SUBMITTED, TopicStatus.REJECTED, TopicStatus.MERGED)


# --- rounds and reviewers ---------------------------------------------------------------------


async def get_round(session: AsyncSession, year: int, *, lock: bool = False) -> AwardRound | None:
    """The year's round; ``lock`` holds its row until the transaction ends (PostgreSQL),
    serialising every change to the year."""
    query = select(AwardRound).where(AwardRound.year == year)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def list_rounds(session: AsyncSession) -> Sequence[AwardRound]:
    rows = await session.execute(select(AwardRound).order_by(AwardRound.year.desc()))
    return rows.scalars().all()


async def list_reviewers(session: AsyncSession, round_id: int) -> list[int]:
    """The appointed reviewers' user ids, in order of appointment."""
    rows = await session.execute(
        select(AwardReviewer.user_id)
        .where(AwardReviewer.round_id == round_id)
        .order_by(AwardReviewer.id)
    )
    return list(rows.scalars().all())


async def rounds_reviewed_by(session: AsyncSession, user_id: int) -> list[int]:
    """The years this user was appointed to review."""
    rows = await session.execute(
        select(AwardRound.year)
        .join(AwardReviewer, AwardReviewer.round_id == AwardRound.id)
        .where(AwardReviewer.user_id == user_id)
    )
    return list(rows.scalars().all())


# --- candidates, nominations, scores ----------------------------------------------------------


async def list_candidates(session: AsyncSession, round_id: int) -> Sequence[AwardCandidate]:
    rows = await session.execute(
        select(AwardCandidate)
        .where(AwardCandidate.round_id == round_id)
        .order_by(AwardCandidate.kind, AwardCandidate.composite.desc(), AwardCandidate.id)
    )
    return rows.scalars().all()


async def get_candidate(
    session: AsyncSession, round_id: int, candidate_id: int
) -> AwardCandidate | None:
    row = await session.execute(
        select(AwardCandidate).where(
            AwardCandidate.id == candidate_id, AwardCandidate.round_id == round_id
        )
    )
    return row.scalar_one_or_none()


async def find_candidate(
    session: AsyncSession, round_id: int, kind: str, subject_key: str
) -> AwardCandidate | None:
    row = await session.execute(
        select(AwardCandidate).where(
            AwardCandidate.round_id == round_id,
            AwardCandidate.kind == kind,
            AwardCandidate.subject_key == subject_key,
        )
    )
    return row.scalar_one_or_none()


async def list_nominations(session: AsyncSession, round_id: int) -> Sequence[AwardNomination]:
    rows = await session.execute(
        select(AwardNomination)
        .where(AwardNomination.round_id == round_id)
        .order_by(AwardNomination.id)
    )
    return rows.scalars().all()


async def get_nomination(
    session: AsyncSession, round_id: int, nomination_id: int
) -> AwardNomination | None:
    row = await session.execute(
        select(AwardNomination).where(
            AwardNomination.id == nomination_id, AwardNomination.round_id == round_id
        )
    )
    return row.scalar_one_or_none()


async def find_nomination(
    session: AsyncSession, round_id: int, kind: str, subject_key: str
) -> AwardNomination | None:
    row = await session.execute(
        select(AwardNomination).where(
            AwardNomination.round_id == round_id,
            AwardNomination.kind == kind,
            AwardNomination.subject_key == subject_key,
        )
    )
    return row.scalar_one_or_none()


async def list_scores(session: AsyncSession, round_id: int) -> list[tuple[int, int, int]]:
    """(candidate id, reviewer id, score) of every score in the round."""
    rows = await session.execute(
        select(AwardScore.candidate_id, AwardScore.reviewer_id, AwardScore.score)
        .join(AwardCandidate, AwardCandidate.id == AwardScore.candidate_id)
        .where(AwardCandidate.round_id == round_id)
    )
    return [(r[0], r[1], r[2]) for r in rows.all()]


async def get_score(
    session: AsyncSession, candidate_id: int, reviewer_id: int
) -> AwardScore | None:
    row = await session.execute(
        select(AwardScore).where(
            AwardScore.candidate_id == candidate_id, AwardScore.reviewer_id == reviewer_id
        )
    )
    return row.scalar_one_or_none()


# --- publications -----------------------------------------------------------------------------


async def latest_version(session: AsyncSession, year: int) -> int:
    """The highest version published for ``year``; 0 if none."""
    found = await session.scalar(
        select(func.max(AwardPublication.version)).where(AwardPublication.year == year)
    )
    return int(found or 0)


async def get_publication(
    session: AsyncSession, year: int, version: int | None = None
) -> AwardPublication | None:
    """The given version of ``year``, or its latest; None if not published."""
    query = select(AwardPublication).where(AwardPublication.year == year)
    if version is not None:
        query = query.where(AwardPublication.version == version)
    row = await session.execute(query.order_by(AwardPublication.version.desc()).limit(1))
    return row.scalar_one_or_none()


async def list_publications(session: AsyncSession) -> list[tuple[int, int, str, datetime]]:
    """(year, version, reason, published_at) of every version, newest year and version
    first."""
    rows = await session.execute(
        select(
            AwardPublication.year,
            AwardPublication.version,
            AwardPublication.reason,
            AwardPublication.published_at,
        ).order_by(AwardPublication.year.desc(), AwardPublication.version.desc())
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows.all()]


# --- rooms and topics named by nominations ----------------------------------------------------


async def room_names(session: AsyncSession) -> dict[int, tuple[str, str]]:
    """Every room: id → (room name, its region's name)."""
    rows = await session.execute(
        select(Room.id, Room.name, Region.name).join(Region, Region.id == Room.region_id)
    )
    return {r[0]: (r[1], r[2]) for r in rows.all()}


async def room_by_code(session: AsyncSession, code: str) -> int | None:
    return await session.scalar(select(Room.id).where(Room.code == code))


async def topic_by_number(session: AsyncSession, number: str) -> Topic | None:
    row = await session.execute(select(Topic).where(Topic.number == number))
    return row.scalar_one_or_none()


# --- the year's figures -----------------------------------------------------------------------


async def sessions_held(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int, int]]:
    """(room id, sessions) that went live in [start, end) and were not called off."""
    rows = await session.execute(
        select(Deliberation.room_id, func.count())
        .where(
            Deliberation.status.in_(HELD),
            Deliberation.started_at >= start,
            Deliberation.started_at < end,
        )
        .group_by(Deliberation.room_id)
    )
    return [(r[0], int(r[1])) for r in rows.all()]


async def topics_by_status(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int, str, int]]:
    """(room id, current status, topics) of the topics received in [start, end)."""
    rows = await session.execute(
        select(Topic.room_id, Topic.status, func.count())
        .where(Topic.created_at >= start, Topic.created_at < end)
        .group_by(Topic.room_id, Topic.status)
    )
    return [(r[0], str(r[1]), int(r[2])) for r in rows.all()]


async def room_verdicts(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int, str, int]]:
    """(room id, verdict, evaluations) made in [start, end) on the published outcomes of
    the room's topics."""
    rows = await session.execute(
        select(Topic.room_id, Evaluation.verdict, func.count())
        .select_from(Evaluation)
        .join(Outcome, Outcome.id == Evaluation.outcome_id)
        .join(Topic, Topic.id == Outcome.topic_id)
        .where(
            Outcome.status == OutcomeStatus.PUBLISHED,
            Evaluation.created_at >= start,
            Evaluation.created_at < end,
        )
        .group_by(Topic.room_id, Evaluation.verdict)
    )
    return [(r[0], str(r[1]), int(r[2])) for r in rows.all()]


async def resolved_cases(session: AsyncSession, start: datetime, end: datetime) -> Sequence[Any]:
    """(topic id, number, title, room id, percent) of the key topics deliberated in a
    session whose outcome was published in [start, end) and which are resolved now."""
    rows = await session.execute(
        select(Topic.id, Topic.number, Topic.title, Topic.room_id, Outcome.percent)
        .select_from(Outcome)
        .join(Topic, Topic.id == Outcome.topic_id)
        .where(
            Outcome.source == OutcomeSource.DELIBERATION,
            Outcome.status == OutcomeStatus.PUBLISHED,
            Outcome.published_at >= start,
            Outcome.published_at < end,
            Topic.status == TopicStatus.RESOLVED,
        )
    )
    return rows.all()


async def case_verdicts(
    session: AsyncSession, topic_ids: Sequence[int], end: datetime
) -> list[tuple[int, str, int]]:
    """(topic id, verdict, evaluations) made before ``end`` on these topics' outcomes."""
    if not topic_ids:
        return []
    rows = await session.execute(
        select(Outcome.topic_id, Evaluation.verdict, func.count())
        .select_from(Evaluation)
        .join(Outcome, Outcome.id == Evaluation.outcome_id)
        .where(Outcome.topic_id.in_(topic_ids), Evaluation.created_at < end)
        .group_by(Outcome.topic_id, Evaluation.verdict)
    )
    return [(r[0], str(r[1]), int(r[2])) for r in rows.all()]


async def accepted_proposals(
    session: AsyncSession, start: datetime, end: datetime
) -> Sequence[Any]:
    """(room id, submitter name, submitter phone, device id) of each topic received in
    [start, end) that got past intake, oldest first. Personal data: the caller keeps it
    internal."""
    rows = await session.execute(
        select(Topic.room_id, Topic.submitter_name, Topic.submitter_phone, Topic.device_id)
        .where(
            Topic.created_at >= start,
            Topic.created_at < end,
            Topic.status.not_in(NOT_ACCEPTED),
        )
        .order_by(Topic.id)
    )
    return rows.all()


async def participation(session: AsyncSession, start: datetime, end: datetime) -> Sequence[Any]:
    """(phone, device id, checked in?) of every sign-up not cancelled for a session held
    in [start, end). Personal data: the caller keeps it internal."""
    rows = await session.execute(
        select(Registration.phone, Registration.device_id, Registration.checked_in_at.is_not(None))
        .join(Deliberation, Deliberation.id == Registration.deliberation_id)
        .where(
            Deliberation.status.in_(HELD),
            Deliberation.started_at >= start,
            Deliberation.started_at < end,
            Registration.status != RegistrationStatus.CANCELLED,
        )
    )
    return rows.all()


async def topic_titles(
    session: AsyncSession, topic_ids: Sequence[int]
) -> dict[int, tuple[str, str]]:
    """id → (number, title) of these topics."""
    if not topic_ids:
        return {}
    rows = await session.execute(
        select(Topic.id, Topic.number, Topic.title).where(Topic.id.in_(topic_ids))
    )
    return {r[0]: (r[1], r[2]) for r in rows.all()}
