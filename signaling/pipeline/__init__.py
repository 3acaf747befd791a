"""The livestream and the recording: one composition, one encode, two outputs.

Participants' decoded frames (aiortc decodes each input once anyway) are composed into
one picture (``compose``, ``layout``, ``paint``) and their sound mixed into one track
(``audio``) on a dedicated thread (``engine``), encoded once with libx264 and AAC
(``encode``), and the same packets muxed into an HLS livestream and a crash-safe recording
(``recording``), which ``finalise_recording`` turns into one MP4 with chapters.
See docs/media-pipeline.md.
"""

from signaling.pipeline.layout import Layout
from signaling.pipeline.media import MediaPipeline
from signaling.pipeline.model import Chapter, PipelineConfig, RecordingInfo
from signaling.pipeline.recording import finalise_recording, probe_recording

__all__ = [
    "Chapter",
    "Layout",
    "MediaPipeline",
    "PipelineConfig",
    "RecordingInfo",
    "finalise_recording",
    "probe_recording",
]
