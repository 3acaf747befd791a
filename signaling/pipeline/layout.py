"""Where each participant goes on the canvas: pure geometry, no pixels.

Every coordinate and size is even, because the canvas is yuv420p: a chroma sample covers
2×2 luma pixels, and an odd edge would smear a tile's colour into its neighbour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Layout = Literal["speaker", "grid"]

MAX_GRID = 9  # 3×3; further participants are heard but not shown
MAX_THUMBNAILS = 6  # the speaker layout's strip


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


def even(value: float) -> int:
    """Round down to an even integer (never below 0)."""
    return max(0, int(value) // 2 * 2)


def fit(src_w: int, src_h: int, cell: Rect) -> Rect:
    """The largest even rectangle of the source's aspect inside ``cell``, centred."""
    scale = min(cell.w / src_w, cell.h / src_h)
    w = max(2, min(cell.w, even(src_w * scale)))
    h = max(2, min(cell.h, even(src_h * scale)))
    return Rect(cell.x + even((cell.w - w) / 2), cell.y + even((cell.h - h) / 2), w, h)


def grid_shape(n: int) -> tuple[int, int]:
    """(columns, rows): 1, 2×1, 2×2, 3×3 for up to 1, 2, 4, 9 tiles."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return cols, max(1, math.ceil(n / cols))


def grid_cells(n: int, area: Rect, gap: int) -> list[Rect]:
    """``n`` equal cells of at most 16:9, row by row, the grid centred in ``area``.

    Cameras are 16:9, so a wider or taller cell would only add black bars inside it.
    """
    cols, rows = grid_shape(n)
    cell_w = even((area.w - gap * (cols + 1)) / cols)
    cell_h = even((area.h - gap * (rows + 1)) / rows)
    cell_w, cell_h = min(cell_w, even(cell_h * 16 / 9)), min(cell_h, even(cell_w * 9 / 16))
    x0 = area.x + even((area.w - cols * cell_w - (cols - 1) * gap) / 2)
    y0 = area.y + even((area.h - rows * cell_h - (rows - 1) * gap) / 2)
    return [
        Rect(x0 + (i % cols) * (cell_w + gap), y0 + (i // cols) * (cell_h + gap), cell_w, cell_h)
        for i in range(n)
    ]


def speaker_cells(others: int, area: Rect, gap: int) -> tuple[Rect, list[Rect]]:
    """The spotlight's cell, and a bottom strip of up to six 16:9 thumbnails under it."""
    if others == 0:
        return area, []
    thumb_w = even((area.w - gap * (MAX_THUMBNAILS + 1)) / MAX_THUMBNAILS)
    thumb_h = even(thumb_w * 9 / 16)
    strip_h = thumb_h + 2 * gap
    main = Rect(area.x, area.y, area.w, even(area.h - strip_h))
    count = min(others, MAX_THUMBNAILS)
    x0 = area.x + even((area.w - count * thumb_w - (count - 1) * gap) / 2)
    y = main.y + main.h + gap
    return main, [Rect(x0 + i * (thumb_w + gap), y, thumb_w, thumb_h) for i in range(count)]


def plan(
    layout: Layout, spotlight: str | None, ids: Sequence[str], area: Rect, gap: int
) -> list[tuple[str, Rect]]:
    """Each shown participant with its cell. ``ids`` are in join order.

    The speaker layout needs someone in the spotlight: without one (or with one who has
    left) it falls back to the first participant, so the picture is never empty.
    """
    if not ids:
        return []
    if layout == "speaker":
        star = spotlight if spotlight is not None and spotlight in ids else ids[0]
        rest = [pid for pid in ids if pid != star][:MAX_THUMBNAILS]
        main, thumbs = speaker_cells(len(rest), area, gap)
        return [(star, main), *zip(rest, thumbs, strict=True)]
    shown = list(ids[:MAX_GRID])
    if spotlight is not None and spotlight in ids and spotlight not in shown:
        shown[-1] = spotlight
    return list(zip(shown, grid_cells(len(shown), area, gap), strict=True))
