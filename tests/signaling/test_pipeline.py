"""The media pipeline with real encodes and real files: the livestream and the recording come
from one composition and one encode, show and mix what was pushed, survive a SIGKILL, and
stay bounded whatever the inputs do."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from signaling.pipeline import (
    Chapter,
    MediaPipeline,
    PipelineConfig,
    finalise_recording,
    probe_recording,
)
from signaling.pipeline.audio import MAX_FRAMES
from signaling.pipeline.compose import Compositor, Tile
from signaling.pipeline.encode import Encoder
from signaling.pipeline.layout import Rect, grid_shape, plan
from signaling.pipeline.paint import Painter
from signaling.pipeline.recording import CHAPTERS, part_paths
from tests.signaling.pipeline_child import SMALL, Source, feed, moving, solid, tone

ROOT = Path(__file__).resolve().parents[2]
RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 30)

Pixels = npt.NDArray[np.uint8]


@pytest.fixture
async def pipelines(tmp_path: Path) -> AsyncIterator[Callable[..., MediaPipeline]]:
    made: list[MediaPipeline] = []

    def make(config: PipelineConfig = SMALL, name: str = "d1") -> MediaPipeline:
        pipeline = MediaPipeline(tmp_path / name, config)
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        await pipeline.close()


def on_stage(pipeline: MediaPipeline, *sources: Source) -> list[Source]:
    for s in sources:
        pipeline.add_participant(s.pid, s.name, s.role)
    return list(sources)


def pictures(path: Path) -> list[tuple[float, Pixels]]:
    """Every decoded picture of a file, with its time, as RGB."""
    with av.open(str(path)) as container:
        return [
            (float(f.time or 0.0), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)
        ]


def picture_at(path: Path, seconds: float) -> Pixels:
    return min(pictures(path), key=lambda item: abs(item[0] - seconds))[1]


def sound(path: Path) -> npt.NDArray[np.float32]:
    """The whole audio track as mono float samples at 48 kHz."""
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray()[0] for f in container.decode(audio=0)]
    return np.concatenate(chunks).astype(np.float32)


def level(samples: npt.NDArray[np.float32], hz: float) -> float:
    """The amplitude of the ``hz`` component (windowed DFT, ±5 Hz)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / 48_000)
    return float(spectrum[(freqs > hz - 5) & (freqs < hz + 5)].max())


def close_to(pixel: Pixels, rgb: tuple[int, int, int], tolerance: int = 40) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(rgb)) < tolerance))


def playlist_segments(playlist: Path) -> list[tuple[float, str]]:
    lines = playlist.read_text().splitlines()
    return [
        (float(line.split(":")[1].rstrip(",")), lines[i + 1])
        for i, line in enumerate(lines)
        if line.startswith("#EXTINF:")
    ]


# -- the whole path ----------------------------------------------------------------------------


async def test_livestream_and_recording_come_from_one_encode(
    pipelines: Callable[..., MediaPipeline], tmp_path: Path
) -> None:
    pipeline = pipelines()
    sources = on_stage(
        pipeline,
        Source("cam", "会场", "主持人 · 议事会场", moving, 440.0),
        Source("g1", "王局长", "县住建局 · 部门负责人", lambda i: moving(i + 40), 1000.0),
    )
    pipeline.set_caption("议题一：老旧小区加装电梯")
    await pipeline.start()
    await pipeline.set_live(True)
    await pipeline.set_recording(True)
    began = time.monotonic()
    pipeline.mark_chapter("开场")
    topic = asyncio.get_running_loop().create_future()

    def next_topic() -> None:
        topic.set_result(pipeline.mark_chapter("议题一：老旧小区加装电梯"))
        pipeline.set_caption("议题二：停车位")

    await feed(pipeline, sources, 2.8, at={1.4: next_topic})
    status = pipeline.status()
    assert status["live"] and status["recording"]
    assert status["segments"] >= 2
    assert status["frames_encoded"] >= 25
    info = await pipeline.close()
    pushed = time.monotonic() - began

    live = tmp_path / "d1" / "live"
    segments = playlist_segments(live / "index.m3u8")
    assert len(segments) >= 2
    assert '#EXT-X-MAP:URI="init.mp4"' in (live / "index.m3u8").read_text()
    assert all(0.5 <= seconds <= 1.5 for seconds, _ in segments[:-1]), segments
    init = (live / "init.mp4").read_bytes()
    for _, name in segments:
        assert name.endswith(".m4s")
        with av.open(io.BytesIO(init + (live / name).read_bytes())) as container:
            decoded = list(container.decode(video=0))
            assert decoded and decoded[0].key_frame
    with av.open(str(live / "index.m3u8")) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        assert sum(1 for _ in container.decode(video=0)) >= 25
    assert not list(live.glob("*.tmp"))

    assert info is not None
    assert info.path == tmp_path / "d1" / "recording.mp4"
    assert info.streams == ("video:h264", "audio:aac")
    assert abs(info.duration - pushed) < 0.5, (info.duration, pushed)
    assert [c.title for c in info.chapters] == ["开场", "议题一：老旧小区加装电梯"]
    assert info.chapters[0].start == 0
    mark: Chapter = topic.result()
    assert abs(info.chapters[1].start - mark.start) < 0.01
    assert abs(mark.start - 1.4) < 0.3
    sidecar = json.loads((tmp_path / "d1" / CHAPTERS).read_text(encoding="utf-8"))
    assert [c["title"] for c in sidecar["chapters"]] == [c.title for c in info.chapters]
    assert info == probe_recording(info.path)
    assert not part_paths(tmp_path / "d1")


async def test_grid_shows_each_input_and_the_spotlight_moves_the_big_tile(
    pipelines: Callable[..., MediaPipeline],
) -> None:
    pipeline = pipelines()
    sources = on_stage(
        pipeline,
        Source("red", "红", "甲", lambda i: solid(RED)),
        Source("blue", "蓝", "乙", lambda i: solid(BLUE)),
    )
    await pipeline.start()
    await pipeline.set_recording(True)
    await feed(pipeline, sources, 1.2)
    pipeline.set_spotlight("blue")
    await feed(pipeline, sources, 1.2)
    info = await pipeline.close()
    assert info is not None

    grid = picture_at(info.path, 0.8)
    h, w, _ = grid.shape
    assert close_to(grid[h // 2, w // 4], RED)
    assert close_to(grid[h // 2, 3 * w // 4], BLUE)
    speaker = picture_at(info.path, 2.2)
    assert close_to(speaker[h // 3, w // 2], BLUE)  # the spotlight, big, on top
    strip = speaker[h - h // 10, :]
    assert any(close_to(px, RED) for px in strip)  # the other as a thumbnail under it
    assert not any(close_to(px, RED) for px in speaker[h // 3, :])


# -- composition -------------------------------------------------------------------------------


def test_layouts_are_even_and_within_the_canvas() -> None:
    assert [grid_shape(n) for n in (1, 2, 3, 4, 5, 9)] == [
        (1, 1), (2, 1), (2, 2), (2, 2), (3, 2), (3, 3)
    ]  # fmt: skip
    area = Rect(0, 0, 1280, 660)
    ids = [f"p{i}" for i in range(12)]
    for n in range(1, 13):
        for layout in ("grid", "speaker"):
            cells = plan(layout, "p3", ids[:n], area, 4)
            assert len(cells) == min(n, 9 if layout == "grid" else 7)
            for _, r in cells:
                assert r.x % 2 == r.y % 2 == r.w % 2 == r.h % 2 == 0
                assert r.x >= 0 and r.y >= 0 and r.x + r.w <= 1280 and r.y + r.h <= 660
            if layout == "speaker" and n > 3:
                star, big = cells[0]
                assert star == "p3" and all(big.w > r.w for _, r in cells[1:])


def test_tiles_show_their_frames_whatever_the_format_and_labels_are_drawn_once() -> None:
    config = PipelineConfig(width=320, height=180)
    painter = Painter(None)
    compositor = Compositor(config, painter)
    odd = av.VideoFrame.from_ndarray(
        np.full((201, 333, 3), GREEN, dtype=np.uint8), format="rgb24"
    )  # rgb24, odd size
    tiles = [
        Tile("r", "王局长", "县住建局 · 部门负责人", solid(RED)),
        Tile("b", "李代表", "人大代表", solid(BLUE, 1280, 720)),
        Tile("g", "张专家", "专家学者", odd),
        Tile("w", "赵主任", "社区居委会", None),  # no frame yet: a placeholder
    ]
    for _ in range(5):
        picture = compositor.compose(tiles, "grid", None, "议题：停车难").to_ndarray(format="rgb24")
    renders = painter.renders
    for _ in range(20):
        picture = compositor.compose(tiles, "grid", None, "议题：停车难").to_ndarray(format="rgb24")
    assert painter.renders == renders == 6  # 4 labels, a caption, an avatar: each drawn once
    content = 180 - 16
    assert close_to(picture[content // 4, 80], RED)
    assert close_to(picture[content // 4, 240], BLUE)
    assert close_to(picture[3 * content // 4 - 10, 80], GREEN)
    assert not any(close_to(picture[3 * content // 4 - 10, 240], c) for c in (RED, BLUE, GREEN))
    assert not close_to(picture[175, 160], (22, 26, 34), tolerance=10)  # the caption bar

    compositor.compose(tiles, "grid", None, "议题：加装电梯")
    assert painter.renders == 7  # a new caption is one new patch
    slate = compositor.compose([], "grid", None, None).to_ndarray(format="rgb24")
    assert close_to(slate[90, 160], (22, 26, 34), tolerance=10)


# -- sound -------------------------------------------------------------------------------------


async def test_the_mix_has_every_voice_and_a_muted_one_drops_out(
    pipelines: Callable[..., MediaPipeline],
) -> None:
    pipeline = pipelines()
    sources = on_stage(
        pipeline,
        Source("a", "甲", "", moving, 440.0),
        Source("b", "乙", "", moving, 1320.0),
    )
    await pipeline.start()
    await pipeline.set_recording(True)
    await feed(pipeline, sources, 1.5)
    pipeline.set_muted("b", True)
    await feed(pipeline, sources, 1.5)
    info = await pipeline.close()
    assert info is not None
    samples = sound(info.path)
    both, one = samples[int(0.4 * 48_000) : int(1.3 * 48_000)], samples[-int(1.0 * 48_000) :]
    assert level(both, 1320) > 0.3 * level(both, 440) > 0
    assert level(one, 1320) < 0.02 * level(one, 440)
    assert 0.05 < np.abs(one).max() < 0.5  # two s16 tones at 6000 summed unclipped


async def test_silence_keeps_the_audio_track_continuous(
    pipelines: Callable[..., MediaPipeline],
) -> None:
    pipeline = pipelines()
    sources = on_stage(pipeline, Source("quiet", "静", "", moving))  # video, no sound
    await pipeline.start()
    await pipeline.set_recording(True)
    await feed(pipeline, sources, 1.5)
    info = await pipeline.close()
    assert info is not None
    samples = sound(info.path)
    assert abs(len(samples) / 48_000 - info.duration) < 0.1
    assert np.abs(samples).max() < 0.01


# -- crash safety ------------------------------------------------------------------------------


def test_a_killed_recording_keeps_what_came_before_and_finalises(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.signaling.pipeline_child", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"recording"
        began = time.monotonic()
        time.sleep(3.0)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    recorded = time.monotonic() - began

    [part] = part_paths(tmp_path)
    kept = pictures(part)
    assert kept[0][1].shape == (180, 320, 3)
    assert recorded - 1.0 - 0.6 <= kept[-1][0] <= recorded, (kept[-1][0], recorded)

    info = finalise_recording(tmp_path)
    assert info is not None
    assert info.streams == ("video:h264", "audio:aac")
    assert abs(info.duration - kept[-1][0]) < 0.3
    assert [c.title for c in info.chapters] == ["开场", "议题一"]
    assert abs(info.chapters[1].start - 1.0) < 0.3
    assert not part_paths(tmp_path)
    assert len(pictures(info.path)) == len(kept)
    stamp = info.path.stat().st_mtime_ns
    assert finalise_recording(tmp_path) == info  # idempotent: only probes
    assert info.path.stat().st_mtime_ns == stamp


def test_an_interrupted_finalisation_is_completed_not_repeated(tmp_path: Path) -> None:
    """Killed after the new file was complete but before the parts were removed."""
    asyncio.run(_record(tmp_path, 1.2))
    part = part_paths(tmp_path)[0]
    kept = part.read_bytes()
    info = finalise_recording(tmp_path)
    assert info is not None
    # replay the state a kill between the journal and the commit leaves
    os.replace(info.path, tmp_path / "recording.mp4.tmp")
    part.write_bytes(kept)
    (tmp_path / "recording.finalising.json").write_text(json.dumps({"consumed": [part.name]}))
    again = finalise_recording(tmp_path)
    assert again is not None and abs(again.duration - info.duration) < 0.01
    assert not part_paths(tmp_path)
    assert not (tmp_path / "recording.finalising.json").exists()


async def _record(directory: Path, seconds: float) -> None:
    """Record ``seconds`` into a working part, then stop without finalising (as a crash)."""
    pipeline = MediaPipeline(directory, SMALL)
    sources = on_stage(pipeline, Source("cam", "会场", "", moving, 440.0))
    await pipeline.start()
    await pipeline.set_recording(True)
    await feed(pipeline, sources, seconds)
    await pipeline.set_recording(False)
    engine = pipeline._engine  # stop the thread without close(), which would finalise
    assert engine is not None and pipeline._thread is not None
    await asyncio.wrap_future(engine.submit(None))
    pipeline._thread.join()


async def test_recording_paused_and_resumed_is_one_file_without_the_pause(
    pipelines: Callable[..., MediaPipeline], tmp_path: Path
) -> None:
    pipeline = pipelines()
    sources = on_stage(pipeline, Source("cam", "会场", "", moving, 440.0))
    await pipeline.start()
    await pipeline.set_recording(True)
    await feed(pipeline, sources, 1.0)
    await pipeline.set_recording(False)
    paused_at = pipeline.status()["recording_seconds"]
    await feed(pipeline, sources, 1.0)  # not recorded
    await pipeline.set_recording(True)
    mark = pipeline.mark_chapter("议题二")
    await feed(pipeline, sources, 1.0)
    assert len(part_paths(tmp_path / "d1")) == 2
    first = await pipeline.close()
    assert first is not None
    assert abs(mark.start - paused_at) < 0.15
    assert abs(first.duration - 2.0) < 0.4

    # a later run in the same directory (the server restarted) appends to the same file
    again = MediaPipeline(tmp_path / "d1", SMALL)
    on_stage(again, *sources)
    await again.start()
    assert abs(again.status()["recording_seconds"] - first.duration) < 0.01
    await again.set_recording(True)
    await feed(again, sources, 1.0)
    second = await again.close()
    assert second is not None and second.path == first.path
    assert abs(second.duration - first.duration - 1.0) < 0.4
    assert [c.title for c in second.chapters] == ["议题二"]


# -- bounded -----------------------------------------------------------------------------------


async def test_video_keeps_only_the_latest_frame_and_audio_is_bounded(
    pipelines: Callable[..., MediaPipeline],
) -> None:
    pipeline = pipelines()
    pipeline.add_participant("p", "甲", "")
    for i in range(500):
        pipeline.push_video("p", solid(GREEN if i < 499 else RED, 64, 36))
        pipeline.push_audio("p", tone(440, i * 960))
    assert pipeline.buffered("p") == (1, MAX_FRAMES)  # no loop running: nothing drained

    await pipeline.start()
    await pipeline.set_recording(True)
    await asyncio.sleep(0.6)
    info = await pipeline.close()
    assert info is not None
    picture = picture_at(info.path, 0.3)
    assert close_to(picture[90, 160], RED)  # the last frame pushed, and only it


async def test_a_slow_encode_drops_pictures_not_sound(
    pipelines: Callable[..., MediaPipeline],
) -> None:
    pipeline = pipelines()
    sources = on_stage(pipeline, Source("cam", "会场", "", moving, 440.0))
    await pipeline.start()
    engine = pipeline._engine
    assert engine is not None
    compose = engine.compositor.compose

    def slow(*args: object, **kwargs: object) -> av.VideoFrame:
        time.sleep(0.25)  # 2.5 ticks at 10 fps
        return compose(*args, **kwargs)  # type: ignore[arg-type]

    engine.compositor.compose = slow  # type: ignore[method-assign]
    await pipeline.set_recording(True)
    await feed(pipeline, sources, 2.0)
    status = pipeline.status()
    info = await pipeline.close()
    assert info is not None
    assert status["frames_dropped"] > status["frames_encoded"]
    assert abs(len(sound(info.path)) / 48_000 - info.duration) < 0.35
    assert abs(info.duration - 2.0) < 0.6


# -- bad input and odd calls -------------------------------------------------------------------


async def test_odd_input_and_odd_calls_are_harmless(
    pipelines: Callable[..., MediaPipeline], tmp_path: Path
) -> None:
    pipeline = pipelines()
    with pytest.raises(RuntimeError):
        await pipeline.set_live(True)  # not started
    await pipeline.set_live(False)  # a no-op
    pipeline.push_video("nobody", solid(RED))  # ignored: frames may trail a participant
    pipeline.push_audio("nobody", tone(440, 0))
    assert pipeline.ignored_frames == 2
    with pytest.raises(ValueError):
        pipeline.set_layout("mosaic")  # type: ignore[arg-type]
    pipeline.add_participant("p", "甲", "")
    pipeline.add_participant("q", "乙", "")
    await pipeline.start()
    await pipeline.start()  # once is enough
    await pipeline.set_live(True)
    await pipeline.set_live(True)
    pipeline.push_video("p", av.VideoFrame.from_ndarray(
        np.full((99, 177, 3), RED, dtype=np.uint8), format="rgb24"
    ))  # fmt: skip
    pipeline.push_audio("p", tone(440, 0, count=441, channels=1))  # 44.1 kHz-sized mono
    odd = tone(440, 0, count=480)
    odd.sample_rate = 24_000
    pipeline.push_audio("q", odd)
    pipeline.set_spotlight("q")
    pipeline.set_layout("grid")
    pipeline.set_muted("nobody", True)
    pipeline.remove_participant("q")
    pipeline.remove_participant("q")
    await asyncio.sleep(0.5)
    await pipeline.set_live(False)
    await pipeline.set_live(False)
    await pipeline.set_live(True)  # a new playlist
    await asyncio.sleep(0.3)
    assert pipeline.status()["failed"] is False
    assert await pipeline.close() is None  # live only: nothing recorded
    assert await pipeline.close() is None
    assert pipeline.status()["live"] is False
    await pipeline.set_live(False)
    with pytest.raises(RuntimeError):
        await pipeline.set_recording(True)
    assert (tmp_path / "d1" / "live" / "index.m3u8").read_text().endswith("#EXT-X-ENDLIST\n")


# -- the real size -----------------------------------------------------------------------------


NAMES = [
    ("会场", "主持人 · 议事会场"),
    ("王局长", "县住建局 · 部门负责人"),
    ("李代表", "人大代表"),
    ("张教授", "专家学者"),
    ("赵主任", "社区居委会"),
    ("刘书记", "街道党工委"),
    ("陈科长", "县交通运输局 · 部门负责人"),
]


async def test_real_size_with_seven_participants(
    pipelines: Callable[..., MediaPipeline],
) -> None:
    config = PipelineConfig()
    pipeline = pipelines(config)
    sources = on_stage(
        pipeline,
        *(
            Source(f"p{i}", name, role, lambda n, i=i: moving(n + 10 * i), 300.0 + 100 * i)
            for i, (name, role) in enumerate(NAMES)
        ),
    )
    pipeline.set_caption("议题三：老旧小区加装电梯的费用分摊")
    pipeline.set_spotlight("p1")
    await pipeline.start()
    await pipeline.set_live(True)
    await pipeline.set_recording(True)
    await feed(pipeline, sources, 1.6)
    status = pipeline.status()
    info = await pipeline.close()
    assert info is not None
    assert picture_at(info.path, 1.0).shape == (720, 1280, 3)
    print(f"\n1280x720, 7 participants, in the pipeline: {status}")
    print(measure_compose_and_encode(config, frames=50))


def measure_compose_and_encode(config: PipelineConfig, frames: int) -> str:
    """Per-picture compose and encode time at ``config`` with 7 changing 640×360 inputs."""
    encoder, painter = Encoder(config), Painter(config.font_path)
    compositor = Compositor(config, painter)
    inputs = [[moving(n + 10 * i) for i in range(7)] for n in range(frames + 10)]
    results = []
    for layout in ("grid", "speaker"):
        compose = encode = 0.0
        for n, row in enumerate(inputs):
            tiles = [Tile(f"p{i}", *NAMES[i], frame) for i, frame in enumerate(row)]
            t0 = time.perf_counter()
            picture = compositor.compose(tiles, layout, "p1", "议题三：老旧小区加装电梯的费用分摊")
            t1 = time.perf_counter()
            encoder.encode_video(picture, n, n % config.gop == 0)
            if n >= 10:  # past the labels' first drawing and x264's warm-up
                compose += t1 - t0
                encode += time.perf_counter() - t1
        results.append(
            f"{layout}: compose {compose / frames * 1e3:.2f} ms + "
            f"encode ({config.preset}) {encode / frames * 1e3:.2f} ms per picture"
        )
    encoder.close()
    return "; ".join(results)


async def test_a_failing_recording_does_not_stop_the_livestream(
    pipelines: Callable[..., MediaPipeline], tmp_path: Path
) -> None:
    pipeline = pipelines()
    sources = on_stage(pipeline, Source("cam", "会场", "", moving, 440.0))
    await pipeline.start()
    await pipeline.set_live(True)
    await pipeline.set_recording(True)
    await feed(pipeline, sources, 0.5)
    engine = pipeline._engine
    assert engine is not None and engine.recording is not None

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    engine.recording._mux = disk_full  # type: ignore[method-assign]
    await feed(pipeline, sources, 1.5)
    status = pipeline.status()
    assert status["output_failures"] == 1
    assert status["live"] and not status["recording"]
    assert status["failed"] is False
    frames = status["frames_encoded"]
    await asyncio.sleep(0.3)
    assert pipeline.status()["frames_encoded"] > frames  # still encoding for the livestream
    await pipeline.close()
    assert len(playlist_segments(tmp_path / "d1" / "live" / "index.m3u8")) >= 2


async def test_live_and_recording_switch_independently(
    pipelines: Callable[..., MediaPipeline], tmp_path: Path
) -> None:
    pipeline = pipelines()
    sources = on_stage(pipeline, Source("cam", "会场", "", moving, 440.0))
    await pipeline.start()
    await pipeline.set_live(True)
    await feed(pipeline, sources, 1.2)
    await pipeline.set_recording(True)  # joins an encode under way: starts on a forced keyframe
    began = time.monotonic()
    await feed(pipeline, sources, 1.2)
    await pipeline.set_live(False)
    assert pipeline.status()["segments"] >= 2
    await feed(pipeline, sources, 0.6)
    info = await pipeline.close()
    recorded = time.monotonic() - began
    assert info is not None
    assert abs(info.duration - recorded) < 0.4, (info.duration, recorded)
    with av.open(str(info.path)) as container:
        first = next(container.decode(video=0))
        assert first.key_frame and (first.time or 0.0) < 0.05
    live = tmp_path / "d1" / "live"
    assert (live / "index.m3u8").read_text().endswith("#EXT-X-ENDLIST\n")
    with av.open(str(live / "index.m3u8")) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 20
