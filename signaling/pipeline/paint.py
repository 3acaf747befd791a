"""Text and flat colour as ready-made yuv420p patches: labels, the caption bar, avatars.

Pillow draws text slowly (a label is a millisecond or more), so each patch is drawn once
per change of its text or size and kept; a frame only copies cached planes onto the
canvas. Patches go through libswscale once, like the video tiles, so their colours match
the tiles' (BT.601, limited range).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from signaling.pipeline.layout import even

log = logging.getLogger(__name__)

Plane = npt.NDArray[np.uint8]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)

SLATE: RGB = (22, 26, 34)
TILE: RGB = (44, 50, 60)
LABEL: RGB = (12, 14, 20)
CAPTION: RGB = (14, 50, 110)
NAME_INK: RGB = (255, 255, 255)
ROLE_INK: RGB = (190, 204, 222)
AVATAR: RGB = (70, 104, 160)
_CACHE_SIZE = 256  # patches kept; captions come and go, so the cache must forget


def yuv(rgb: RGB) -> tuple[int, int, int]:
    """BT.601 limited range, as libswscale converts rgb24 to yuv420p by default."""
    r, g, b = rgb
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return round(y), round(u), round(v)


def find_font(configured: Path | None) -> tuple[Path | None, int]:
    """A font with Chinese glyphs, and the face to use in a collection (Simplified Chinese).

    Without one, labels fall back to Pillow's built-in font, which draws Chinese as boxes:
    logged, because the livestream would then show unreadable names.
    """
    paths = [configured] if configured else [Path(p) for p in FONT_CANDIDATES]
    for path in paths:
        if path is not None and path.is_file():
            return path, _simplified_chinese_face(path)
    log.warning("no CJK font found (tried %s); labels will not show Chinese", paths)
    return None, 0


def _simplified_chinese_face(path: Path) -> int:
    """In a .ttc collection (Noto CJK holds JP, KR, SC, TC...), the SC face's index."""
    for index in range(16):
        try:
            family, _ = ImageFont.truetype(str(path), 12, index=index).getname()
        except OSError:
            break
        if family and " SC" in family:
            return index
    return 0


@dataclass(frozen=True, slots=True)
class Patch:
    """An opaque picture in yuv420p planes, pasted onto the canvas by copying."""

    y: Plane
    u: Plane
    v: Plane

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])


def to_patch(image: Image.Image) -> Patch:
    """An RGB image (even size) through libswscale into separate planes."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    return Patch(*planes(frame))


def planes(frame: av.VideoFrame) -> tuple[Plane, Plane, Plane]:
    """A yuv420p frame's planes as arrays (views on the frame's memory, no copy)."""
    out = []
    for index, plane in enumerate(frame.planes):
        rows = frame.height if index == 0 else frame.height // 2
        cols = frame.width if index == 0 else frame.width // 2
        data = np.frombuffer(memoryview(plane), dtype=np.uint8)
        out.append(data[: rows * plane.line_size].reshape(rows, plane.line_size)[:, :cols])
    return out[0], out[1], out[2]


class Painter:
    """Draws and caches the text patches. Used by the compose thread only."""

    def __init__(self, font_path: Path | None) -> None:
        self._font_path, self._face = find_font(font_path)
        self._fonts: dict[int, Font] = {}
        self._patches: OrderedDict[tuple[object, ...], Patch] = OrderedDict()
        self.renders = 0  # how many patches were drawn: the cache test watches it

    def label(self, name: str, role: str, max_width: int, height: int) -> Patch:
        """A participant's name (large) and role (smaller) on a dark box."""
        return self._cached(("label", name, role, max_width, height), self._draw_label)

    def caption(self, text: str, width: int, height: int) -> Patch:
        """The agenda topic across the bottom of the picture."""
        return self._cached(("caption", text, width, height), self._draw_caption)

    def avatar(self, name: str, size: int) -> Patch:
        """The first character of a name in a disc: who a tile is waiting for."""
        return self._cached(("avatar", name, size), self._draw_avatar)

    def _cached(self, key: tuple[object, ...], draw: Callable[..., Image.Image]) -> Patch:
        patch = self._patches.get(key)
        if patch is not None:
            self._patches.move_to_end(key)
            return patch
        patch = to_patch(draw(*key[1:]))
        self.renders += 1
        self._patches[key] = patch
        if len(self._patches) > _CACHE_SIZE:
            self._patches.popitem(last=False)
        return patch

    def font(self, size: int) -> Font:
        font = self._fonts.get(size)
        if font is None:
            if self._font_path is None:
                font = ImageFont.load_default(size=size)
            else:
                font = ImageFont.truetype(str(self._font_path), size, index=self._face)
            self._fonts[size] = font
        return font

    def _draw_label(self, name: str, role: str, max_width: int, height: int) -> Image.Image:
        pad = max(4, height // 4)
        big, small = self.font(even(height * 0.62)), self.font(even(height * 0.46))
        name = _ellipsize(name, big, max_width - 2 * pad)
        name_w = _text_width(name, big)
        room = max_width - 2 * pad - name_w - pad
        role = _ellipsize(role, small, room) if role and room > height else ""
        width = name_w + 2 * pad + (pad + _text_width(role, small) if role else 0)
        image = Image.new("RGB", (min(max_width, even(width + 1)), height), LABEL)
        draw = ImageDraw.Draw(image)
        draw.text((pad, height // 2), name, font=big, fill=NAME_INK, anchor="lm")
        if role:
            draw.text((pad * 2 + name_w, height // 2), role, font=small, fill=ROLE_INK, anchor="lm")
        return image

    def _draw_caption(self, text: str, width: int, height: int) -> Image.Image:
        image = Image.new("RGB", (width, height), CAPTION)
        pad = max(6, height // 3)
        font = self.font(even(height * 0.52))
        text = _ellipsize(text, font, width - 2 * pad)
        ImageDraw.Draw(image).text((pad, height // 2), text, font=font, fill=NAME_INK, anchor="lm")
        return image

    def _draw_avatar(self, name: str, size: int) -> Image.Image:
        image = Image.new("RGB", (size, size), TILE)
        draw = ImageDraw.Draw(image)
        draw.ellipse((0, 0, size - 1, size - 1), fill=AVATAR)
        initial = name.strip()[:1] or "?"
        font = self.font(even(size * 0.5))
        draw.text((size // 2, size // 2), initial, font=font, fill=NAME_INK, anchor="mm")
        return image


def _text_width(text: str, font: Font) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def _ellipsize(text: str, font: Font, width: int) -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` pixels."""
    if _text_width(text, font) <= width:
        return text
    while text and _text_width(text + "…", font) > width:
        text = text[:-1]
    return text + "…" if text else ""
