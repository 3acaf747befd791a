"""The live room's media: the ``media`` event of ``/live``, driving ``signaling``.

Each live session this process serves media for has one ``signaling.room.MediaRoom``
(a session's media is pinned to one process, as LiveKit pins a room; see the README's
scale-out notes). The host console (the room's camera and microphone) and each admitted
guest are participants, named by their live identity key (``staff:7``, ``guest:12``);
viewers never get a peer. Ops:

- ``offer`` (host or admitted guest) → ``{"answer": sdp}``; ``candidate``; ``bye``;
- host only: ``mute``, ``spotlight``, and the ``live`` and ``record`` switches.

Each session's media also has a ``signaling.pipeline.MediaPipeline``: while the
livestream or the recording is on, the participants' pictures and sound are decoded,
composed, encoded once and written to ``recordings/{deliberation}/`` (HLS under
``live/``, the recording's parts, finalised into ``recording.mp4`` with a chapter per
agenda move when the session ends).

What a page needs to hear (its slots, its peer's state) goes to that participant's
connections only; the media status (who is on video, the spotlight, live and recording)
goes to the whole session at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.core.context import Context
from server.core.errors import AppError, Forbidden
from server.deliberations.actions import recordings
from server.deliberations.actions import room as room_actions
from server.deliberations.actions.common import Identity, guest_key
from server.deliberations.model import GuestRole, LiveRole
from signaling.messages import (
    HOST_OPS,
    Bye,
    Candidate,
    MessageError,
    Mute,
    Offer,
    Spotlight,
    Switch,
    parse,
)
from signaling.pipeline import MediaPipeline, PipelineConfig, RecordingInfo, finalise_recording
from signaling.room import IceServer, MediaRoom

log = logging.getLogger(__name__)

SWEEP_SECONDS = 2.0

# (deliberation, participant key, event payload): to that participant's connections
ToParticipant = Callable[[int, str, dict[str, Any]], Awaitable[None]]
# (deliberation, event payload): to everyone in the session
ToSession = Callable[[int, dict[str, Any]], Awaitable[None]]

ROLE_LABELS = {
    LiveRole.HOST: "主持人 · 议事会场",
    GuestRole.OFFICIAL: "部门负责人",
    GuestRole.DEPUTY: "代表委员",
    GuestRole.EXPERT: "专家学者",
}


class MediaError(AppError):
    """A refused media message, with signaling's own code (``bad_sdp``, ``not_joined``...)."""

    code = "media_refused"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.media_code = code

    def to_json(self) -> dict[str, object]:
        return {"error": {"code": self.media_code, "message": self.message, "fields": {}}}


@dataclass(eq=False)
class _Session:
    """One live session's media in this process: its peers and its picture."""

    room: MediaRoom
    pipeline: MediaPipeline
    directory: Path
    live: bool = False
    recording: bool = False
    caption: str | None = None  # the topic under discussion, as its chapter is titled


class LiveMedia:
    def __init__(self, ctx: Context, to_participant: ToParticipant, to_session: ToSession) -> None:
        self._ctx = ctx
        self._to_participant = to_participant
        self._to_session = to_session
        self._sessions: dict[int, _Session] = {}
        self._opening: dict[int, asyncio.Lock] = {}
        self._watch: asyncio.Task[None] | None = None
        self._ice = tuple(
            IceServer(tuple(s["urls"]), s.get("username"), s.get("credential"))
            for s in ctx.settings.ice_servers
        )

    def client_config(self) -> dict[str, Any]:
        """What a participant's page needs before it offers."""
        return {
            "ice_servers": [s.public() for s in self._ice],
            "slots": self._ctx.settings.media_slots,
        }

    def status(self, deliberation_id: int) -> dict[str, Any]:
        media = self._sessions.get(deliberation_id)
        return {
            "participants": media.room.describe() if media else [],
            "spotlight": media.room.spotlight if media else None,
            "live": bool(media and media.live),
            "recording": bool(media and media.recording),
            "hls": hls_url(deliberation_id) if media and media.live else None,
        }

    async def handle(self, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        """One ``media`` message; ``MediaError`` (an error ack) for anything refused."""
        try:
            message = parse(data)
        except MessageError as exc:
            raise MediaError(exc.code, str(exc)) from None
        if data.get("op") in HOST_OPS and not who.is_host:
            raise Forbidden("Only the host may do that.")
        if who.role is LiveRole.VIEWER:
            raise Forbidden("Viewers watch the livestream; only the host and guests join by video.")
        try:
            return await self._dispatch(who, message)
        except MessageError as exc:
            raise MediaError(exc.code, str(exc)) from None

    async def _dispatch(self, who: Identity, message: Any) -> dict[str, Any]:
        deliberation_id = who.deliberation_id
        if isinstance(message, Offer | Switch):
            await room_actions.require_live_session(self._ctx, deliberation_id)
            media = await self._open(deliberation_id)
            if isinstance(message, Switch):
                await self._switch(deliberation_id, media, message)
                return {"media": self.status(deliberation_id)}
            label = ROLE_LABELS.get(who.guest_role or who.role, "")
            answer = await media.room.join(who.key, who.name, label, message.sdp)
            await self._publish(deliberation_id)
            return {"answer": answer, "participant": who.key}
        opened = self._sessions.get(deliberation_id)
        if opened is None:
            raise MediaError("not_joined", "Nobody is on video in this session.")
        room = opened.room
        if isinstance(message, Candidate):
            await room.candidate(who.key, message)
        elif isinstance(message, Bye):
            await self.leave(deliberation_id, who.key)
        elif isinstance(message, Mute):
            room.mute(message.participant, message.muted)
            await self._to_participant(
                deliberation_id, message.participant, {"op": "muted", "muted": message.muted}
            )
            await self._publish(deliberation_id)
        elif isinstance(message, Spotlight):
            self._spotlight(opened, message.participant)
            await self._publish(deliberation_id)
        return {}

    async def _switch(self, deliberation_id: int, media: _Session, message: Switch) -> None:
        if message.what == "live" and message.on != media.live:
            await media.pipeline.set_live(message.on)
            media.live = message.on
        elif message.what == "record" and message.on != media.recording:
            if message.on:
                await recordings.started(
                    self._ctx,
                    deliberation_id,
                    str(media.directory.relative_to(self._ctx.settings.recordings_dir)),
                    self._ctx.clock.now(),
                )
            await media.pipeline.set_recording(message.on)
            media.recording = message.on
            if message.on and media.caption:  # the topic under way starts this stretch
                media.pipeline.mark_chapter(media.caption)
        # Decode the participants only while a picture is being made of them.
        media.room.set_decoding(media.live or media.recording)
        log.info(
            "media: session %s live=%s recording=%s", deliberation_id, media.live, media.recording
        )
        await self._publish(deliberation_id)

    def _spotlight(self, media: _Session, participant: str | None) -> None:
        media.room.set_spotlight(participant)
        media.pipeline.set_spotlight(participant)

    async def _open(self, deliberation_id: int) -> _Session:
        """This session's media, started on first use (one opener at a time)."""
        lock = self._opening.setdefault(deliberation_id, asyncio.Lock())
        async with lock:
            media = self._sessions.get(deliberation_id)
            if media is not None and not media.room.closed:
                return media
            directory = self._ctx.settings.recordings_dir / str(deliberation_id)
            pipeline = MediaPipeline(directory, PipelineConfig())
            await pipeline.start()

            async def on_event(participant: str, event: str, data: dict[str, Any]) -> None:
                await self._to_participant(deliberation_id, participant, {"op": event, **data})
                if event == "state":
                    await self._publish(deliberation_id)

            room = MediaRoom(ice_servers=self._ice, on_event=on_event, sink=pipeline)
            room.set_decoding(False)
            media = _Session(room, pipeline, directory)
            topic = await room_actions.current_topic(self._ctx, deliberation_id)
            if topic is not None:
                media.caption = recordings.chapter_title(*topic)
                pipeline.set_caption(media.caption)
            self._sessions[deliberation_id] = media
            if self._watch is None or self._watch.done():
                self._watch = asyncio.get_running_loop().create_task(self._end_ended())
            return media

    async def _end_ended(self) -> None:
        """Close the media of sessions that ended or were cancelled, wherever that was done
        (any process, the HTTP API or the console), checked every ``SWEEP_SECONDS``."""
        while self._sessions:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                live = await room_actions.live_sessions(self._ctx, list(self._sessions))
                for deliberation_id in [d for d in self._sessions if d not in live]:
                    log.info("media: session %s ended; closing its peers", deliberation_id)
                    await self.end(deliberation_id)
            except Exception:
                log.exception("media: checking which sessions ended failed")

    async def leave(self, deliberation_id: int, participant: str) -> None:
        """A participant's page said bye, disconnected, or was removed by the host."""
        media = self._sessions.get(deliberation_id)
        if media is not None and await media.room.leave(participant):
            await self._publish(deliberation_id)

    def on_agenda(self, deliberation_id: int, agenda: dict[str, Any]) -> None:
        """The host moved to a topic: the caption changes and the recording gets a chapter."""
        media = self._sessions.get(deliberation_id)
        current = next(
            (i for i in agenda.get("items", []) if i["topic_id"] == agenda.get("current_topic_id")),
            None,
        )
        if media is None or current is None:
            return
        title = recordings.chapter_title(current["number"], current["title"])
        media.caption = title
        media.pipeline.set_caption(title)
        if media.recording:
            media.pipeline.mark_chapter(title)

    async def follow_floor(self, deliberation_id: int, queue: list[dict[str, Any]]) -> None:
        """The speaker queue drives the spotlight: a guest given the floor is in it, an
        on-site speaker puts the room camera (the host's participant) there."""
        media = self._sessions.get(deliberation_id)
        if media is None:
            return
        participants = media.room.participants
        speaking = next((s for s in queue if s.get("status") == "speaking"), None)
        target: str | None = None
        if speaking is not None:
            if speaking.get("invitation_id") is not None:
                target = guest_key(speaking["invitation_id"])
            else:
                target = next((p for p in participants if p.startswith("staff:")), None)
        if target is not None and target not in participants:
            target = None
        if target != media.room.spotlight:
            self._spotlight(media, target)
            await self._publish(deliberation_id)

    async def end(self, deliberation_id: int) -> None:
        """The session ended: every peer closes, the livestream ends, the recording is
        finalised and attached to the session and its topics."""
        media = self._sessions.pop(deliberation_id, None)
        self._opening.pop(deliberation_id, None)
        if media is None:
            return
        await media.room.close()
        try:
            info = await media.pipeline.close()
        except Exception:
            log.exception("media: finishing session %s's media failed", deliberation_id)
            info = None
        if info is not None:
            await self._attach(deliberation_id, info)
        await self._publish(deliberation_id)

    async def _attach(self, deliberation_id: int, info: RecordingInfo) -> None:
        await recordings.finished(
            self._ctx,
            deliberation_id,
            duration=info.duration,
            size=info.size,
            streams=list(info.streams),
            chapters=[(c.title, c.start) for c in info.chapters],
            path=str(info.path.relative_to(self._ctx.settings.recordings_dir)),
        )

    async def recover(self) -> None:
        """At start: finalise the recordings a stopped server left, of sessions no longer
        live (a session still live gets a new part when its host records again)."""
        left = await recordings.unfinished(self._ctx)
        live = await room_actions.live_sessions(self._ctx, [d for d, _ in left])
        for deliberation_id, _ in left:
            if deliberation_id in live:
                continue
            directory = self._ctx.settings.recordings_dir / str(deliberation_id)
            try:
                info = await asyncio.to_thread(finalise_recording, directory)
            except Exception:
                log.exception("media: finalising session %s's recording failed", deliberation_id)
                continue
            if info is None:
                await recordings.finished(
                    self._ctx, deliberation_id, duration=None, size=None, streams=[], chapters=[]
                )
            else:
                await self._attach(deliberation_id, info)
            log.info("media: finalised the recording session %s left", deliberation_id)

    async def close(self) -> None:
        """Shutdown: stop watching and close every session's media."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for deliberation_id in list(self._sessions):
            await self.end(deliberation_id)

    async def _publish(self, deliberation_id: int) -> None:
        await self._to_session(deliberation_id, {"op": "status", **self.status(deliberation_id)})


def hls_url(deliberation_id: int) -> str:
    return f"/media/live/{deliberation_id}/index.m3u8"
