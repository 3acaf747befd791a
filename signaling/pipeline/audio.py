"""The mixed sound: every participant resampled to 48 kHz mono, summed, in AAC frames.

Mono because the inputs are speech from single microphones (browsers send mono Opus that
aiortc decodes to stereo), so a second channel would only repeat the first; AAC-LC at the
default 96 kbit/s is then transparent for speech.

Pushes (on the event loop) only append the decoded frame to a bounded deque; the compose
thread resamples and mixes. Each participant has a small jitter buffer: it starts playing
once ``PRIME`` seconds beyond a tick are queued and starts over after running dry, so
20 ms packets arriving a little early or late do not click; it never holds more than
``MAX_QUEUED`` seconds, so a fast sender cannot make the livestream lag.
"""

from __future__ import annotations

import fractions
import logging
from collections import deque
from collections.abc import Iterable

import av
import numpy as np
import numpy.typing as npt

from signaling.pipeline.model import AAC_FRAME, SAMPLE_RATE

log = logging.getLogger(__name__)

Samples = npt.NDArray[np.float32]

MAX_FRAMES = 50  # pushed frames kept per participant: one second of 20 ms Opus frames
PRIME = 0.06  # seconds queued beyond a tick before a participant is heard
MAX_QUEUED = 0.5  # seconds of resampled sound kept per participant
_EMPTY: Samples = np.zeros(0, dtype=np.float32)


class AudioInput:
    """One participant's sound on its way to the mix."""

    def __init__(self, max_frames: int = MAX_FRAMES) -> None:
        self.frames: deque[av.AudioFrame] = deque(maxlen=max_frames)
        self.dropped = 0
        self._resampler: av.AudioResampler | None = None
        self._source: tuple[str, str, int] | None = None
        self._pending = _EMPTY
        self._primed = False

    def push(self, frame: av.AudioFrame) -> None:
        """Queue a decoded frame (any thread); the oldest goes when the deque is full."""
        if len(self.frames) == self.frames.maxlen:
            self.dropped += 1
        self.frames.append(frame)

    def take(self, count: int) -> Samples | None:
        """``count`` samples for the mix, or None while buffering (compose thread)."""
        self._drain()
        if not self._primed:
            if len(self._pending) < count + PRIME * SAMPLE_RATE:
                return None
            self._primed = True
        chunk, self._pending = self._pending[:count], self._pending[count:]
        if len(chunk) < count:  # ran dry: pad this tick, buffer again before the next
            self._primed = False
            chunk = np.concatenate([chunk, np.zeros(count - len(chunk), dtype=np.float32)])
        return chunk

    def discard(self) -> None:
        """Throw queued sound away (muted, or nothing is being encoded)."""
        self._drain()
        self._pending = _EMPTY
        self._primed = False

    def _drain(self) -> None:
        pieces = [self._pending]
        while self.frames:
            frame = self.frames.popleft()
            try:
                pieces.extend(self._resample(frame))
            except (ValueError, av.error.FFmpegError) as exc:  # one odd frame: skip it
                log.warning("a %s audio frame cannot be mixed: %s", frame.format.name, exc)
                self._resampler = None
        pending = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
        limit = int(MAX_QUEUED * SAMPLE_RATE)
        self._pending = pending[-limit:] if len(pending) > limit else pending

    def _resample(self, frame: av.AudioFrame) -> list[Samples]:
        """The frame as 48 kHz mono float samples; a new resampler if its format changed."""
        source = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self._resampler is None or source != self._source:
            self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=SAMPLE_RATE)
            self._source = source
        return [
            out.to_ndarray()[0].astype(np.float32, copy=False)
            for out in self._resampler.resample(frame)
        ]


class Mixer:
    """Sums the inputs tick by tick and cuts the result into AAC frames on one clock."""

    def __init__(self) -> None:
        self._out = _EMPTY
        self._next_pts = 0

    def restart(self, sample: int) -> None:
        """Start a new run of sound at ``sample`` (after an idle stretch)."""
        self._out = _EMPTY
        self._next_pts = sample

    def mix(self, inputs: Iterable[tuple[AudioInput, bool]], count: int) -> None:
        """Add one tick (``count`` samples) of every unmuted input's sound; silence if none."""
        total = np.zeros(count, dtype=np.float32)
        for source, muted in inputs:
            if muted:
                source.discard()
                continue
            chunk = source.take(count)
            if chunk is not None:
                total += chunk
        np.clip(total, -1.0, 1.0, out=total)
        self._out = np.concatenate([self._out, total])

    def frames(self) -> list[av.AudioFrame]:
        """Whole AAC frames of mixed sound, stamped with the pipeline's sample clock."""
        out = []
        while len(self._out) >= AAC_FRAME:
            chunk, self._out = self._out[:AAC_FRAME], self._out[AAC_FRAME:]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self._next_pts
            frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
            self._next_pts += AAC_FRAME
            out.append(frame)
        return out
