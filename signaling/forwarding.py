"""Forwarding encoded frames from one participant to another without re-encoding.

A ``ForwardTrack`` is what a participant's peer connection sends in one of its receive
slots: the VP8 frames or Opus packets another participant sent, exactly as they arrived,
re-timestamped so that a slot whose source changes keeps counting forward. aiortc's sender
packs an ``av.Packet`` without encoding it (as ``MediaPlayer(decode=False)`` does), so a
frame costs RTP packetisation and encryption per subscriber, never a codec.

Queues are bounded. A subscriber whose network stalls loses frames, not the others'
time: old audio packets are dropped, and a video backlog is thrown away whole and the
track waits for the next keyframe (asking the source for one), since a VP8 decoder cannot
use a frame whose references it never got.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
_STEP = {"video": VIDEO_CLOCK // 30, "audio": AUDIO_CLOCK // 50}  # one frame / one 20 ms packet
_TIME_BASE = {
    "video": fractions.Fraction(1, VIDEO_CLOCK),
    "audio": fractions.Fraction(1, AUDIO_CLOCK),
}
_MAX_QUEUED = {"video": 30, "audio": 25}  # about one second of video, half of audio


def is_vp8_keyframe(data: bytes) -> bool:
    """RFC 6386 9.1: the frame tag's lowest bit is 0 on a key frame."""
    return bool(data) and not data[0] & 0x01


class ForwardTrack(MediaStreamTrack):
    """One receive slot of one participant: carries whichever source is attached."""

    def __init__(self, kind: str, *, max_queued: int | None = None) -> None:
        super().__init__()
        if kind not in _STEP:
            raise ValueError(f"kind must be audio or video, not {kind!r}")
        self.kind = kind
        self.source: str | None = None
        self.on_keyframe_needed: Callable[[], None] = lambda: None
        self.forwarded = 0
        self.dropped = 0
        self._queue: deque[av.Packet[Any]] = deque()
        self._max = max_queued or _MAX_QUEUED[kind]
        self._ready = asyncio.Event()
        self._waiting_for_keyframe = kind == "video"
        self._in_base: int | None = None
        self._out_base = 0
        self._last_out = -_STEP[kind]

    def attach(self, source: str, on_keyframe_needed: Callable[[], None]) -> None:
        """Start carrying ``source``; its next keyframe starts the picture."""
        self.source = source
        self.on_keyframe_needed = on_keyframe_needed
        self._queue.clear()
        self._in_base = None
        self._out_base = self._last_out + _STEP[self.kind]
        self._waiting_for_keyframe = self.kind == "video"
        if self._waiting_for_keyframe:
            on_keyframe_needed()

    def detach(self) -> None:
        self.source = None
        self.on_keyframe_needed = lambda: None
        self._queue.clear()

    def push(self, data: bytes, timestamp: int) -> None:
        """Queue one encoded frame (called on the event loop by the source's tap)."""
        if self.source is None or self.readyState != "live":
            return
        if self._waiting_for_keyframe:
            if not is_vp8_keyframe(data):
                self.dropped += 1
                return
            self._waiting_for_keyframe = False
        if len(self._queue) >= self._max:
            if self.kind == "video":  # a stalled subscriber restarts from a keyframe
                self.dropped += len(self._queue) + 1
                self._queue.clear()
                self._waiting_for_keyframe = True
                self.on_keyframe_needed()
                return
            self._queue.popleft()
            self.dropped += 1
        if self._in_base is None:
            self._in_base = timestamp
        pts = self._out_base + (timestamp - self._in_base)
        if pts <= self._last_out:  # a source restarting its clock: keep counting forward
            self._out_base += self._last_out + _STEP[self.kind] - pts
            pts = self._last_out + _STEP[self.kind]
        self._last_out = pts
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = _TIME_BASE[self.kind]
        self._queue.append(packet)
        self._ready.set()

    def request_keyframe(self) -> None:
        """The subscriber lost a picture: pass the request to the source."""
        if self.kind == "video" and self.source is not None:
            self.on_keyframe_needed()

    async def recv(self) -> av.Packet[Any]:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        self.forwarded += 1
        return self._queue.popleft()

    def stop(self) -> None:
        super().stop()
        self._ready.set()  # wake recv so it can end


class Throttle:
    """Let a call through at most once per ``seconds`` (keyframe requests from many
    subscribers of one source collapse into one PLI)."""

    def __init__(self, seconds: float, call: Callable[[], None]) -> None:
        self._seconds = seconds
        self._call = call
        self._last = float("-inf")

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._last >= self._seconds:
            self._last = now
            self._call()
