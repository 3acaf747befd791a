"""One encode (libx264 + AAC) and the outputs that mux its packets: HLS and the recording.

The encoders are streams of a ``null`` output container, opened once with global headers:
their SPS/PPS and AudioSpecificConfig are then in the streams' parameters, and each
output's streams are made from them with ``add_stream_from_template``. That is what lets
PyAV write HLS at all (the HLS muxer needs extradata on every stream before its header),
and it costs no second encoder: template streams are never opened.

Every output starts on a keyframe (the pipeline forces one when an output opens) and
rebases the pipeline's timestamps to its own start, audio by the same amount as video,
so each output begins at 0 with sound and picture aligned.
"""

from __future__ import annotations

import fractions
import logging
import os
import shutil
from pathlib import Path
from typing import Any, TypeAlias

import av
from av.codec.context import Flags
from av.container import OutputContainer
from av.stream import Stream
from av.video.frame import PictureType

from signaling.pipeline.model import SAMPLE_RATE, PipelineConfig

log = logging.getLogger(__name__)

Packet: TypeAlias = "av.Packet[Any]"
FRAGMENTED_MP4 = "frag_keyframe+empty_moov+default_base_moof"


class Encoder:
    """libx264 (no B-frames, a keyframe per segment) and AAC-LC mono, opened once."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.video_time_base = fractions.Fraction(1, config.fps)
        self.audio_time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._null = av.open(os.devnull, "w", format="null")
        self.video = self._video_stream()
        self.audio = self._audio_stream()
        self._null.start_encoding()  # opens both encoders: templates now carry extradata

    def _video_stream(self) -> Stream:
        c = self.config
        kbit = c.video_bitrate // 1000
        options = {
            "preset": c.preset,
            "tune": "zerolatency",
            "forced-idr": "1",
            # no scene-cut keyframes: segments stay one keyframe interval long; VBV caps
            # bitrate spikes that would stall viewers on a slow link
            "x264-params": f"scenecut=0:vbv-maxrate={kbit * 3 // 2}:vbv-bufsize={kbit * 2}",
        }
        stream = self._null.add_stream("libx264", rate=c.fps, options=options)
        ctx = stream.codec_context
        assert isinstance(ctx, av.VideoCodecContext)
        ctx.width, ctx.height, ctx.pix_fmt = c.width, c.height, "yuv420p"
        ctx.time_base = self.video_time_base
        ctx.gop_size = c.gop
        ctx.max_b_frames = 0
        ctx.bit_rate = c.video_bitrate
        ctx.flags |= Flags.global_header
        return stream

    def _audio_stream(self) -> Stream:
        stream = self._null.add_stream("aac", rate=SAMPLE_RATE)
        ctx = stream.codec_context
        assert isinstance(ctx, av.AudioCodecContext)
        ctx.layout = "mono"
        ctx.time_base = self.audio_time_base
        ctx.bit_rate = self.config.audio_bitrate
        ctx.flags |= Flags.global_header
        return stream

    def encode_video(self, frame: av.VideoFrame | None, tick: int, keyframe: bool) -> list[Packet]:
        """Encode the picture for ``tick`` (None flushes)."""
        ctx = self.video.codec_context
        assert isinstance(ctx, av.VideoCodecContext)
        if frame is not None:
            frame.pts = tick
            frame.time_base = self.video_time_base
            frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        packets = ctx.encode(frame)
        for packet in packets:
            packet.duration = 1
        return packets

    def encode_audio(self, frame: av.AudioFrame | None) -> list[Packet]:
        ctx = self.audio.codec_context
        assert isinstance(ctx, av.AudioCodecContext)
        return ctx.encode(frame)

    def close(self) -> None:
        self._null.close()


class Output:
    """One container fed with the encoder's packets from its first keyframe on."""

    def __init__(self, container: OutputContainer, encoder: Encoder) -> None:
        self.container = container
        self.config = encoder.config
        self._video = container.add_stream_from_template(encoder.video)
        self._audio = container.add_stream_from_template(encoder.audio)
        self._start_tick: int | None = None
        self._start_sample = 0
        self.frames = 0  # video frames written
        self.failed = False

    @property
    def started(self) -> bool:
        return self._start_tick is not None

    def describe(self) -> str:
        return str(self.container.name)

    def write_video(self, packet: Packet, tick: int) -> None:
        if self._start_tick is None:
            if not packet.is_keyframe:
                return
            self._start_tick = tick
            self._start_sample = self.config.sample_at(tick)
        pts = tick - self._start_tick
        self._mux(packet, self._video, pts, fractions.Fraction(1, self.config.fps), 1)
        self.frames = pts + 1
        self.on_video(pts, packet.is_keyframe)

    def write_audio(self, packet: Packet, sample: int) -> None:
        if self._start_tick is None or sample < self._start_sample:
            return
        pts = sample - self._start_sample
        duration = packet.duration or 0
        self._mux(packet, self._audio, pts, fractions.Fraction(1, SAMPLE_RATE), duration)

    def on_video(self, pts: int, keyframe: bool) -> None:
        """Hook for subclasses that watch the video they write."""

    def _mux(
        self, packet: Packet, stream: Stream, pts: int, time_base: fractions.Fraction, duration: int
    ) -> None:
        """Mux a packet shared with other outputs: its timing is set afresh for each."""
        packet.time_base = time_base
        packet.pts = packet.dts = pts
        packet.duration = duration
        packet.stream = stream
        self.container.mux(packet)

    def close(self) -> None:
        self.container.close()


class HlsOutput(Output):
    """``live/index.m3u8``, ``live/init.mp4`` and one-second fMP4 segments.

    A sliding window (``live_window_segments``) rather than an EVENT playlist: viewers
    reload the playlist every segment, so it must not grow for the whole session; older
    segments are deleted, as the recording keeps everything. Segments are written to a
    temporary name and renamed, so a file server never serves half a segment. Sequence
    numbers (and segment names) start from the epoch second, so a stream restarted by the
    host never reuses a name a player may have cached.
    """

    def __init__(self, live: Path, encoder: Encoder) -> None:
        c = encoder.config
        _clear(live)
        options = {
            "hls_time": f"{c.segment_seconds:g}",
            "hls_segment_type": "fmp4",
            "hls_fmp4_init_filename": "init.mp4",
            "hls_segment_filename": str(live / "seg_%d.m4s"),
            "hls_list_size": str(c.live_window_segments),
            "hls_flags": "independent_segments+temp_file+delete_segments",
            "hls_start_number_source": "epoch",
        }
        container = av.open(str(live / "index.m3u8"), "w", format="hls", container_options=options)
        super().__init__(container, encoder)
        self.segments = 0
        self._open_segment = False

    def on_video(self, pts: int, keyframe: bool) -> None:
        """Count segments as the HLS muxer cuts them: at the first keyframe at or past
        each multiple of the segment length (counted from the stream's start)."""
        boundary = (self.segments + 1) * self.config.segment_seconds * self.config.fps
        if keyframe and self._open_segment and pts >= boundary - 1e-9:
            self.segments += 1
        self._open_segment = True

    def close(self) -> None:
        super().close()
        if self._open_segment:
            self.segments += 1  # the trailer writes the last, shorter segment


class RecordingOutput(Output):
    """One part of the recording: fragmented MP4, each fragment written at a keyframe.

    ``empty_moov`` puts the header first and each one-second fragment is complete in
    itself, and ``flush_packets`` hands every write to the OS, so a killed process leaves
    a file that plays up to its last whole fragment.
    """

    def __init__(self, path: Path, encoder: Encoder) -> None:
        options = {"movflags": FRAGMENTED_MP4, "flush_packets": "1"}
        container = av.open(str(path), "w", format="mp4", container_options=options)
        super().__init__(container, encoder)
        self.path = path


def _clear(live: Path) -> None:
    """An empty ``live`` directory: a new stream starts with a new playlist."""
    if live.exists():
        shutil.rmtree(live)
    live.mkdir(parents=True)
