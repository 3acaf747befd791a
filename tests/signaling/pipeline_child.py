"""Synthetic participants for the media pipeline tests, and the child process of the kill test.

As a script (``python -m tests.signaling.pipeline_child DIRECTORY``) it records one
participant into DIRECTORY, marks a chapter at once and another a second later, prints
``recording`` when the recording is on, and goes on until it is killed.
"""

from __future__ import annotations

import asyncio
import fractions
import inspect
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from signaling.pipeline import MediaPipeline, PipelineConfig

RATE = 48_000
OPUS_FRAME = 960  # 20 ms, as aiortc's Opus decoder hands them over
SMALL = PipelineConfig(width=320, height=180, fps=10, video_bitrate=300_000)


def solid(rgb: tuple[int, int, int], width: int = 640, height: int = 360) -> av.VideoFrame:
    """A plain picture, yuv420p like a decoded VP8 frame."""
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = rgb
    return av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")


def moving(index: int, width: int = 640, height: int = 360) -> av.VideoFrame:
    """A gradient with a bar sliding across it: every frame differs."""
    x = np.arange(width, dtype=np.uint16)
    row = ((x + index * 8) % 256).astype(np.uint8)
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:, :, 0] = row
    pixels[:, :, 1] = np.arange(height, dtype=np.uint8)[:, None] // 2
    pixels[:, :, 2] = 255 - row
    bar = index * 16 % width
    pixels[:, bar : bar + 24] = 255
    return av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")


def tone(hz: float, start: int, count: int = OPUS_FRAME, channels: int = 2) -> av.AudioFrame:
    """A sine tone as s16 (stereo by default), like a decoded Opus frame."""
    t = (np.arange(count) + start) / RATE
    wave = (np.sin(2 * np.pi * hz * t) * 6000).astype(np.int16)
    layout = "stereo" if channels == 2 else "mono"
    frame = av.AudioFrame.from_ndarray(
        np.repeat(wave, channels).reshape(1, -1), format="s16", layout=layout
    )
    frame.sample_rate = RATE
    frame.pts = start
    frame.time_base = fractions.Fraction(1, RATE)
    return frame


@dataclass
class Source:
    """A participant the tests play: a picture per video frame, maybe a tone."""

    pid: str
    name: str
    role: str
    picture: Callable[[int], av.VideoFrame]
    hz: float | None = None


async def feed(
    pipeline: MediaPipeline,
    sources: Sequence[Source],
    seconds: float,
    fps: int = 15,
    at: dict[float, Callable[[], object]] | None = None,
) -> None:
    """Push every source's video (``fps``) and sound (20 ms frames) in real time.

    ``at`` maps a second (from the start of feeding) to something to do then.
    """
    todo = sorted((at or {}).items())
    start = time.monotonic()
    pictures = samples = 0
    while (elapsed := time.monotonic() - start) < seconds:
        while samples <= elapsed * RATE:
            for s in sources:
                if s.hz is not None:
                    pipeline.push_audio(s.pid, tone(s.hz, samples))
            samples += OPUS_FRAME
        while pictures <= elapsed * fps:
            for s in sources:
                pipeline.push_video(s.pid, s.picture(pictures))
            pictures += 1
        while todo and todo[0][0] <= elapsed:
            result = todo.pop(0)[1]()
            if inspect.isawaitable(result):
                await result
        await asyncio.sleep(0.005)


async def record_until_killed(directory: Path) -> None:
    pipeline = MediaPipeline(directory, SMALL)
    source = Source("cam", "会场", "主持人 · 议事会场", moving, 440.0)
    pipeline.add_participant(source.pid, source.name, source.role)
    await pipeline.start()
    await pipeline.set_recording(True)
    pipeline.mark_chapter("开场")
    print("recording", flush=True)
    await feed(pipeline, [source], 3600, at={1.0: lambda: pipeline.mark_chapter("议题一")})


if __name__ == "__main__":
    asyncio.run(record_until_killed(Path(sys.argv[1])))
