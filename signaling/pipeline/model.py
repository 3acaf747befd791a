"""The pipeline's public value types: its configuration and what a recording holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 48_000  # every input is resampled to this, and the AAC track runs at it
AAC_FRAME = 1024  # samples per AAC-LC frame: the mixer hands the encoder exactly this


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """How the composed picture is sized and encoded.

    ``segment_seconds`` is both the HLS segment length and the keyframe interval, so every
    segment starts on a keyframe and a recording killed mid-way loses at most about that.
    """

    width: int = 1280
    height: int = 720
    fps: int = 25
    video_bitrate: int = 1_500_000
    audio_bitrate: int = 96_000
    segment_seconds: float = 1.0
    live_window_segments: int = 1800
    preset: str = "veryfast"
    font_path: Path | None = None

    def __post_init__(self) -> None:
        if self.width % 2 or self.height % 2 or self.width < 64 or self.height < 64:
            raise ValueError("width and height must be even (yuv420p), at least 64")
        if not 1 <= self.fps <= 60:
            raise ValueError("fps must be between 1 and 60")
        if self.segment_seconds <= 0 or self.live_window_segments < 1:
            raise ValueError("segment_seconds and live_window_segments must be positive")

    @property
    def gop(self) -> int:
        """Frames between keyframes: one per HLS segment."""
        return max(1, round(self.fps * self.segment_seconds))

    def sample_at(self, tick: int) -> int:
        """The audio sample index where video tick ``tick`` starts (one shared clock)."""
        return tick * SAMPLE_RATE // self.fps


@dataclass(frozen=True, slots=True)
class Chapter:
    title: str
    start: float  # seconds from the recording's start


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    path: Path
    duration: float  # seconds
    streams: tuple[str, ...]  # e.g. ("video:h264", "audio:aac")
    chapters: tuple[Chapter, ...]
    size: int
