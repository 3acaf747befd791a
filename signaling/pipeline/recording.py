"""The recording's files, and turning what was recorded (or left by a crash) into one MP4.

A directory holds one deliberation's recording:

- ``recording.partNNN.mp4``: working files, fragmented MP4, one per stretch of recording
  (each time recording is switched on, or the server restarts and records again);
- ``recording.chapters.json``: the chapter marks, rewritten whole on every mark, so a
  crash keeps them;
- ``recording.mp4``: the final file, a plain MP4 with ``+faststart`` (plays at once over
  HTTP) and the chapters in it (QuickTime chapter track and Nero ``chpl``).

``finalise_recording`` appends the parts, in order and without re-encoding, to the final
file (the paused stretches in between cut out), and removes them. It survives being
killed itself: the new file is written under a temporary name, a journal naming the
consumed parts is written once it is complete, then the new file replaces the old and the
parts go; a run that finds the journal completes that last step, one that finds only the
temporary file throws it away and starts over.
"""

from __future__ import annotations

import contextlib
import fractions
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from av.container import InputContainer, OutputContainer
from av.stream import Stream

from signaling.pipeline.model import Chapter, RecordingInfo

log = logging.getLogger(__name__)

FINAL = "recording.mp4"
CHAPTERS = "recording.chapters.json"
TEMPORARY = "recording.mp4.tmp"
JOURNAL = "recording.finalising.json"
_PART = re.compile(r"^recording\.part(\d+)\.mp4$")
_CHAPTER_BASE = fractions.Fraction(1, 1000)


def _numbered_parts(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for path in directory.glob("recording.part*.mp4"):
        match = _PART.match(path.name)
        if match:
            found.append((int(match[1]), path))
    return sorted(found)


def part_paths(directory: Path) -> list[Path]:
    """The working files, oldest first."""
    return [path for _, path in _numbered_parts(directory)]


def next_part_path(directory: Path) -> Path:
    numbered = _numbered_parts(directory)
    number = numbered[-1][0] + 1 if numbered else 1
    return directory / f"recording.part{number:03d}.mp4"


def read_chapters(directory: Path) -> list[Chapter]:
    """The marks in the sidecar (none if it is missing or unreadable)."""
    try:
        data = json.loads((directory / CHAPTERS).read_text(encoding="utf-8"))
        return [Chapter(str(c["title"]), float(c["start"])) for c in data["chapters"]]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError):
        log.exception("unreadable chapter marks in %s", directory)
        return []


def write_chapters(directory: Path, chapters: Sequence[Chapter]) -> None:
    """Replace the sidecar atomically: a crash leaves the old marks or the new, never half."""
    data = {"chapters": [{"title": c.title, "start": round(c.start, 3)} for c in chapters]}
    _write_json(directory / CHAPTERS, data)


def recorded_seconds(directory: Path) -> float:
    """How long the recording in ``directory`` already is (final file plus parts)."""
    paths = [directory / FINAL] if (directory / FINAL).exists() else []
    return sum(_duration(p) for p in [*paths, *part_paths(directory)])


def probe_recording(path: Path) -> RecordingInfo:
    """What a recording file holds, read with PyAV (duration, streams, chapters)."""
    with av.open(str(path)) as container:
        duration = _container_duration(container)
        streams = tuple(
            f"{s.type}:{s.codec_context.name}"
            for s in container.streams
            if s.type in ("video", "audio") and s.codec_context is not None
        )
        chapters = tuple(
            Chapter(ch["metadata"].get("title", ""), float(ch["start"] * (ch["time_base"] or 0)))
            for ch in container.chapters()
        )
    return RecordingInfo(path, duration, streams, chapters, path.stat().st_size)


def finalise_recording(directory: Path) -> RecordingInfo | None:
    """Append the working files to ``recording.mp4`` with the chapters; probe the result.

    Idempotent: with no working file left it only probes (None if nothing was recorded).
    """
    _recover(directory)
    final = directory / FINAL
    parts = part_paths(directory)
    if parts:
        inputs = [final, *parts] if final.exists() else parts
        if _concatenate(inputs, directory / TEMPORARY, read_chapters(directory)):
            _write_json(directory / JOURNAL, {"consumed": [p.name for p in parts]})
            _commit(directory)
        else:  # nothing playable in the parts (killed before the first fragment)
            (directory / TEMPORARY).unlink(missing_ok=True)
            for part in parts:
                part.unlink()
    return probe_recording(final) if final.exists() else None


def _recover(directory: Path) -> None:
    """Finish or undo a finalisation that was interrupted."""
    if (directory / JOURNAL).exists():
        _commit(directory)
    else:
        (directory / TEMPORARY).unlink(missing_ok=True)


def _commit(directory: Path) -> None:
    journal = directory / JOURNAL
    consumed = json.loads(journal.read_text(encoding="utf-8"))["consumed"]
    if (directory / TEMPORARY).exists():
        os.replace(directory / TEMPORARY, directory / FINAL)
    for name in consumed:
        (directory / name).unlink(missing_ok=True)
    journal.unlink()


@dataclass(slots=True)
class _Source:
    """One input of the concatenation, its streams matched to the output's by kind."""

    container: InputContainer
    streams: dict[int, Stream]  # input stream index -> output stream


def _concatenate(inputs: Sequence[Path], target: Path, chapters: Sequence[Chapter]) -> bool:
    """Remux ``inputs`` one after the other into ``target``. False if none had media."""
    total = sum(_duration(p) for p in inputs)
    offset = fractions.Fraction(0)
    wrote = False
    output: OutputContainer | None = None
    try:
        for path in inputs:
            with _open_input(path) as container:
                if container is None:
                    continue
                if output is None:
                    output = _open_target(target, container, chapters, total)
                source = _Source(container, _match_streams(container, output))
                end = _copy_packets(source, output, offset)
                wrote = wrote or end > 0
                offset += end
    finally:
        if output is not None:
            output.close()
    return wrote


def _open_target(
    target: Path, first: InputContainer, chapters: Sequence[Chapter], total: float
) -> OutputContainer:
    output = av.open(str(target), "w", format="mp4", container_options={"movflags": "+faststart"})
    for stream in first.streams:
        if stream.type in ("video", "audio"):
            output.add_stream_from_template(stream)
    if chapters:
        output.set_chapters(_chapter_entries(chapters, total))
    return output


def _chapter_entries(chapters: Sequence[Chapter], total: float) -> list[av.container.Chapter]:
    """Sorted marks, each lasting until the next (the last until the end)."""
    marks = sorted(chapters, key=lambda c: c.start)
    ms = [min(round(c.start * 1000), round(total * 1000)) for c in marks]
    ends = [*ms[1:], max(round(total * 1000), ms[-1])]
    return [
        {
            "id": i + 1,
            "start": start,
            "end": end,
            "time_base": _CHAPTER_BASE,
            "metadata": {"title": c.title},
        }
        for i, (c, start, end) in enumerate(zip(marks, ms, ends, strict=True))
    ]


def _match_streams(container: InputContainer, output: OutputContainer) -> dict[int, Stream]:
    """Each input audio/video stream to the output stream of the same kind."""
    targets = {s.type: s for s in output.streams}
    return {s.index: targets[s.type] for s in container.streams if s.type in targets}


def _copy_packets(
    source: _Source, output: OutputContainer, offset: fractions.Fraction
) -> fractions.Fraction:
    """Copy one input's packets, shifted by ``offset``; returns where this input ends."""
    end = fractions.Fraction(0)
    for packet in _packets(source.container):
        target = source.streams.get(packet.stream.index)
        if target is None or packet.pts is None or packet.time_base is None:
            continue
        shift = round(offset / packet.time_base)
        end = max(end, (packet.pts + (packet.duration or 0)) * packet.time_base)
        packet.pts += shift
        packet.dts = (packet.dts if packet.dts is not None else packet.pts - shift) + shift
        packet.stream = target
        output.mux(packet)
    return end


def _packets(container: InputContainer) -> Iterator[av.Packet[Any]]:
    """Demux until the end, or until the damage a kill left at the end of a working file."""
    try:
        for packet in container.demux():
            if packet.size:
                yield packet
    except av.error.FFmpegError as exc:
        log.warning("%s: stopped reading at damaged data (%s)", container.name, exc)


@contextlib.contextmanager
def _open_input(path: Path) -> Iterator[InputContainer | None]:
    """The file opened for reading, or None (logged) if it has no readable header."""
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        log.warning("%s: unreadable, skipped (%s)", path, exc)
        yield None
        return
    with container:
        yield container


def _duration(path: Path) -> float:
    with _open_input(path) as container:
        return 0.0 if container is None else _container_duration(container)


def _container_duration(container: InputContainer) -> float:
    """The container's duration, or (a working file may not say) its last packet's end."""
    if container.duration:
        return container.duration / 1_000_000
    end = fractions.Fraction(0)
    for packet in _packets(container):
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, (packet.pts + (packet.duration or 0)) * packet.time_base)
    return float(end)


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def set_aside_unlike(directory: Path, width: int, height: int) -> Path | None:
    """Rename the directory's recording away if its picture size is not ``width×height``.

    A new recording continues the one already in its directory (parts are appended
    without re-encoding), which only works when both were encoded alike; after a change
    of configuration, the old recording is finalised and kept as ``recording-N.mp4``.
    """
    existing = [directory / FINAL] if (directory / FINAL).exists() else []
    existing += part_paths(directory)
    size = next((s for s in map(_video_size, existing) if s is not None), None)
    if size is None or size == (width, height):
        return None
    if finalise_recording(directory) is None:
        return None
    number = 1
    while (directory / f"recording-{number}.mp4").exists():
        number += 1
    target = directory / f"recording-{number}.mp4"
    os.replace(directory / FINAL, target)
    if (directory / CHAPTERS).exists():
        os.replace(directory / CHAPTERS, directory / f"recording-{number}.chapters.json")
    log.info("recording in %s was %dx%d: kept as %s", directory, *size, target.name)
    return target


def _video_size(path: Path) -> tuple[int, int] | None:
    with _open_input(path) as container:
        if container is None or not container.streams.video:
            return None
        ctx = container.streams.video[0].codec_context
        return ctx.width, ctx.height
