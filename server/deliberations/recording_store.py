"""Queries for session recordings and their chapters (used by ``actions.recordings``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.deliberations.model import DeliberationStatus, RecordingStatus
from server.deliberations.tables import Deliberation, Recording, RecordingChapter


async def of_deliberation(
    session: AsyncSession, deliberation_id: int, status: RecordingStatus | None = None
) -> Recording | None:
    query = select(Recording).where(Recording.deliberation_id == deliberation_id)
    if status is not None:
        query = query.where(Recording.status == status)
    found: Recording | None = await session.scalar(query)
    return found


async def deliberation_title(session: AsyncSession, deliberation_id: int) -> str:
    title = await session.scalar(
        select(Deliberation.title).where(Deliberation.id == deliberation_id)
    )
    return title or ""


async def chapters(session: AsyncSession, recording_id: int) -> Sequence[RecordingChapter]:
    query = (
        select(RecordingChapter)
        .where(RecordingChapter.recording_id == recording_id)
        .order_by(RecordingChapter.position)
    )
    return (await session.scalars(query)).all()


async def replace_chapters(
    session: AsyncSession, recording_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    await session.execute(
        delete(RecordingChapter).where(RecordingChapter.recording_id == recording_id)
    )
    session.add_all(RecordingChapter(recording_id=recording_id, **row) for row in rows)


async def topic_chapters(session: AsyncSession, topic_id: int) -> list[tuple[float, int, str, int]]:
    """(start, recording id, session title, session id) of final recordings' chapters on
    this topic, oldest recording first."""
    query = (
        select(RecordingChapter.start, Recording.id, Deliberation.title, Deliberation.id)
        .join(Recording, Recording.id == RecordingChapter.recording_id)
        .join(Deliberation, Deliberation.id == Recording.deliberation_id)
        .where(RecordingChapter.topic_id == topic_id, Recording.status == RecordingStatus.FINAL)
        .order_by(Recording.started_at)
    )
    return [(s, r, t, d) for s, r, t, d in (await session.execute(query)).all()]


async def unfinished(session: AsyncSession) -> list[tuple[int, str]]:
    query = select(Recording.deliberation_id, Recording.path).where(
        Recording.status == RecordingStatus.RECORDING
    )
    return [(d, p) for d, p in (await session.execute(query)).all()]


async def expired_ids(session: AsyncSession, before: datetime) -> list[int]:
    """Recordings started before ``before`` whose session's minutes are published (or
    that were cancelled): the only ones retention may remove."""
    query = (
        select(Recording.id)
        .join(Deliberation, Deliberation.id == Recording.deliberation_id)
        .where(
            Recording.started_at < before,
            Recording.status != RecordingStatus.RECORDING,
            Deliberation.status.in_([DeliberationStatus.PUBLISHED, DeliberationStatus.CANCELLED]),
        )
        .order_by(Recording.id)
    )
    return list((await session.scalars(query)).all())


async def delete_recording(session: AsyncSession, recording_id: int) -> None:
    await session.execute(
        delete(RecordingChapter).where(RecordingChapter.recording_id == recording_id)
    )
    await session.execute(delete(Recording).where(Recording.id == recording_id))
