"""Session recordings: one per deliberation, attached to it and to each agenda topic.

The media pipeline (``signaling.pipeline``) writes the file; these actions keep its row.
A row is ``recording`` while the file is written (a crash leaves it so, and the next start
finalises it), then ``final`` with the probe's duration and streams and the chapters the
pipeline marked at each agenda move (in recording time, pauses cut out), each tied to its
topic, so a topic's page opens the recording at its discussion.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from server.core.context import Context
from server.core.errors import NotFound
from server.deliberations import recording_store, room_store
from server.deliberations.model import RecordingStatus
from server.deliberations.tables import Recording

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChapterView:
    position: int
    topic_id: int | None
    title: str
    start: float

    def public(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "topic_id": self.topic_id,
            "title": self.title,
            "start": round(self.start, 1),
        }


@dataclass(frozen=True, slots=True)
class RecordingView:
    id: int
    deliberation_id: int
    deliberation_title: str
    status: RecordingStatus
    path: str
    started_at: datetime
    duration: float | None
    size: int | None
    streams: list[str]
    chapters: list[ChapterView]

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deliberation_id": self.deliberation_id,
            "deliberation_title": self.deliberation_title,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "duration": self.duration,
            "size": self.size,
            "streams": self.streams,
            "chapters": [c.public() for c in self.chapters],
            "url": f"/media/recordings/{self.id}.mp4",
            "page": f"/recordings/{self.id}",
        }


async def started(ctx: Context, deliberation_id: int, path: str, at: datetime) -> None:
    """The recording began (or began again after a restart: the row is kept)."""
    async with ctx.db.write() as session:
        row = await recording_store.of_deliberation(session, deliberation_id)
        if row is None:
            session.add(
                Recording(
                    deliberation_id=deliberation_id,
                    status=RecordingStatus.RECORDING,
                    path=path,
                    started_at=at,
                    streams=[],
                )
            )
        else:
            row.status = RecordingStatus.RECORDING
            row.path = path


async def finished(
    ctx: Context,
    deliberation_id: int,
    *,
    duration: float | None,
    size: int | None,
    streams: list[str],
    chapters: list[tuple[str, float]],
    path: str | None = None,
) -> RecordingView | None:
    """The file is final: store what the probe found and its chapters. A chapter's title
    begins with its topic's number (the media marks one at each agenda move), which ties
    it to the topic. ``duration`` None means the file could not be read: marked failed."""
    async with ctx.db.write() as session:
        row = await recording_store.of_deliberation(session, deliberation_id)
        if row is None:
            return None
        row.status = RecordingStatus.FINAL if duration is not None else RecordingStatus.FAILED
        row.duration, row.size, row.streams = duration, size, streams
        if path is not None:
            row.path = path
        row.finalised_at = ctx.clock.now()
        numbers = {
            number: topic_id
            for topic_id, number, _ in await room_store.agenda(session, deliberation_id)
        }
        await recording_store.replace_chapters(
            session,
            row.id,
            [
                {
                    "position": position,
                    "topic_id": numbers.get(title.split(" ", 1)[0]),
                    "title": title[:200],
                    "start": max(0.0, start),
                }
                for position, (title, start) in enumerate(chapters, start=1)
            ],
        )
        recording_id = row.id
    return await recording(ctx, recording_id)


def chapter_title(number: str, title: str) -> str:
    """What the media marks at an agenda move: the topic's number first (see finished)."""
    return f"{number} {title}"


async def recording(ctx: Context, recording_id: int) -> RecordingView:
    async with ctx.db.read() as session:
        row = await session.get(Recording, recording_id)
        if row is None:
            raise NotFound("No such recording.")
        return RecordingView(
            row.id,
            row.deliberation_id,
            await recording_store.deliberation_title(session, row.deliberation_id),
            row.status,
            row.path,
            row.started_at,
            row.duration,
            row.size,
            list(row.streams or []),
            [
                ChapterView(c.position, c.topic_id, c.title, c.start)
                for c in await recording_store.chapters(session, row.id)
            ],
        )


async def of_deliberation(ctx: Context, deliberation_id: int) -> RecordingView | None:
    """The session's final recording, if it has one."""
    async with ctx.db.read() as session:
        row = await recording_store.of_deliberation(session, deliberation_id, RecordingStatus.FINAL)
    return await recording(ctx, row.id) if row is not None else None


async def for_topic(ctx: Context, topic_id: int) -> list[dict[str, Any]]:
    """Where each final recording discussed this topic: links that open at its chapter."""
    async with ctx.db.read() as session:
        rows = await recording_store.topic_chapters(session, topic_id)
    return [
        {
            "deliberation_id": deliberation_id,
            "recording_id": rid,
            "deliberation_title": title,
            "start": round(start, 1),
            "page": f"/recordings/{rid}?t={int(start)}",
        }
        for start, rid, title, deliberation_id in rows
    ]


async def for_topic_number(ctx: Context, number: str) -> dict[int, str]:
    """deliberation id -> the recording page opened at this topic's chapter."""
    async with ctx.db.read() as session:
        topic_id = await room_store.topic_id_by_number(session, number)
    if topic_id is None:
        return {}
    return {link["deliberation_id"]: link["page"] for link in await for_topic(ctx, topic_id)}


async def unfinished(ctx: Context) -> list[tuple[int, str]]:
    """(deliberation, path) of recordings a stopped server left being written."""
    async with ctx.db.read() as session:
        return await recording_store.unfinished(session)


async def expired(ctx: Context, days: int) -> list[RecordingView]:
    """Recordings older than ``days`` that may go: never one of a session whose minutes
    and outcomes are not yet published (they are the evidence the outcomes cite)."""
    async with ctx.db.read() as session:
        ids = await recording_store.expired_ids(session, ctx.clock.now() - timedelta(days=days))
    return [await recording(ctx, i) for i in ids]


async def purge(ctx: Context, recordings_dir: Path, view: RecordingView) -> None:
    """Delete one recording's files, then its rows (a file left over is harmless; a row
    pointing at nothing is not)."""
    await asyncio.to_thread(
        _remove_tree, recordings_dir, recordings_dir / str(view.deliberation_id)
    )
    async with ctx.db.write() as session:
        await recording_store.delete_recording(session, view.id)
    log.info("recording %s of session %s purged", view.id, view.deliberation_id)


def _remove_tree(root: Path, directory: Path) -> None:
    """Remove ``directory`` and what is in it, if it lies inside ``root``."""
    directory = directory.resolve()
    if root.resolve() not in directory.parents or not directory.exists():
        return
    for path in sorted(directory.rglob("*"), reverse=True):
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
    directory.rmdir()
