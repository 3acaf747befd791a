"""In-process WebRTC participants for the media tests: aiortc peers that behave like the
pages (camera and microphone sent, N receive slots offered), with synthetic media."""

from __future__ import annotations

import asyncio
import fractions
import math
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError

from signaling.room import MediaRoom


class ColourTrack(VideoStreamTrack):
    """A solid colour with a moving white bar, 30 fps."""

    def __init__(self, rgb: tuple[int, int, int], size: tuple[int, int] = (320, 180)) -> None:
        super().__init__()
        self.rgb = rgb
        self.width, self.height = size
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = np.empty((self.height, self.width, 3), np.uint8)
        image[:] = self.rgb
        x = (self.sent * 4) % self.width
        image[:, x : x + 4] = 255
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        self.sent += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """A sine tone, 20 ms frames of 48 kHz mono s16, paced in real time."""

    kind = "audio"

    def __init__(self, hz: float) -> None:
        super().__init__()
        self.hz = hz
        self.samples = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        wait = self._start + self.samples / 48_000 - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        n = 960
        t = (np.arange(n) + self.samples) / 48_000
        pcm = (np.sin(2 * math.pi * self.hz * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 48_000
        frame.pts = self.samples
        frame.time_base = fractions.Fraction(1, 48_000)
        self.samples += n
        return frame


class Participant:
    """A page's peer: its own camera and microphone, and ``slots`` receive pairs."""

    def __init__(self, pid: str, rgb: tuple[int, int, int], hz: float, slots: int = 3) -> None:
        self.id = pid
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.video = ColourTrack(rgb)
        self.audio = ToneTrack(hz)
        self.pc.addTrack(self.audio)
        self.pc.addTrack(self.video)
        for _ in range(slots):
            self.pc.addTransceiver("audio", direction="recvonly")
            self.pc.addTransceiver("video", direction="recvonly")
        self.slots: dict[str, dict[str, Any]] = {}  # mid -> {"participant", "kind", ...}
        self.frames: dict[str, list[Any]] = {}  # mid -> received frames (last few)
        self.counts: dict[str, int] = {}
        self.states: list[str] = []
        self._readers: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        assert mid is not None
        self._readers.append(asyncio.ensure_future(self._read(mid, track)))

    async def _read(self, mid: str, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            kept = self.frames.setdefault(mid, [])
            kept.append(frame)
            del kept[:-5]
            self.counts[mid] = self.counts.get(mid, 0) + 1

    async def join(self, room: MediaRoom, name: str = "", role: str = "guest") -> None:
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        answer = await room.join(self.id, name or self.id, role, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def mid_of(self, source: str, kind: str) -> str | None:
        return next(
            (m for m, s in self.slots.items() if s["participant"] == source and s["kind"] == kind),
            None,
        )

    def received(self, source: str, kind: str) -> int:
        mid = self.mid_of(source, kind)
        return self.counts.get(mid, 0) if mid else 0

    def colour_from(self, source: str) -> tuple[int, int, int]:
        mid = self.mid_of(source, "video")
        assert mid is not None and self.frames.get(mid), f"{self.id} has no video from {source}"
        image = self.frames[mid][-1].to_ndarray(format="rgb24")
        left = image[:, : image.shape[1] // 2]  # the bar may be anywhere; medians ignore it
        r, g, b = (int(np.median(left[..., c])) for c in range(3))
        return r, g, b

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        await self.pc.close()


def events_into(people: dict[str, Participant]) -> Callable[[str, str, dict[str, Any]], Any]:
    async def on_event(pid: str, event: str, data: dict[str, Any]) -> None:
        person = people.get(pid)
        if person is None:
            return
        if event == "slots":
            person.slots = data["slots"]
        elif event == "state":
            person.states.append(data["state"])

    return on_event


async def eventually(check: Callable[[], bool], seconds: float = 15.0) -> None:
    for _ in range(int(seconds * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def close_to(rgb: tuple[int, int, int], want: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, want, strict=True))
