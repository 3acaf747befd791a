"""Media benchmark: a host and six guests on video through the real server, 640×360 at
30 fps, with the livestream and the recording on when the server offers them; the same
participants through a stock-aiortc relay that re-encodes per subscriber
(benchmarks/media_reference.py), in the same run.

    createdb -h 127.0.0.1 -U postgres msy_bench_media     # optional: made if missing
    .venv/bin/python benchmarks/media.py                  # about 2.5 minutes
    .venv/bin/python benchmarks/media.py --quick          # smoke run (~35 s), figures mean nothing

How it runs. The real server (`mashangyi migrate`, `demo`, `serve`: one process,
PostgreSQL database `msy_bench_media`, whose public schema is DROPPED and recreated) in a
subprocess pinned to CPU 0. The demo chief logs in, starts the demo session live and
invites six guests through the staff API. One load-generator process pinned to CPU 1
(`media.py --generate`) runs all seven participants: each connects a socket.io client to
`/live` (the host with the staff cookie, each guest with its invitation, admitted by the
host through `lobby` `admit`), opens an aiortc peer connection (max-bundle) with its
camera and microphone and six receive pairs, and sends `media` `offer`.

What is sent. To keep the generator cheap, nothing is encoded live: at start-up each
participant's video is encoded ONCE into a loop (libvpx real-time CBR at --video-kbps, as
aiortc sets it up, a keyframe every 30 frames: a sender of pre-encoded frames cannot
answer a keyframe request, so a PLI is answered within a second) and its audio into a
one-second loop of 20 ms Opus packets of a tone. Tracks hand aiortc those packets as
`av.Packet`s (aiortc packs them without encoding, as `MediaPlayer(decode=False)` does),
paced on one shared 30 fps / 50 Hz clock. Each picture is the participant's colour, a
moving texture and block (so that the bitrate is a camera's) and, in its top 32 rows, a
barcode of black and white blocks (Manchester-coded, with a checksum) carrying the
participant and the LOOP INDEX; the generator keeps, per participant, loop index →
wall-clock time of its latest send. The loop is made longer than the whole run (default
15 s + both windows and warm-ups), so that an index names one send only.

What is measured, in steady windows (--seconds each, after --warmup) once every peer
receives video from every other: first with forwarding only, then after the host's `media`
`live` and `record` `{"on": true}` (their answers are recorded; if both are refused there
is no second window):
1. server CPU: utime+stime of the server process (all threads) and its children, from
   /proc, over the window; also the generator's, the whole machine's and other processes';
2. participant-to-participant latency: one observer (the last guest) decodes the video it
   receives from the six others and reads each frame's barcode; latency = time the decoded
   frame reaches the application − time its loop index was last sent (same clock). The
   other participants decode nothing: an encoded-frame tap
   (`signaling._aiortc.install_tap` + `set_decoding(False)`) counts their frames, which
   gives the frame rate every participant receives from every other;
3. livestream latency, if `live` was accepted: the HLS playlist (--hls-path) is polled
   every 0.2 s; each new segment is fetched and decoded, and the barcodes in its first and
   last pictures are read: live-edge latency = time the playlist first listed the segment −
   send time of the segment's FIRST picture (what a player that starts the newest segment
   at once shows), and the age of its newest picture; and, if the playlist has
   EXT-X-PROGRAM-DATE-TIME, the age of that stamp;
4. the same load (1., 2.) through the reference, pinned to CPU 0 too, and the ratios.

Targets (from the issue): the whole session ≤ 1 core, ≥ 5× less CPU than the reference,
participant-to-participant p99 ≤ 200 ms, livestream ≤ 4 s. Output:
benchmarks/results/media.json and a Markdown table. Method notes: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import io
import json
import math
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aiortc
import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from signaling import _aiortc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_fanout import (  # the shared benchmark plumbing
    cpu_seconds,
    free_port,
    percentile,
    pin,
    reset_database,
    start_live,
    wait_healthy,
)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")

CPU_TARGET = 1.0  # cores, the whole session
RATIO_TARGET = 5.0  # reference CPU / ours
P2P_TARGET_MS = 200.0  # participant-to-participant p99
HLS_TARGET_S = 4.0  # livestream latency (live edge, p99)

VIDEO_CLOCK, AUDIO_CLOCK = 90_000, 48_000
GOP = 30  # a keyframe every 30 frames: a keyframe request is answered within a second
HLS_POLL_S = 0.2

# --- the barcode ------------------------------------------------------------------------------
#
# In the top BAND rows: a black unit, a white preamble two units wide (its width gives the
# unit, whatever the picture was scaled to), a black unit, 20 Manchester-coded bits (1 =
# white then black, 0 = black then white: every bit has a transition, so the code clocks
# itself) and a black unit. The bits: 12 of loop index, 4 of participant, 4 of checksum.

BAND = 32
DATA_BITS = 20
UNITS_AFTER_PREAMBLE = 1 + 2 * DATA_BITS + 1
BLACK, WHITE = 16, 235


def checksum(index: int, participant: int) -> int:
    nibbles = (index & 0xF, (index >> 4) & 0xF, (index >> 8) & 0xF, participant & 0xF)
    return (sum(n * w for n, w in zip(nibbles, (1, 3, 5, 7), strict=True)) + 9) & 0xF


def barcode_units(index: int, participant: int) -> list[bool]:
    """The barcode as units, True for white."""
    value = (index & 0xFFF) | (participant & 0xF) << 12 | checksum(index, participant) << 16
    units = [False, True, True, False]
    for bit in range(DATA_BITS - 1, -1, -1):
        units += [True, False] if value >> bit & 1 else [False, True]
    return [*units, False]


def read_row(row: np.ndarray) -> list[tuple[int, int]]:
    """Every (participant, loop index) barcode in one row of luma, at any scale."""
    bits = row > 128
    if len(bits) < 8:
        return []
    edges = np.flatnonzero(bits[1:] != bits[:-1]) + 1
    starts = np.concatenate(([0], edges))
    lengths = np.diff(np.concatenate((starts, [len(bits)]))).tolist()
    values = bits[starts].tolist()
    found = []
    for i in range(1, len(starts) - 1):
        if not values[i] or values[i - 1] or lengths[i] < 4:
            continue
        unit = lengths[i] / 2  # the white preamble is two units wide
        units: list[bool] = []
        j = i + 1
        while len(units) < UNITS_AFTER_PREAMBLE and j < len(starts):
            count = round(lengths[j] / unit)
            if count < 1:
                break
            remaining = UNITS_AFTER_PREAMBLE - len(units)
            if count > 2:  # only the closing black run may run on into the background
                if remaining > 2 or values[j]:
                    break
                count = remaining
            units += [values[j]] * count
            j += 1
        if len(units) < UNITS_AFTER_PREAMBLE or units[0] or units[-1]:
            continue
        value, ok = 0, True
        for k in range(DATA_BITS):
            first, second = units[1 + 2 * k], units[2 + 2 * k]
            if first == second:
                ok = False
                break
            value = value << 1 | int(first)
        if not ok:
            continue
        index, participant, check = value & 0xFFF, (value >> 12) & 0xF, value >> 16
        if check == checksum(index, participant):
            found.append((participant, index))
    return found


def luma(frame: av.VideoFrame) -> np.ndarray:
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    return rows[: frame.height, : frame.width]


def read_frame(frame: av.VideoFrame) -> tuple[int, int] | None:
    """The barcode of a participant's own picture (at the top, full width)."""
    y = luma(frame)
    for r in (BAND // 2, BAND // 3, 2 * BAND // 3):
        found = read_row(y[r])
        if found:
            return found[0]
    return None


def scan_frame(frame: av.VideoFrame) -> list[tuple[int, int]]:
    """Every barcode anywhere in a composed picture (the livestream's grid), each seen in
    at least two rows."""
    y = luma(frame)
    hits: dict[tuple[int, int], int] = {}
    for r in range(0, y.shape[0], 2):
        for code in read_row(y[r]):
            hits[code] = hits.get(code, 0) + 1
    return [code for code, n in hits.items() if n >= 2]


# --- the pre-encoded media --------------------------------------------------------------------

COLOURS = [  # (U, V) per participant
    (90, 200),
    (200, 90),
    (70, 70),
    (190, 190),
    (160, 40),
    (40, 160),
    (128, 225),
    (225, 128),
    (100, 100),
    (150, 150),
    (60, 128),
    (128, 60),
    (170, 110),
    (110, 170),
    (200, 150),
    (150, 200),
]


def video_loop(
    participant: int, frames: int, width: int, height: int, fps: int, kbps: int
) -> list[bytes]:
    """The participant's camera: ``frames`` VP8 frames, a keyframe every GOP frames."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = fractions.Fraction(1, fps)
    codec.framerate = fractions.Fraction(fps, 1)
    bitrate = kbps * 1000
    codec.bit_rate = bitrate
    codec.gop_size = GOP
    codec.qmin, codec.qmax = 2, 56
    codec.options = {  # as aiortc's own encoder sets libvpx up: real-time CBR
        "bufsize": str(bitrate),
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "overshoot-pct": "15",
        "undershoot-pct": "100",
        "static-thresh": "1",
        "partitions": "0",
    }
    grain = np.random.default_rng(participant).integers(-8, 9, (height + 64, width + 64))
    u, v = COLOURS[participant % len(COLOURS)]
    chroma = np.empty((height // 2, width // 2), np.uint8)
    xs, ys = np.arange(width), np.arange(height - BAND)
    band = np.full((BAND, width), BLACK, np.uint8)
    unit = width // len(barcode_units(0, 0))
    out: list[bytes] = []
    for i in range(frames):
        y = np.empty((height, width), np.uint8)
        band[:] = BLACK
        for k, white in enumerate(barcode_units(i, participant)):
            if white:
                band[:, k * unit : (k + 1) * unit] = WHITE
        y[:BAND] = band
        # A moving texture below, kept dark (< 128) so that only barcodes read as white.
        wave = np.outer(np.cos((ys - 3 * i) / 17.0), np.sin((xs + 5 * i) / 23.0)) * 28 + 62
        dy, dx = (i * 7) % 64, (i * 13) % 64  # the grain moves too, as a camera's does
        noise = grain[dy : dy + height - BAND, dx : dx + width]
        y[BAND:] = np.clip(wave + noise, 20, 100).astype(np.uint8)
        x = (i * 6) % (width - 80)
        y[height // 3 : height // 3 + 80, x : x + 80] = 200  # the moving element
        planes = [y]
        for value in (u, v):
            chroma[:] = value
            chroma[: BAND // 2] = 128
            planes.append(chroma.reshape(-1, width).copy())
        frame = av.VideoFrame.from_ndarray(np.concatenate(planes), format="yuv420p")
        frame.pts = i
        frame.time_base = fractions.Fraction(1, fps)
        if i % GOP == 0:
            frame.pict_type = av.video.frame.PictureType.I
        packets = codec.encode(frame)
        if len(packets) != 1:
            raise RuntimeError(f"libvpx gave {len(packets)} packets for frame {i}")
        if i % GOP == 0 and not packets[0].is_keyframe:
            raise RuntimeError(f"frame {i} should be a keyframe")
        out.append(bytes(packets[0]))
    return out


def audio_loop(participant: int) -> list[bytes]:
    """One second of 20 ms Opus packets of the participant's tone (48 kHz mono, 32 kbit/s)."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.format, codec.layout = 48_000, "s16", "mono"
    codec.bit_rate = 32_000
    codec.options = {"application": "voip", "frame_duration": "20"}
    hz = 300 + 60 * participant
    out: list[bytes] = []
    n = 0
    while len(out) < 50:
        t = (np.arange(960) + n) / 48_000
        pcm = (np.sin(2 * math.pi * hz * t) * 6000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts = 48_000, n
        frame.time_base = fractions.Fraction(1, 48_000)
        out += [bytes(p) for p in codec.encode(frame)]
        n += 960
    return out[:50]


# --- the load generator (its own process, pinned to CPU 1) ------------------------------------


@dataclass
class Window:
    """What the generator counts; ``on`` only during the measuring window."""

    on: bool = False
    latencies: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # when each latency sample was taken
    unread_times: list[float] = field(default_factory=list)
    first_send: float = 0.0
    late_ms: list[float] = field(default_factory=list)
    hls: list[dict[str, Any]] = field(default_factory=list)


class LoopTrack(MediaStreamTrack):
    """Pre-encoded packets handed to aiortc's sender on the shared clock ``t0``: packet
    ``n % len(packets)`` is due at ``t0 + n * period``, with pts ``n * step``."""

    def __init__(
        self,
        kind: str,
        packets: list[bytes],
        period: float,
        step: int,
        clock: int,
        t0: float,
        on_send: Callable[[int, float, float], None],
    ) -> None:
        super().__init__()
        self.kind = kind
        self.packets, self.period, self.step, self.t0 = packets, period, step, t0
        self.time_base = fractions.Fraction(1, clock)
        self.on_send = on_send
        self.n: int | None = None

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self.n is None:  # start on a keyframe of the shared clock
            gop = GOP if self.kind == "video" else 1
            self.n = math.ceil((now - self.t0) / self.period / gop) * gop
        due = self.t0 + self.n * self.period
        if due > now:
            await asyncio.sleep(due - now)
        index = self.n % len(self.packets)
        packet = av.Packet(self.packets[index])
        packet.pts = self.n * self.step
        packet.time_base = self.time_base
        self.on_send(index, time.time(), (time.monotonic() - due) * 1000)
        self.n += 1
        return packet


@dataclass(eq=False)
class Peer:
    index: int
    name: str
    pc: Any
    observer: bool
    sends: np.ndarray  # loop index -> wall-clock time of its latest send
    taps: dict[str, int] = field(default_factory=dict)  # mid -> frames tapped (video)
    audio_taps: dict[str, int] = field(default_factory=dict)
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)  # ours: mid -> source
    sio: Any = None
    decoded: dict[int, int] = field(default_factory=dict)  # observer: source -> frames
    unread: int = 0  # observer: decoded frames without a readable barcode
    mismatched: int = 0  # observer: barcode of another participant than the slot's


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    n, fps = spec["participants"], spec["fps"]
    observer = n - 1
    started = time.monotonic()
    cache = Path(spec["cache"]) if spec.get("cache") else None
    reused = cache is not None and cache.exists()
    if cache is not None and reused:  # the second run reuses the first one's loops
        videos, audios = pickle.loads(cache.read_bytes())
    else:
        videos = [
            video_loop(
                i, spec["loop_frames"], spec["width"], spec["height"], fps, spec["video_kbps"]
            )
            for i in range(n)
        ]
        audios = [audio_loop(i) for i in range(n)]
        if cache is not None:
            cache.write_bytes(pickle.dumps((videos, audios)))
    encoded_s = time.monotonic() - started
    video_bytes = sum(len(p) for p in videos[0])
    log(
        f"{'reused the' if reused else 'pre-encoded'} {n} × {spec['loop_frames']} frames "
        f"in {encoded_s:.1f} s ({video_bytes * 8 * fps / len(videos[0]) / 1000:.0f} kbit/s each)"
    )
    window = Window()
    t0 = time.monotonic() + 0.5
    vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
    opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"]
    peers: list[Peer] = []
    readers: list[asyncio.Task[None]] = []

    def sender(peer_sends: np.ndarray, video: bool) -> Callable[[int, float, float], None]:
        def on_send(index: int, wall: float, late_ms: float) -> None:
            if video:
                peer_sends[index] = wall
                if not window.first_send:
                    window.first_send = wall
            if window.on:
                window.late_ms.append(late_ms)

        return on_send

    for i in range(n):
        pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        peer = Peer(
            i,
            "host" if i == 0 else f"guest{i}",
            pc,
            i == observer,
            np.zeros(spec["loop_frames"]),
        )
        audio_track = LoopTrack(
            "audio", audios[i], 0.02, 960, AUDIO_CLOCK, t0, sender(peer.sends, False)
        )
        video_track = LoopTrack(
            "video",
            videos[i],
            1 / fps,
            VIDEO_CLOCK // fps,
            VIDEO_CLOCK,
            t0,
            sender(peer.sends, True),
        )
        pc.addTransceiver(audio_track, direction="sendonly").setCodecPreferences(opus)
        pc.addTransceiver(video_track, direction="sendonly").setCodecPreferences(vp8)
        for _ in range(n - 1):
            pc.addTransceiver("audio", direction="recvonly").setCodecPreferences(opus)
            pc.addTransceiver("video", direction="recvonly").setCodecPreferences(vp8)
        peers.append(peer)

    def tap(counts: dict[str, int], mid: str) -> Callable[[str, bytes, int], None]:
        def on_frame(codec: str, data: bytes, timestamp: int) -> None:
            if window.on:
                counts[mid] = counts.get(mid, 0) + 1

        return on_frame

    dump = Path(os.environ["BENCH_MEDIA_DUMP"]) if os.environ.get("BENCH_MEDIA_DUMP") else None

    async def observe(peer: Peer, mid: str, track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.time()
            code = read_frame(frame)
            if code is None:
                if window.on:
                    peer.unread += 1
                    window.unread_times.append(now)
                    if dump is not None and peer.unread <= 5:  # developers: what was it?
                        frame.to_image().save(dump / f"{spec['target']}-{peer.unread}.png")
                continue
            source, index = code
            if source >= n or index >= spec["loop_frames"]:
                if window.on:
                    peer.unread += 1
                continue
            if window.on:
                peer.decoded[source] = peer.decoded.get(source, 0) + 1
                expected = spec["keys"].get(peer.slots.get(mid, {}).get("participant"))
                if expected is not None and expected != source:
                    peer.mismatched += 1
                else:
                    window.latencies.append((now - peers[source].sends[index]) * 1000)
                    window.times.append(now)

    async def offer(peer: Peer, send: Callable[[str], Any]) -> None:
        pc = peer.pc
        await pc.setLocalDescription(await pc.createOffer())
        for t in pc.getTransceivers():
            if t.direction != "recvonly":
                continue
            receiver = t.receiver
            if t.kind == "video":
                if not peer.observer:
                    _aiortc.install_tap(receiver, tap(peer.taps, t.mid))
                    _aiortc.set_decoding(receiver, False)
            else:
                _aiortc.install_tap(receiver, tap(peer.audio_taps, t.mid))
                _aiortc.set_decoding(receiver, False)
        answer = await send(pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        if peer.observer:
            for t in pc.getTransceivers():
                if t.direction == "recvonly" and t.kind == "video":
                    readers.append(asyncio.ensure_future(observe(peer, t.mid, t.receiver.track)))

    async def measure(label: str, hls_task: asyncio.Task[dict[str, Any]] | None) -> dict[str, Any]:
        """One measuring window: the orchestrator reads the server's CPU between the two
        marks; everything the participants received in it is summarised."""
        for p in peers:
            p.taps.clear()
            p.audio_taps.clear()
            p.decoded.clear()
            p.unread = p.mismatched = 0
        window.latencies.clear()
        window.times.clear()
        window.unread_times.clear()
        window.late_ms.clear()
        window.hls.clear()
        cpu0, wall0, began = time.process_time(), time.monotonic(), time.time()
        window.on = True
        print(f"MEASURE_START {label}", flush=True)
        await asyncio.sleep(spec["seconds"])
        window.on = False
        print(f"MEASURE_END {label}", flush=True)
        ended = time.time()
        elapsed = time.monotonic() - wall0
        out: dict[str, Any] = {
            "generator_cores": (time.process_time() - cpu0) / elapsed,
            "window_seconds": elapsed,
        }
        hls: dict[str, Any] = {"url": spec.get("hls_url"), "measured": False}
        if hls_task is not None:
            hls_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                hls.update(await hls_task)
        elif spec["target"] == "reference":
            hls["reason"] = "the reference has no livestream"
        elif label == "forwarding":
            hls["reason"] = "the livestream is off in this window"
        else:
            hls["reason"] = f"live not accepted: {switches.get('live', {}).get('error')}"
        out["hls"] = summarise_hls(hls, window.hls)
        watcher = peers[observer]
        fps_from = {str(s): c / elapsed for s, c in sorted(watcher.decoded.items())}
        tapped = [c / elapsed for p in peers if not p.observer for c in p.taps.values()]
        tapped += [0.0] * sum(n - 1 - len(p.taps) for p in peers if not p.observer)
        audio = [c / elapsed for p in peers for c in p.audio_taps.values()]
        audio += [0.0] * sum(n - 1 - len(p.audio_taps) for p in peers)
        lat, times = window.latencies, window.times
        quarter = (ended - began) / 4
        early = [v for v, t in zip(lat, times, strict=True) if t < began + quarter]
        late = [v for v, t in zip(lat, times, strict=True) if t >= ended - quarter]
        timeline = []  # the observer, second by second
        for second in range(math.ceil(ended - began)):
            lo, hi = began + second, began + second + 1
            these = [v for v, t in zip(lat, times, strict=True) if lo <= t < hi]
            timeline.append(
                {
                    "second": second,
                    "read": len(these),
                    "unreadable": sum(1 for t in window.unread_times if lo <= t < hi),
                    "p50_ms": round(percentile(these, 50), 1) if these else None,
                }
            )
        out.update(
            p2p={
                "samples": len(lat),
                "p50_ms": percentile(lat, 50),
                "p90_ms": percentile(lat, 90),
                "p99_ms": percentile(lat, 99),
                "max_ms": max(lat) if lat else float("nan"),
                "mean_ms": float(np.mean(lat)) if lat else float("nan"),
                "first_quarter_p50_ms": percentile(early, 50),
                "last_quarter_p50_ms": percentile(late, 50),
            },
            # A loop index names one send only while the run is shorter than the loop.
            seconds_since_first_send=ended - window.first_send,
            latencies_unambiguous=ended - window.first_send < spec["loop_frames"] / fps,
            observer={
                "name": watcher.name,
                "fps_from": fps_from,
                "min_fps": min(fps_from.values(), default=0.0),
                "sources": len(fps_from),
                "unreadable_frames": watcher.unread,
                "mismatched_frames": watcher.mismatched,
                "timeline": timeline,
            },
            received_video_fps={
                "pairs": len(tapped),
                "min": min(tapped, default=0.0),
                "median": float(np.median(tapped)) if tapped else 0.0,
                "total": float(sum(tapped) + sum(fps_from.values())),
            },
            received_audio_pps={
                "pairs": len(audio),
                "min": min(audio, default=0.0),
                "median": float(np.median(audio)) if audio else 0.0,
            },
            send_late_ms={
                "p50": percentile(window.late_ms, 50),
                "p99": percentile(window.late_ms, 99),
                "max": max(window.late_ms) if window.late_ms else float("nan"),
            },
        )
        return out

    result: dict[str, Any] = {"target": spec["target"], "participants": n}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        if spec["target"] == "mashangyi":
            switches = await join_mashangyi(spec, peers, offer)
        else:
            switches = await join_reference(spec, http, peers, offer)
        # Media flows: every participant tapped (or, the observer, decoded) video from every
        # other. Counting is on during this wait only to see the flow.
        window.on = True
        flowing = False
        deadline = time.monotonic() + spec["flow_timeout"]
        while time.monotonic() < deadline:
            flowing = all(
                (len(p.decoded) >= n - 1)
                if p.observer
                else sum(1 for c in p.taps.values()) >= n - 1
                for p in peers
            )
            if flowing:
                break
            await asyncio.sleep(0.2)
        result["flow_seconds"] = round(time.monotonic() - started - encoded_s, 1)
        result["all_flowing"] = flowing
        if not flowing:
            log("not every participant receives every other: measuring anyway")
        window.on = False
        result["windows"] = {}
        await asyncio.sleep(spec["warmup"])
        result["windows"]["forwarding"] = await measure("forwarding", None)
        if spec["target"] == "mashangyi":
            switches = await switch_on(peers[0])
        result["switches"] = switches
        if any(s.get("accepted") for s in switches.values()):
            hls_task: asyncio.Task[dict[str, Any]] | None = None
            if switches.get("live", {}).get("accepted"):
                hls_task = asyncio.ensure_future(watch_hls(http, spec["hls_url"], peers, window))
            await asyncio.sleep(spec["warmup"])
            result["windows"]["session"] = await measure("session", hls_task)
        result["connection_states"] = [p.pc.connectionState for p in peers]
        result["pre_encode_seconds"] = encoded_s
        result["video_kbps_encoded"] = video_bytes * 8 * fps / len(videos[0]) / 1000
        result["loop_seconds"] = spec["loop_frames"] / fps
        for task in readers:
            task.cancel()
        for p in peers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(p.pc.close(), 10)
            if p.sio is not None:
                with contextlib.suppress(Exception):
                    await p.sio.disconnect()
    return result


def log(message: str) -> None:
    print(f"  [generator] {message}", file=sys.stderr, flush=True)


async def join_mashangyi(
    spec: dict[str, Any], peers: list[Peer], offer: Callable[[Peer, Callable[[str], Any]], Any]
) -> dict[str, Any]:
    """Every participant on /live: the host with the staff cookie, each guest with its
    invitation, admitted by the host; then each offers, in turn."""
    import socketio

    base, deliberation = spec["base"], spec["deliberation"]

    async def connect(peer: Peer, auth: dict[str, Any], headers: dict[str, str]) -> None:
        sio = socketio.AsyncClient(reconnection=False)
        peer.sio = sio

        async def media(data: dict[str, Any]) -> None:
            if data.get("op") == "slots":  # which participant is in which receive slot
                peer.slots = data["slots"]

        sio.on("media", media, namespace="/live")
        await sio.connect(
            base,
            namespaces=["/live"],
            headers=headers,
            auth={"deliberation": deliberation, **auth},
            transports=["websocket"],
            wait_timeout=10,
        )

    async def call(peer: Peer, event: str, data: dict[str, Any]) -> dict[str, Any]:
        ack: dict[str, Any] = await peer.sio.call(event, data, namespace="/live", timeout=30)
        return ack

    host = peers[0]
    await connect(host, {}, {"Cookie": spec["cookie"]})
    snapshot = await call(host, "sync", {"op": "snapshot"})
    assert snapshot["ok"], snapshot
    for peer, guest in zip(peers[1:], spec["guests"], strict=True):
        await connect(peer, {"invite": guest["token"]}, {})
        admitted = await call(host, "lobby", {"op": "admit", "id": guest["id"]})
        assert admitted["ok"], admitted
        synced = await call(peer, "sync", {"op": "snapshot"})
        assert synced["ok"] and synced["snapshot"].get("op") != "lobby", synced

    for peer in peers:

        async def send(sdp: str, peer: Peer = peer) -> str:
            ack = await call(peer, "media", {"op": "offer", "sdp": sdp})
            if not ack.get("ok"):
                raise RuntimeError(f"offer of {peer.name} refused: {ack}")
            spec["keys"][ack["participant"]] = peer.index
            answer: str = ack["answer"]
            return answer

        await offer(peer, send)
    log(f"{len(peers)} participants joined the real server")
    return {}


async def switch_on(host: Peer) -> dict[str, Any]:
    """The host's livestream and recording switches, and what the server answered."""
    out = {}
    for what in ("live", "record"):
        ack = await host.sio.call("media", {"op": what, "on": True}, namespace="/live", timeout=30)
        out[what] = {"accepted": bool(ack.get("ok")), "error": ack.get("error")}
        if ack.get("ok") and what == "live":
            out[what]["hls_advertised"] = ack.get("media", {}).get("hls")
        log(f"media {what} on: {'accepted' if ack.get('ok') else ack.get('error')}")
    return out


async def join_reference(
    spec: dict[str, Any],
    http: aiohttp.ClientSession,
    peers: list[Peer],
    offer: Callable[[Peer, Callable[[str], Any]], Any],
) -> dict[str, Any]:
    for peer in peers:

        async def send(sdp: str, peer: Peer = peer) -> str:
            async with http.post(
                spec["base"] + "/offer", json={"id": peer.name, "sdp": sdp}
            ) as response:
                response.raise_for_status()
                answer: str = (await response.json())["sdp"]
                return answer

        await offer(peer, send)
    log(f"{len(peers)} participants joined the reference")
    return {"live": {"accepted": False, "error": "the reference has no livestream"}}


# --- the livestream ---------------------------------------------------------------------------


def parse_playlist(text: str) -> tuple[str | None, list[tuple[str, float | None, float]]]:
    """(init section URI, [(segment URI, program date-time or None, duration)])."""
    init, segments = None, []
    pdt: float | None = None
    duration = 0.0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MAP:"):
            for part in line.split(":", 1)[1].split(","):
                if part.startswith("URI="):
                    init = part[4:].strip('"')
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            with contextlib.suppress(ValueError):
                pdt = datetime.fromisoformat(line.split(":", 1)[1]).timestamp()
        elif line.startswith("#EXTINF:"):
            with contextlib.suppress(ValueError):
                duration = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            segments.append((line, pdt, duration))
            pdt = None
    return init, segments


def decode_segment(data: bytes) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """Barcodes in the first and last pictures of an fMP4 (or TS) segment, and its frames."""
    first: av.VideoFrame | None = None
    last: av.VideoFrame | None = None
    count = 0
    with av.open(io.BytesIO(data), mode="r") as container:
        for frame in container.decode(video=0):
            if first is None:
                first = frame
            last = frame
            count += 1
    if first is None or last is None:
        return [], [], 0
    return scan_frame(first), scan_frame(last), count


async def watch_hls(
    http: aiohttp.ClientSession, url: str, peers: list[Peer], window: Window
) -> dict[str, Any]:
    """Poll the playlist; for each segment that appears during the window, the age of its
    first and last pictures (and of its EXT-X-PROGRAM-DATE-TIME) when it first appeared."""
    seen: set[str] = set()
    inits: dict[str, bytes] = {}
    polls = errors = 0
    first_poll = True
    try:
        while True:
            await asyncio.sleep(HLS_POLL_S)
            try:
                async with http.get(url) as response:
                    polls += 1
                    if response.status != 200:
                        errors += 1
                        continue
                    text = await response.text()
                seen_at = time.time()
                init_uri, segments = parse_playlist(text)
                new = [s for s in segments if s[0] not in seen]
                seen.update(s[0] for s in segments)
                if first_poll or not new or not window.on:
                    first_poll = False
                    continue
                uri, pdt, duration = new[-1]
                data = b""
                if init_uri is not None:
                    if init_uri not in inits:
                        async with http.get(_join(url, init_uri)) as response:
                            inits[init_uri] = await response.read()
                    data = inits[init_uri]
                async with http.get(_join(url, uri)) as response:
                    data += await response.read()
                first, last, frames = await asyncio.to_thread(decode_segment, data)

                def ages(codes: list[tuple[int, int]], seen_at: float = seen_at) -> list[float]:
                    return [
                        seen_at - float(peers[p].sends[i])
                        for p, i in codes
                        if p < len(peers) and i < len(peers[p].sends) and peers[p].sends[i] > 0
                    ]

                window.hls.append(
                    {
                        "segment": uri,
                        "seen_at": seen_at,
                        "duration": duration,
                        "frames": frames,
                        "new_in_poll": len(new),
                        "first_ages": ages(first),
                        "last_ages": ages(last),
                        "pdt_age": seen_at - pdt if pdt is not None else None,
                    }
                )
            except aiohttp.ClientError:
                errors += 1
    except asyncio.CancelledError:
        return {"measured": True, "polls": polls, "poll_errors": errors}


def _join(url: str, relative: str) -> str:
    if "://" in relative:
        return relative
    if relative.startswith("/"):
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}{relative}"
    return url.rsplit("/", 1)[0] + "/" + relative


def summarise_hls(hls: dict[str, Any], segments: list[dict[str, Any]]) -> dict[str, Any]:
    if not hls.get("measured"):
        return hls
    edge = [float(np.median(s["first_ages"])) for s in segments if s["first_ages"]]
    newest = [float(np.median(s["last_ages"])) for s in segments if s["last_ages"]]
    pdt = [s["pdt_age"] for s in segments if s["pdt_age"] is not None]
    return {
        **hls,
        "segments": len(segments),
        "segments_with_barcodes": len(edge),
        "segment_seconds": float(np.mean([s["duration"] for s in segments])) if segments else None,
        "frames_per_segment": float(np.mean([s["frames"] for s in segments])) if segments else None,
        "live_edge_p50_s": percentile(edge, 50),
        "live_edge_p99_s": percentile(edge, 99),
        "live_edge_max_s": max(edge) if edge else float("nan"),
        "newest_picture_p50_s": percentile(newest, 50),
        "newest_picture_p99_s": percentile(newest, 99),
        "program_date_time_age_p50_s": percentile(pdt, 50) if pdt else None,
        "codes_per_segment": float(np.mean([len(s["first_ages"]) for s in segments]))
        if segments
        else 0.0,
        "poll_interval_s": HLS_POLL_S,
    }


# --- orchestration ----------------------------------------------------------------------------


def all_processes() -> dict[int, tuple[str, int, float]]:
    """pid -> (name, parent, CPU seconds) of every process."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[int(stat.parent.name)] = (
                name,
                int(fields[1]),
                (int(fields[11]) + int(fields[12])) / TICKS,
            )
    return out


def process_cpu(pid: int, table: dict[int, tuple[str, int, float]]) -> float:
    """CPU seconds of a process (all threads) and of its live children."""
    return cpu_seconds(pid) + sum(cpu for _, parent, cpu in table.values() if parent == pid)


def busiest_others(
    before: dict[int, tuple[str, int, float]],
    after: dict[int, tuple[str, int, float]],
    mine: set[int],
    seconds: float,
) -> list[dict[str, Any]]:
    """The processes other than ours that used the most CPU between two snapshots."""
    used: list[dict[str, Any]] = []
    for pid, (name, parent, cpu) in after.items():
        if pid in mine or parent in mine:
            continue
        delta = (cpu - before[pid][2] if pid in before else cpu) / seconds
        if delta >= 0.02:
            used.append({"pid": pid, "name": name, "cores": round(delta, 3)})
    return sorted(used, key=lambda u: -u["cores"])[:5]


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


def wait_idle(seconds: float) -> float:
    """Wait up to ``seconds`` for other work on the machine to stop (under 0.3 cores busy
    over 2 s); return the last busy figure."""
    deadline = time.monotonic() + seconds
    told = False
    while True:
        before = machine_busy()
        time.sleep(2.0 if seconds > 0 else 0.5)
        after = machine_busy()
        busy = (after[0] - before[0]) / max(after[1] - before[1], 1.0) * (os.cpu_count() or 1)
        if busy < 0.3 or time.monotonic() >= deadline:
            if busy >= 0.3:
                print(f"  WARNING: the machine is busy ({busy:.2f} cores): figures are pessimistic")
            return busy
        if not told:
            print(f"  waiting for the machine to go quiet ({busy:.2f} cores busy)…", flush=True)
            told = True


def run_generator(server_pid: int, spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load generator; read the server's CPU (and the machine's) around each of its
    measuring windows."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--generate", json.dumps(spec)],
        stdout=subprocess.PIPE,
        preexec_fn=pin(1),
        text=True,
    )
    assert proc.stdout is not None
    mine = {server_pid, proc.pid, os.getpid()}
    marks: dict[str, Any] = {}
    cpu: dict[str, dict[str, Any]] = {}
    result: dict[str, Any] = {}
    for line in proc.stdout:
        if line.startswith("MEASURE_START"):
            table = all_processes()
            marks = {
                "table": table,
                "cpu": process_cpu(server_pid, table),
                "wall": time.monotonic(),
                "busy": machine_busy(),
            }
        elif line.startswith("MEASURE_END"):
            label = line.split()[1]
            elapsed = time.monotonic() - marks["wall"]
            table = all_processes()
            busy = machine_busy()
            cpu[label] = {
                "server_cores": (process_cpu(server_pid, table) - marks["cpu"]) / elapsed,
                "machine_cores": (busy[0] - marks["busy"][0])
                / (busy[1] - marks["busy"][1])
                * (os.cpu_count() or 1),
                "other_processes": busiest_others(marks["table"], table, mine, elapsed),
            }
        elif line.startswith("{"):
            result = json.loads(line)
    if proc.wait() != 0 or not result:
        raise SystemExit(f"the load generator failed against {spec['target']}")
    for label, figures in cpu.items():
        w = result["windows"][label]
        w.update(figures)
        w["other_cores"] = w["machine_cores"] - w["server_cores"] - w["generator_cores"]
        if w["other_cores"] > 0.25:
            who = ", ".join(f"{o['name']} {o['cores']:.2f}" for o in w["other_processes"])
            print(
                f"  WARNING: other processes used {w['other_cores']:.2f} cores during the "
                f"{label} window ({who or 'no process'}): figures are pessimistic, "
                "rerun on a quiet machine",
                flush=True,
            )
    return result


async def ensure_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database if it does not exist."""
    import asyncpg

    parts = urlsplit(url.replace("+asyncpg", ""))
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    finally:
        await conn.close()


async def prepare(
    base: str, username: str, password: str, deliberation: int, guests: int
) -> tuple[str, list[dict[str, Any]]]:
    """Log the demo chief in (replacing the one-time password), start the session live
    and invite the guests: the staff cookie and each invitation's id and token."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        cookie, headers, url = await start_live(http, base, username, password, deliberation)
        roles = ["official", "deputy", "expert"]
        invited = []
        for i in range(guests):
            r = await http.post(
                url + "/invitations",
                json={
                    "role": roles[i % len(roles)],
                    "display_name": f"嘉宾{i + 1}",
                    "organisation": "基准测试",
                },
                headers=headers,
            )
            assert r.status == 201, await r.text()
            made = await r.json()
            token = made.get("token") or made["link"].rsplit("/join/", 1)[1]
            invited.append({"id": made["id"], "token": token})
        return cookie, invited


def code_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()]
    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted": [f for f in dirty if f.startswith(("server/", "signaling/"))],
    }


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "",
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "aiortc": aiortc.__version__,
        "av": av.__version__,
        "load_before": os.getloadavg()[0],
    }


def spec_for(args: argparse.Namespace, target: str, base: str) -> dict[str, Any]:
    return {
        "target": target,
        "base": base,
        "participants": args.participants,
        "width": args.width,
        "height": args.height,
        "fps": args.fps,
        "video_kbps": args.video_kbps,
        "loop_frames": args.loop_frames,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "flow_timeout": 30.0,
        "cache": str(args.cache),
        "keys": {},
    }


def main_window(run: dict[str, Any]) -> dict[str, Any]:
    """The whole session's window: with the livestream and recording if they ran."""
    windows: dict[str, dict[str, Any]] = run["windows"]
    return windows.get("session") or windows["forwarding"]


def row(name: str, n: int, w: dict[str, Any]) -> str:
    p2p, hls = w["p2p"], w["hls"]
    edge = (
        f"{hls['live_edge_p50_s']:.2f} / {hls['live_edge_p99_s']:.2f}"
        if hls.get("measured") and hls.get("segments_with_barcodes")
        else "n/a"
    )
    return (
        f"| {name} | {n} | {w['server_cores']:.2f} | "
        f"{w['received_video_fps']['median']:.1f} (min {w['received_video_fps']['min']:.1f}) | "
        f"{w['observer']['min_fps']:.1f} | {p2p['p50_ms']:.0f} | {p2p['p99_ms']:.0f} | "
        f"{p2p['max_ms']:.0f} | {edge} | {w['generator_cores']:.2f} | {w['other_cores']:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1/msy_bench_media",
        help="PostgreSQL database whose schema is DROPPED and recreated (created if missing)",
    )
    parser.add_argument("--participants", type=int, default=7, help="host + guests")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--video-kbps", type=int, default=600, help="each camera's VP8 rate")
    parser.add_argument(
        "--loop-frames",
        type=int,
        default=None,
        help="pre-encoded frames per camera, a multiple of 30 (default: enough for the whole "
        "run, 15 s + both windows and warm-ups): a loop index names one send only while the "
        "run, from the first send to the end of a window, is shorter than the loop",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="the measuring window")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured, before each window")
    parser.add_argument(
        "--hls-path",
        default="/media/live/{deliberation}/index.m3u8",
        help="the livestream's playlist on the server",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=120.0,
        help="before each run, wait up to this long for other load on the machine to stop",
    )
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: figures mean nothing")
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/media.json"))
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        print(json.dumps(asyncio.run(generate(json.loads(args.generate)))), flush=True)
        return
    if args.quick:
        args.wait_idle = 0.0
        args.participants, args.seconds, args.warmup = 3, 4.0, 1.5
    if args.loop_frames is None:
        run = 15 + 2 * (args.warmup + args.seconds)
        args.loop_frames = min(4080, math.ceil(run * args.fps / GOP) * GOP)
    if not 2 <= args.participants <= 16 or args.loop_frames % 30 or args.loop_frames > 4096:
        raise SystemExit("2–16 participants; --loop-frames a multiple of 30, at most 4096")

    tmp = Path(tempfile.mkdtemp(prefix="msy-media-bench-"))
    args.cache = tmp / "loops.pickle"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASHANGYI_")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env.update(
        MASHANGYI_DATA_DIR=str(tmp / "var"),
        MASHANGYI_RECORDINGS_DIR=str(tmp / "rec"),
        MASHANGYI_DATABASE_URL=args.database_url,
        MASHANGYI_PUBLIC_BASE_URL=base,
        MASHANGYI_LOG_LEVEL="WARNING",
        MASHANGYI_REMINDER_SECONDS="0",
    )
    print(f"码上议 media benchmark; load {os.getloadavg()[0]:.2f}", flush=True)
    asyncio.run(ensure_database(args.database_url))
    asyncio.run(reset_database(args.database_url, tmp))
    for command in (["migrate"], ["demo"]):
        subprocess.run([str(BIN / "mashangyi"), *command], env=env, check=True, capture_output=True)
    demo = json.loads((tmp / "var" / "demo.json").read_text("utf-8"))
    chief = next(x for x in demo["logins"] if x["username"] == "chief.xingfu")
    deliberation = int(demo["deliberation_id"])

    report: dict[str, Any] = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "code": code_state(),
        "machine": machine(),
        "targets": {
            "server_cores": CPU_TARGET,
            "cpu_ratio": RATIO_TARGET,
            "p2p_p99_ms": P2P_TARGET_MS,
            "hls_live_edge_p99_s": HLS_TARGET_S,
        },
    }
    log_file = (tmp / "server.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "mashangyi"), "serve", "--port", str(port), "--quiet"],
        env=env,
        preexec_fn=pin(0),
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(base, server)
        cookie, guests = asyncio.run(
            prepare(base, "chief.xingfu", chief["password"], deliberation, args.participants - 1)
        )
        spec = spec_for(args, "mashangyi", base)
        spec.update(
            deliberation=deliberation,
            cookie=cookie,
            guests=guests,
            hls_url=base + args.hls_path.format(deliberation=deliberation),
        )
        idle = wait_idle(args.wait_idle)
        print("  mashangyi: joining, then measuring…", flush=True)
        ours = run_generator(server.pid, spec)
        ours["busy_before"] = idle
        report["mashangyi"] = ours
        for label, w in ours["windows"].items():
            print(
                f"  mashangyi, {label}: server {w['server_cores']:.2f} cores, p2p p50 "
                f"{w['p2p']['p50_ms']:.0f} ms p99 {w['p2p']['p99_ms']:.0f} ms",
                flush=True,
            )
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log_file.close()

    if not args.skip_reference:
        ref = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks/media_reference.py"), "--port", str(port)],
            preexec_fn=pin(0),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(base, ref)
            idle = wait_idle(args.wait_idle)
            print("  reference: joining, then measuring…", flush=True)
            theirs = run_generator(ref.pid, spec_for(args, "reference", base))
            theirs["busy_before"] = idle
            report["reference"] = theirs
        finally:
            ref.terminate()
            try:
                ref.wait(30)
            except subprocess.TimeoutExpired:
                ref.kill()
                ref.wait(10)

    verdicts = judge(report, args.fps)
    report["verdicts"] = verdicts
    print_table(report, args)
    report["args"] = {k: v for k, v in vars(args).items() if k not in ("generate", "cache")}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=1, default=str))
    print(f"Wrote {args.output}")
    args.cache.unlink(missing_ok=True)


def judge(report: dict[str, Any], fps: int) -> dict[str, Any]:
    ours, theirs = report["mashangyi"], report.get("reference")
    session, forwarding = main_window(ours), ours["windows"]["forwarding"]
    hls = session["hls"]
    out: dict[str, Any] = {
        "session_has_livestream": "session" in ours["windows"],
        "server_cores": session["server_cores"] <= CPU_TARGET,
        "p2p_p99": session["p2p"]["p99_ms"] <= P2P_TARGET_MS,
        "hls": hls["live_edge_p99_s"] <= HLS_TARGET_S
        if hls.get("measured") and hls.get("segments_with_barcodes")
        else None,
    }
    if theirs is not None:
        ref = theirs["windows"]["forwarding"]

        def per_frame(w: dict[str, Any]) -> float:
            cores: float = w["server_cores"]
            frames: float = w["received_video_fps"]["total"]
            return cores / max(frames, 1e-9)

        saturated = (ref["server_cores"] >= 0.9 or ref["observer"]["min_fps"] < 0.9 * fps) and ref[
            "received_video_fps"
        ]["median"] < 0.95 * fps
        ratio = ref["server_cores"] / forwarding["server_cores"]
        extrapolated = per_frame(ref) / per_frame(forwarding)
        out.update(
            # Like for like: the reference forwards only, so against our forwarding window.
            cpu_ratio=ratio,
            cpu_ratio_whole_session=ref["server_cores"] / session["server_cores"],
            cpu_per_delivered_frame_ratio=extrapolated,
            cpu_per_delivered_frame_ratio_whole_session=per_frame(ref) / per_frame(session),
            reference_saturated=saturated,
            # A saturated reference's CPU is capped by its core: judge the extrapolation.
            cpu_ratio_met=(extrapolated if saturated else ratio) >= RATIO_TARGET,
            cpu_ratio_judged_on="per delivered frame" if saturated else "measured",
        )
    return out


def seconds(ms: float) -> str:
    """A latency for people: ms below a second, else s; nan when nothing was read."""
    if math.isnan(ms):
        return "nothing read"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def print_table(report: dict[str, Any], args: argparse.Namespace) -> None:
    ours, theirs, v = report["mashangyi"], report.get("reference"), report["verdicts"]
    session = main_window(ours)
    n = ours["participants"]
    print(
        f"\n{n} participants at {args.width}×{args.height}, {args.fps} fps, "
        f"VP8 {ours['video_kbps_encoded']:.0f} kbit/s each, windows of {args.seconds:.0f} s\n"
    )
    print(
        "| server | participants | server cores | video fps received per pair, median"
        " | observer fps, worst source | p2p p50 ms | p2p p99 ms | p2p max ms"
        " | HLS live edge p50 / p99 s | generator cores | other cores |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = [("mashangyi, forwarding only", n, ours["windows"]["forwarding"])]
    if "session" in ours["windows"]:
        rows.append(("mashangyi, + livestream & recording", n, ours["windows"]["session"]))
    if theirs is not None:
        rows.append(("reference (re-encoding relay)", n, theirs["windows"]["forwarding"]))
    for name, count, w in rows:
        print(row(name, count, w))
    print()
    for name, _, w in rows:
        print(
            f"{name}: p2p p50 {seconds(w['p2p']['first_quarter_p50_ms'])} in the window's first "
            f"quarter, {seconds(w['p2p']['last_quarter_p50_ms'])} in its last; "
            f"{w['observer']['unreadable_frames']} unreadable and "
            f"{w['observer']['mismatched_frames']} misrouted frames at the observer"
            + (
                ""
                if w["latencies_unambiguous"]
                else f"; WARNING: the run outlasted the {args.loop_frames / args.fps:.0f} s "
                "loop, so latencies above it read short (raise --loop-frames)"
            )
        )
    print(
        "livestream switches: "
        + ", ".join(
            f"{k} {'accepted' if s.get('accepted') else 'refused: ' + json.dumps(s.get('error'))}"
            for k, s in ours["switches"].items()
        )
    )

    def mark(ok: bool | None) -> str:
        return "n/a" if ok is None else "MET" if ok else "NOT MET"

    what = "with livestream & recording" if v["session_has_livestream"] else "forwarding only"
    print(
        f"\nTargets: whole session ({what}) ≤ {CPU_TARGET:.0f} core: "
        f"{session['server_cores']:.2f} {mark(v['server_cores'])}; p2p p99 ≤ "
        f"{P2P_TARGET_MS:.0f} ms: {session['p2p']['p99_ms']:.0f} ms {mark(v['p2p_p99'])}; "
        f"livestream ≤ {HLS_TARGET_S:.0f} s: "
        + (
            f"{session['hls']['live_edge_p99_s']:.2f} s {mark(v['hls'])}"
            if v["hls"] is not None
            else f"n/a ({session['hls'].get('reason', 'no segment read')})"
        )
    )
    if theirs is not None:
        ref = theirs["windows"]["forwarding"]
        print(
            f"CPU vs reference ≥ {RATIO_TARGET:.0f}×: measured {v['cpu_ratio']:.1f}× "
            f"(forwarding) / {v['cpu_ratio_whole_session']:.1f}× (whole session); per "
            f"delivered video frame {v['cpu_per_delivered_frame_ratio']:.1f}× / "
            f"{v['cpu_per_delivered_frame_ratio_whole_session']:.1f}×: "
            f"{mark(v['cpu_ratio_met'])} (judged {v['cpu_ratio_judged_on']})"
        )
        if v["reference_saturated"]:
            print(
                f"The reference SATURATED its core ({ref['server_cores']:.2f} cores): it "
                f"delivered {ref['received_video_fps']['median']:.1f} fps per pair of "
                f"{args.fps}, the observer got {ref['observer']['min_fps']:.1f} fps from its "
                f"worst source, and its latency went from "
                f"{seconds(ref['p2p']['first_quarter_p50_ms'])} to "
                f"{seconds(ref['p2p']['last_quarter_p50_ms'])} over the window. Its CPU "
                "is capped, so the measured ratio is a lower bound; the per-frame ratio "
                "extrapolates it to the full frame rate."
            )


if __name__ == "__main__":
    main()
