"""``MediaPipeline``: the livestream and the recording of one live deliberation.

The event loop side. Pushes and host actions only change the ``Scene`` (cheap, never
blocking); the compose/encode work runs in the ``Engine``'s thread; switching outputs is
a command the thread runs between two ticks, awaited here without blocking the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import Any, get_args

import av

from signaling.pipeline.engine import Action, Engine
from signaling.pipeline.layout import Layout
from signaling.pipeline.model import Chapter, PipelineConfig, RecordingInfo
from signaling.pipeline.recording import (
    finalise_recording,
    part_paths,
    read_chapters,
    recorded_seconds,
    set_aside_unlike,
    write_chapters,
)
from signaling.pipeline.scene import Scene

log = logging.getLogger(__name__)

DEFAULT_CONFIG = PipelineConfig()  # frozen: safe to share as a default


class MediaPipeline:
    """One composed picture, one mix, one encode; HLS and a crash-safe recording from it.

    Frames pushed for a participant that is not (or no longer) on stage are ignored: the
    room's decode tasks may still deliver a frame or two after ``remove_participant``.
    """

    def __init__(self, directory: Path, config: PipelineConfig = DEFAULT_CONFIG) -> None:
        self.directory = directory
        self.config = config
        self._scene = Scene()
        self._chapters: list[Chapter] = []
        self._chapter_lock = threading.Lock()
        self._engine: Engine | None = None
        self._thread: threading.Thread | None = None
        self._starting = False
        self._closing: asyncio.Future[RecordingInfo | None] | None = None
        self.ignored_frames = 0

    # -- participants and their media (event loop, never blocks) ---------------------------

    def add_participant(self, participant_id: str, name: str, role: str) -> None:
        """Put a participant on stage (or relabel one): a placeholder until video arrives."""
        self._scene.add(participant_id, name, role)

    def remove_participant(self, participant_id: str) -> None:
        self._scene.remove(participant_id)

    def push_video(self, participant_id: str, frame: av.VideoFrame) -> None:
        """Keep ``frame`` as the participant's picture: only the latest is ever held."""
        person = self._scene.get(participant_id)
        if person is None:
            self._ignore(participant_id)
            return
        person.video = frame

    def push_audio(self, participant_id: str, frame: av.AudioFrame) -> None:
        """Queue ``frame`` for the mix (bounded: the oldest is dropped when full)."""
        person = self._scene.get(participant_id)
        if person is None:
            self._ignore(participant_id)
            return
        person.audio.push(frame)

    def buffered(self, participant_id: str) -> tuple[int, int]:
        """(pictures, audio frames) held for a participant: at most 1 and the audio bound."""
        person = self._scene.get(participant_id)
        if person is None:
            raise KeyError(participant_id)
        return (0 if person.video is None else 1), len(person.audio.frames)

    def _ignore(self, participant_id: str) -> None:
        self.ignored_frames += 1
        if self.ignored_frames == 1 or self.ignored_frames % 1000 == 0:
            log.debug("frame for %s, who is not on stage, ignored", participant_id)

    # -- what the picture shows ------------------------------------------------------------

    def set_caption(self, text: str | None) -> None:
        """The current agenda topic, shown in a bar under the picture (None: no bar)."""
        self._scene.caption = text.strip() or None if text else None

    def set_spotlight(self, participant_id: str | None) -> None:
        """Speaker layout around ``participant_id``; None goes back to the grid."""
        self._scene.spotlight = participant_id
        self._scene.layout = "grid" if participant_id is None else "speaker"

    def set_layout(self, layout: Layout) -> None:
        if layout not in get_args(Layout):
            raise ValueError(f"layout must be speaker or grid, not {layout!r}")
        self._scene.layout = layout

    def set_muted(self, participant_id: str, muted: bool) -> None:
        """Leave the participant's sound out of the mix (or back in)."""
        person = self._scene.get(participant_id)
        if person is not None:
            person.muted = muted

    # -- running ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the compose/encode thread. Nothing is written until an output is on."""
        if self._starting or self._closing is not None:
            return
        self._starting = True
        engine = await asyncio.to_thread(self._prepare)
        if self._closing is not None:  # closed while the encoders were being opened
            engine.encoder.close()
            return
        self._engine = engine
        self._thread = threading.Thread(target=engine.run, name="media-pipeline", daemon=True)
        self._thread.start()

    def _prepare(self) -> Engine:
        """Open the encoders and pick up the recording already in the directory, if any."""
        engine = Engine(self.directory, self.config, self._scene)
        if self.directory.is_dir():
            set_aside_unlike(self.directory, self.config.width, self.config.height)
            engine.continue_after(recorded_seconds(self.directory))
            with self._chapter_lock:
                self._chapters = read_chapters(self.directory) + self._chapters
        return engine

    async def set_live(self, on: bool) -> None:
        """Livestream on or off: ``directory/live/index.m3u8``, ``init.mp4``, segments.

        Switching it on again starts a new playlist (the old one ended with ENDLIST).
        """
        await self._command(Engine.open_live if on else Engine.close_live, on)

    async def set_recording(self, on: bool) -> None:
        """Recording on or off. Each stretch is a new working part of the same recording;
        ``finalise_recording`` joins them, the time in between cut out."""
        await self._command(Engine.open_recording if on else Engine.close_recording, on)

    async def _command(self, action: Action, on: bool) -> None:
        engine = self._engine
        if engine is None or self._closing is not None:
            if on:
                why = "not started" if engine is None else "closed"
                raise RuntimeError(f"the media pipeline is {why}")
            return
        await asyncio.wrap_future(engine.submit(action))

    def mark_chapter(self, title: str) -> Chapter:
        """A chapter at the recording's current time, written to the sidecar at once."""
        seconds = self._engine.recording_seconds if self._engine else 0.0
        chapter = Chapter(title, seconds)
        with self._chapter_lock:
            self._chapters.append(chapter)
            self.directory.mkdir(parents=True, exist_ok=True)
            write_chapters(self.directory, self._chapters)
        return chapter

    @property
    def chapters(self) -> tuple[Chapter, ...]:
        return tuple(self._chapters)

    def status(self) -> dict[str, Any]:
        engine = self._engine
        return {
            "live": bool(engine and engine.live),
            "recording": bool(engine and engine.recording),
            "recording_seconds": round(engine.recording_seconds, 3) if engine else 0.0,
            "segments": engine.segments if engine else 0,
            "participants": len(self._scene),
            "frames_encoded": engine.frames_encoded if engine else 0,
            "frames_dropped": engine.frames_dropped if engine else 0,
            "label_renders": engine.painter.renders if engine else 0,
            "failed": bool(engine and engine.failed),
            "output_failures": engine.output_failures if engine else 0,
        }

    async def close(self) -> RecordingInfo | None:
        """Stop, close the outputs and finalise the recording; safe to call again."""
        if self._closing is None:
            # a task, shielded: a caller cancelled half-way does not leave a half-closed pipeline
            self._closing = asyncio.ensure_future(self._shut_down())
        return await asyncio.shield(self._closing)

    async def _shut_down(self) -> RecordingInfo | None:
        engine, thread = self._engine, self._thread
        if engine is not None and thread is not None:
            with contextlib.suppress(RuntimeError):  # the thread had ended (and logged why)
                await asyncio.wrap_future(engine.submit(None))
            await asyncio.to_thread(thread.join)
        recorded = engine is not None and engine.recorded_here
        if not recorded and not (self.directory.is_dir() and part_paths(self.directory)):
            return None
        return await asyncio.to_thread(finalise_recording, self.directory)
