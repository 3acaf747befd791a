"""The compose/encode thread: a tick per frame on the pipeline's own clock.

Tick ``k`` is due at ``start + k / fps`` (monotonic time) and its picture gets pts ``k``;
its sound is samples ``sample_at(k)`` to ``sample_at(k + 1)``. When the thread falls
behind (a slow encode), it mixes the sound of every missed tick, so the audio track stays
continuous, but composes and encodes only the latest picture and counts the others as
dropped: work never queues up, and the livestream stays as close to real time as the
machine allows. Timestamps never come from wall-clock readings, so jitter in the thread's
wake-ups does not reach them.

With no output on, ticks only empty the participants' audio queues: nothing is composed
or encoded. Commands (outputs on and off, stop) come through a queue and run between
ticks, in this thread, which is the only one to touch the encoder and the containers.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from signaling.pipeline.audio import Mixer
from signaling.pipeline.compose import Compositor, Tile
from signaling.pipeline.encode import Encoder, HlsOutput, Output, Packet, RecordingOutput
from signaling.pipeline.model import PipelineConfig
from signaling.pipeline.paint import Painter
from signaling.pipeline.recording import next_part_path
from signaling.pipeline.scene import Participant, Scene

log = logging.getLogger(__name__)

Action = Callable[["Engine"], None]
Command = tuple[Action | None, concurrent.futures.Future[None]]  # None: stop


class Engine:
    def __init__(self, directory: Path, config: PipelineConfig, scene: Scene) -> None:
        self.directory = directory
        self.config = config
        self.scene = scene
        self.encoder = Encoder(config)
        self.painter = Painter(config.font_path)
        self.compositor = Compositor(config, self.painter)
        self.mixer = Mixer()
        self.live: HlsOutput | None = None
        self.recording: RecordingOutput | None = None
        self.recorded_before = 0.0  # seconds of the recording in closed parts and earlier runs
        self._position = 0.0  # recorded_before + the open part's length
        self.recorded_here = False
        self.frames_encoded = 0
        self.frames_dropped = 0
        self.segments_before = 0  # segments of earlier livestream runs
        self.output_failures = 0
        self.failed: BaseException | None = None
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._accepting = True
        self._accept_lock = threading.Lock()
        self._idle = True
        self._force_keyframe = False
        self._reanchor = False  # the next picture restarts the keyframe grid
        self._last_tick = -1
        self._anchor = 0  # keyframes fall on anchor + n * gop: segments one interval long
        self._stop: concurrent.futures.Future[None] | None = None

    # -- the other side: commands from the event loop --------------------------------------

    def submit(self, action: Action | None) -> concurrent.futures.Future[None]:
        """Queue a command for the thread; its future fails if the thread has ended."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._accept_lock:
            if self._accepting:
                self._commands.put((action, future))
            else:
                future.set_exception(RuntimeError("the media pipeline is not running"))
        return future

    @property
    def recording_seconds(self) -> float:
        """Where the recording is now (read on the event loop: one attribute, never torn)."""
        return self._position

    def continue_after(self, seconds: float) -> None:
        """The directory's recording is already ``seconds`` long (before the thread runs)."""
        self.recorded_before = self._position = seconds

    @property
    def segments(self) -> int:
        return self.segments_before + (self.live.segments if self.live else 0)

    # -- the thread ------------------------------------------------------------------------

    def run(self) -> None:
        """The thread's body: ticks until a stop command, then closes every output."""
        fps = self.config.fps
        start = time.monotonic()
        tick = 0
        try:
            while self._serve_commands(until=start + tick / fps):
                due = int((time.monotonic() - start) * fps)
                if due >= tick:
                    self._step(tick, due)
                    tick = due + 1
        except Exception as exc:
            log.exception("media pipeline failed")
            self.failed = exc
        finally:
            self._shutdown()

    def _serve_commands(self, until: float) -> bool:
        """Run commands until ``until``; False once a stop command came."""
        while True:
            timeout = until - time.monotonic()
            try:
                action, future = (
                    self._commands.get(timeout=timeout)
                    if timeout > 0
                    else self._commands.get_nowait()
                )
            except queue.Empty:
                return True
            if action is None:
                self._stop = future
                return False
            try:
                action(self)
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)

    def _step(self, first: int, last: int) -> None:
        """Ticks ``first`` to ``last`` are due: all their sound, the last one's picture."""
        people = self.scene.snapshot()
        outputs = self._outputs()
        if not outputs:
            for person in people:
                person.audio.discard()
            self._idle = True
            return
        if self._idle:
            self._idle = False
            self._force_keyframe = self._reanchor = True
            self.mixer.restart(self.config.sample_at(first))
        for tick in range(first, last + 1):
            count = self.config.sample_at(tick + 1) - self.config.sample_at(tick)
            self.mixer.mix(((p.audio, p.muted) for p in people), count)
        self.frames_dropped += last - first
        self._encode_picture(people, last, outputs)
        for frame in self.mixer.frames():
            self._write_audio(self.encoder.encode_audio(frame), outputs)

    def _encode_picture(self, people: list[Participant], tick: int, outputs: list[Output]) -> None:
        scene = self.scene
        tiles = [Tile(p.id, p.name, p.role, p.video) for p in people]
        frame = self.compositor.compose(tiles, scene.layout, scene.spotlight, scene.caption)
        gop = self.config.gop
        if self._reanchor:
            self._anchor, self._reanchor = tick, False
        since, before = tick - self._anchor, self._last_tick - self._anchor
        keyframe = self._force_keyframe or since // gop != before // gop
        self._force_keyframe = False
        self._last_tick = tick
        self._write_video(self.encoder.encode_video(frame, tick, keyframe), outputs)
        self.frames_encoded += 1
        if self.recording is not None:
            self._position = self.recorded_before + self.recording.frames / self.config.fps

    def _write_video(self, packets: list[Packet], outputs: list[Output]) -> None:
        self._deliver(packets, outputs, video=True)

    def _write_audio(self, packets: list[Packet], outputs: list[Output]) -> None:
        self._deliver(packets, outputs, video=False)

    def _deliver(self, packets: list[Packet], outputs: list[Output], video: bool) -> None:
        """Mux each packet into every output. An output that fails (a full disk, say) is
        closed and dropped; the others go on: a broken recording must not stop the
        livestream, nor the reverse."""
        for packet in packets:
            at = packet.pts
            if at is None:
                continue
            for output in outputs:
                if output.failed:
                    continue
                try:
                    if video:
                        output.write_video(packet, at)
                    else:
                        output.write_audio(packet, at)
                except Exception:
                    log.exception("media output %s failed; it is closed", output.describe())
                    self._drop(output)

    def _drop(self, output: Output) -> None:
        output.failed = True
        self.output_failures += 1
        close = self.close_live if output is self.live else self.close_recording
        try:
            close()
        except Exception:
            log.exception("closing the failed output %s failed too", output.describe())

    def _outputs(self) -> list[Output]:
        return [o for o in (self.live, self.recording) if o is not None]

    # -- commands (run in the thread) ------------------------------------------------------

    def open_live(self) -> None:
        if self.live is None:
            self.live = HlsOutput(self.directory / "live", self.encoder)
            self._force_keyframe = self._reanchor = True

    def close_live(self) -> None:
        if self.live is not None:
            live, self.live = self.live, None
            try:
                live.close()  # writes the last segment and ENDLIST
            finally:
                self.segments_before += live.segments

    def open_recording(self) -> None:
        if self.recording is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.recording = RecordingOutput(next_part_path(self.directory), self.encoder)
            self.recorded_here = True
            self._force_keyframe = True

    def close_recording(self) -> None:
        if self.recording is not None:
            recording, self.recording = self.recording, None
            self.recorded_before += recording.frames / self.config.fps
            self._position = self.recorded_before
            recording.close()

    def _shutdown(self) -> None:
        """Flush the encoders into the open outputs, close everything, fail late commands."""
        with self._accept_lock:
            self._accepting = False
        outputs = self._outputs()
        try:
            if outputs and self.failed is None:
                self._write_video(self.encoder.encode_video(None, 0, False), outputs)
                self._write_audio(self.encoder.encode_audio(None), outputs)
        except Exception:
            log.exception("flushing the encoders failed")
        for close in (self.close_live, self.close_recording, self.encoder.close):
            try:
                close()
            except Exception:
                log.exception("closing a media output failed")
        while True:
            try:
                _, future = self._commands.get_nowait()
            except queue.Empty:
                break
            future.set_exception(RuntimeError("the media pipeline has stopped"))
        if self._stop is not None:
            self._stop.set_result(None)
