from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from server.core.errors import InvalidImage
from server.core.images import clean_image
from tests.factories import jpeg_with_gps, png

MAX = 40_000_000


def test_jpeg_is_reencoded_without_exif_or_gps() -> None:
    raw = jpeg_with_gps()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)  # the input carries GPS
    clean = clean_image(raw, max_pixels=MAX)
    out = Image.open(io.BytesIO(clean.data))
    assert out.format == "JPEG"
    assert (clean.width, clean.height) == (64, 48)
    assert len(out.getexif()) == 0
    assert b"Exif" not in clean.data and b"PhoneMaker" not in clean.data


def test_png_becomes_jpeg() -> None:
    clean = clean_image(png(), max_pixels=MAX)
    assert Image.open(io.BytesIO(clean.data)).format == "JPEG"


def test_large_photos_are_scaled_down() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4000, 3000)).save(out, format="JPEG")
    clean = clean_image(out.getvalue(), max_pixels=MAX)
    assert max(clean.width, clean.height) == 2560


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        b"%PDF-1.4\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        jpeg_with_gps()[:200],
    ],
    ids=["empty", "text", "pdf", "svg", "truncated"],
)
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidImage):
        clean_image(data, max_pixels=MAX)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG claiming enormous dimensions: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_image_bomb_is_refused_before_decoding() -> None:
    bomb = _png_header_only(60_000, 60_000)
    assert len(bomb) < 2000
    with pytest.raises(InvalidImage, match="too large"):
        clean_image(bomb, max_pixels=MAX)
