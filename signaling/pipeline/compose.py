"""One yuv420p picture from the participants' latest frames, a label on each, a caption.

The canvas is a single ``(height * 3 / 2, width)`` array holding the Y, U and V planes
back to back, the layout ``av.VideoFrame.from_ndarray`` takes for yuv420p: composing is
numpy slice assignment, and handing the picture to the encoder is one copy. Inputs are
scaled by libswscale (``VideoFrame.reformat``), straight to yuv420p whatever they came
as, and a participant's scaled picture is kept until a new frame arrives or its cell
changes, so a 15 fps camera in a 25 fps picture is scaled 15 times a second. Each
participant keeps its libswscale context (``VideoReformatter``, what ``reformat`` uses).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from signaling.pipeline.layout import Layout, Rect, even, fit, plan
from signaling.pipeline.model import PipelineConfig
from signaling.pipeline.paint import SLATE, TILE, Painter, Patch, Plane, planes, yuv

log = logging.getLogger(__name__)

BLACK = (16, 128, 128)  # yuv of letterbox bars


@dataclass(frozen=True, slots=True)
class Tile:
    """What the compositor needs of one participant for one picture."""

    id: str
    name: str
    role: str
    frame: av.VideoFrame | None


@dataclass(slots=True)
class _Scaled:
    source: av.VideoFrame
    cell: Rect
    rect: Rect
    planes: tuple[Plane, Plane, Plane]
    frame: av.VideoFrame  # owns the memory ``planes`` views


class Compositor:
    """Draws pictures; owned by the compose thread (no locking inside)."""

    def __init__(self, config: PipelineConfig, painter: Painter) -> None:
        self.width, self.height = config.width, config.height
        self.painter = painter
        w, h = self.width, self.height
        self._buffer = np.empty((h * 3 // 2, w), dtype=np.uint8)
        flat = self._buffer.reshape(-1)
        self._y = flat[: w * h].reshape(h, w)
        self._u = flat[w * h : w * h * 5 // 4].reshape(h // 2, w // 2)
        self._v = flat[w * h * 5 // 4 :].reshape(h // 2, w // 2)
        self._gap = max(2, even(w / 320))
        self._bar = max(16, even(h / 12))
        self._scaled: dict[str, _Scaled] = {}
        self._unusable: dict[str, av.VideoFrame] = {}  # a frame libswscale refused, per participant
        # one libswscale context per participant: ``frame.reformat`` would build a new one
        # for every frame (0.7 ms instead of 0.2 ms for 640×360 to a 3×3 tile)
        self._scalers: dict[str, VideoReformatter] = {}

    def compose(
        self, tiles: Sequence[Tile], layout: Layout, spotlight: str | None, caption: str | None
    ) -> av.VideoFrame:
        """The picture for one tick."""
        self._fill(Rect(0, 0, self.width, self.height), yuv(SLATE))
        area_h = self.height - self._bar if caption else self.height
        area = Rect(0, 0, self.width, area_h)
        by_id = {tile.id: tile for tile in tiles}
        placed = plan(layout, spotlight, [tile.id for tile in tiles], area, self._gap)
        for pid, cell in placed:
            self._draw_tile(by_id[pid], cell)
        shown = {pid for pid, _ in placed}
        for pid in [pid for pid in self._scaled if pid not in shown]:
            del self._scaled[pid]  # left, or moved off screen: free its picture
            self._scalers.pop(pid, None)
        for pid in [pid for pid in self._unusable if pid not in shown]:
            del self._unusable[pid]
        if caption:
            bar = self.painter.caption(caption, self.width, self._bar)
            self._paste(bar, 0, self.height - self._bar)
        return av.VideoFrame.from_ndarray(self._buffer, format="yuv420p")

    def _draw_tile(self, tile: Tile, cell: Rect) -> None:
        """The video (or a placeholder) in ``cell``, labelled at the picture's bottom left."""
        scaled = self._scale(tile.id, tile.frame, cell) if tile.frame is not None else None
        if scaled is None:
            self._fill(cell, yuv(TILE))
            size = even(min(cell.w, cell.h) * 0.45)
            if size >= 8:
                avatar = self.painter.avatar(tile.name, size)
                self._paste(
                    avatar, cell.x + even((cell.w - size) / 2), cell.y + even((cell.h - size) / 2)
                )
        else:
            self._fill(cell, BLACK)
            self._paste_planes(scaled.planes, scaled.rect.x, scaled.rect.y)
            cell = scaled.rect
        label_h = max(14, min(even(cell.h / 7), even(self.height / 18)))
        margin = even(label_h / 4)
        if cell.h >= label_h + 2 * margin and cell.w > 4 * label_h:
            label = self.painter.label(tile.name, tile.role, cell.w - 2 * margin, label_h)
            self._paste(label, cell.x + margin, cell.y + cell.h - label_h - margin)

    def _scale(self, pid: str, frame: av.VideoFrame, cell: Rect) -> _Scaled | None:
        """The frame scaled into ``cell`` (aspect kept), reused while frame and cell stay;
        None for a frame that cannot be converted (the tile shows a placeholder: one odd
        frame must not stop the livestream)."""
        cached = self._scaled.get(pid)
        if cached is not None and cached.source is frame and cached.cell == cell:
            return cached
        if self._unusable.get(pid) is frame:
            return None
        rect = fit(frame.width, frame.height, cell)
        scaler = self._scalers.setdefault(pid, VideoReformatter())
        try:
            scaled = scaler.reformat(frame, width=rect.w, height=rect.h, format="yuv420p")
        except (ValueError, av.error.FFmpegError) as exc:
            log.warning("a %s frame from %s cannot be shown: %s", frame.format.name, pid, exc)
            self._unusable[pid] = frame
            self._scalers.pop(pid, None)
            return None
        result = _Scaled(frame, cell, rect, planes(scaled), scaled)
        self._scaled[pid] = result
        return result

    def _fill(self, rect: Rect, colour: tuple[int, int, int]) -> None:
        x, y, w, h = rect.x, rect.y, rect.w, rect.h
        self._y[y : y + h, x : x + w] = colour[0]
        self._u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = colour[1]
        self._v[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = colour[2]

    def _paste(self, patch: Patch, x: int, y: int) -> None:
        self._paste_planes((patch.y, patch.u, patch.v), x, y)

    def _paste_planes(self, src: tuple[Plane, Plane, Plane], x: int, y: int) -> None:
        """Copy planes to (x, y), cut at the canvas edge."""
        w = min(int(src[0].shape[1]), self.width - x)
        h = min(int(src[0].shape[0]), self.height - y)
        if w <= 0 or h <= 0:
            return
        self._y[y : y + h, x : x + w] = src[0][:h, :w]
        cy, cx, ch, cw = y // 2, x // 2, h // 2, w // 2
        self._u[cy : cy + ch, cx : cx + cw] = src[1][:ch, :cw]
        self._v[cy : cy + ch, cx : cx + cw] = src[2][:ch, :cw]
