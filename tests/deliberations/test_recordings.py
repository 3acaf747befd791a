"""Recordings kept against their sessions: attaching, chapters tied to topics, retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from server.core.clock import FakeClock
from server.core.context import Context
from server.core.web import CTX
from server.deliberations import recording_store
from server.deliberations.actions import recordings, schedule
from server.deliberations.model import DeliberationStatus, RecordingStatus
from server.deliberations.tables import Deliberation
from tests.deliberations.live_helpers import Session, key_topic, live_session
from tests.factories import City, make_city
from tests.test_cli import run


async def recorded(ctx: Context, session_id: int, root: Path) -> recordings.RecordingView:
    """A session's recording as the media leaves it: files on disk, the row final."""
    directory = root / str(session_id)
    (directory / "live").mkdir(parents=True)
    (directory / "recording.mp4").write_bytes(b"\x00" * 1000)
    (directory / "live" / "index.m3u8").write_text("#EXTM3U\n")
    await recordings.started(ctx, session_id, str(session_id), ctx.clock.now())
    view = await recordings.finished(
        ctx,
        session_id,
        duration=12.5,
        size=1000,
        streams=["video:h264", "audio:aac"],
        chapters=[],
        path=f"{session_id}/recording.mp4",
    )
    assert view is not None and view.status is RecordingStatus.FINAL
    return view


async def second_session(ctx: Context, city: City, first: Session) -> Session:
    topic_id = await key_topic(ctx, city, first.host, "路灯不亮影响夜行")
    now = ctx.clock.now()
    created = await schedule.create_deliberation(
        ctx,
        first.host,
        room_id=city.room.id,
        title="路灯协商议事会",
        description="",
        place="议事室",
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=2),
        capacity=20,
        moderation="post",
        host_name="李室长",
        moderators="",
        agenda=[topic_id],
    )
    return Session(created.id, first.host, [topic_id])


async def set_status(ctx: Context, session_id: int, status: DeliberationStatus) -> None:
    # Minutes are published by the outcomes feature (not built yet): set the state directly.
    async with ctx.db.write() as session:
        await session.execute(
            update(Deliberation).where(Deliberation.id == session_id).values(status=status)
        )


async def test_chapters_are_tied_to_topics_by_number_and_a_failed_probe_marks_it_failed(
    ctx: Context,
) -> None:
    city = await make_city(ctx)
    session = await live_session(ctx, city)
    agenda = await schedule.agenda(ctx, session.id)
    first = agenda[0]
    await recordings.started(ctx, session.id, str(session.id), ctx.clock.now())
    view = await recordings.finished(
        ctx,
        session.id,
        duration=30.0,
        size=10,
        streams=["video:h264"],
        chapters=[
            (recordings.chapter_title(first.number, first.title), 0.0),
            ("开场白", 4.0),  # not a topic: kept, tied to none
            (recordings.chapter_title("HA1999-000001", "别的议题"), -1.0),
        ],
    )
    assert view is not None
    assert [(c.topic_id, c.start) for c in view.chapters] == [
        (first.topic_id, 0.0),
        (None, 4.0),
        (None, 0.0),  # clamped to the start
    ]
    assert (await recordings.for_topic(ctx, first.topic_id))[0]["start"] == 0.0

    again = await recordings.finished(
        ctx, session.id, duration=None, size=None, streams=[], chapters=[]
    )
    assert again is not None and again.status is RecordingStatus.FAILED
    assert await recordings.of_deliberation(ctx, session.id) is None
    assert await recordings.for_topic(ctx, first.topic_id) == []


async def test_retention_removes_old_recordings_of_published_sessions_only(
    ctx: Context, clock: FakeClock, tmp_path: Path
) -> None:
    city = await make_city(ctx)
    root = ctx.settings.recordings_dir
    published = await live_session(ctx, city)
    unpublished = await second_session(ctx, city, published)
    old_published = await recorded(ctx, published.id, root)
    await recorded(ctx, unpublished.id, root)
    await set_status(ctx, published.id, DeliberationStatus.PUBLISHED)
    await set_status(ctx, unpublished.id, DeliberationStatus.ENDED)

    assert await recordings.expired(ctx, 30) == []  # nothing is old yet
    clock.advance(timedelta(days=31))
    expired = await recordings.expired(ctx, 30)
    assert [v.id for v in expired] == [old_published.id]  # the unpublished one is kept
    await recordings.purge(ctx, root, expired[0])
    assert not (root / str(published.id)).exists()
    assert (root / str(unpublished.id) / "recording.mp4").exists()
    assert await recordings.of_deliberation(ctx, published.id) is None
    assert await recordings.of_deliberation(ctx, unpublished.id) is not None


def test_purge_recordings_command(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    dry = run(tmp_path, "purge-recordings", "--older-than", "30", "--dry-run")
    assert dry.returncode == 0 and "0 recording(s) older than 30 days (dry run" in dry.stdout
    assert "older than 365 days removed" in run(tmp_path, "purge-recordings").stdout
    bad = run(tmp_path, "purge-recordings", "--older-than", "0")
    assert bad.returncode == 2 and "at least 1 day" in bad.stderr


async def test_recording_pages_refuse_what_is_missing_unfinished_or_malformed(
    client: TestClient[Any, Any],
) -> None:
    ctx: Context = client.app[CTX]
    session = await live_session(ctx, await make_city(ctx))
    root = ctx.settings.recordings_dir
    await recordings.started(ctx, session.id, str(session.id), ctx.clock.now())
    row = (await recordings.unfinished(ctx))[0]
    assert row == (session.id, str(session.id))
    async with ctx.db.read() as db:
        unfinished = await recording_store.of_deliberation(db, session.id)
    assert unfinished is not None
    unfinished_id = unfinished.id
    # Still being written: no page, no file, no JSON.
    for path in (
        f"/recordings/{unfinished_id}",
        f"/media/recordings/{unfinished_id}.mp4",
        f"/api/recordings/{unfinished_id}",
        "/api/recordings/9999",
        "/media/recordings/9999.mp4",
        "/recordings/abc",
    ):
        response = await client.get(path)
        assert response.status == 404, path
    # Final, but its file has gone from disk: 404, not a server error.
    view = await recordings.finished(
        ctx, session.id, duration=3.0, size=10, streams=[], chapters=[], path="gone.mp4"
    )
    assert view is not None
    assert (await client.get(f"/media/recordings/{view.id}.mp4")).status == 404
    # A bad ?t= opens the recording at its start.
    (root / "gone.mp4").write_bytes(b"\x00" * 10)
    page = await client.get(f"/recordings/{view.id}?t=-5")
    assert page.status == 200 and 'data-start="0"' in await page.text()
    # The livestream's files: only playlist and segment names, never a path.
    for name in ("index.m3u8", "..%2Fsecret_key", "seg.exe", "a.m3u8.tmp"):
        assert (await client.get(f"/media/live/{session.id}/{name}")).status == 404, name
