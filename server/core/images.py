"""Uploaded photos: sniffed by content, bounded, re-encoded (which drops EXIF and GPS)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from server.core.errors import InvalidImage

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})
MAX_SIDE = 2560


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


def clean_image(data: bytes, *, max_pixels: int, name: str = "photo") -> CleanImage:
    """Return the photo re-encoded as JPEG without metadata, or raise InvalidImage.

    The declared content type and file name are ignored: only the bytes count.
    Dimensions are checked from the header before any pixel is decoded, so an
    image bomb is refused without being expanded.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in ACCEPTED_FORMATS:
                    raise InvalidImage(f"{name} is not a JPEG, PNG, WebP, GIF or BMP image.")
                width, height = img.size
                if width < 1 or height < 1 or width * height > max_pixels:
                    raise InvalidImage(f"{name} is too large ({width}×{height} pixels).")
                img.seek(0)
                img.load()
                upright = ImageOps.exif_transpose(img)
                rgb = upright.convert("RGB")
                rgb.thumbnail((MAX_SIDE, MAX_SIDE))
                out = io.BytesIO()
                rgb.save(out, format="JPEG", quality=85, optimize=True)
                return CleanImage(out.getvalue(), rgb.width, rgb.height)
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage(f"{name} is too large to open.") from None
    except UnidentifiedImageError:
        raise InvalidImage(f"{name} is not a readable image.") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise InvalidImage(f"{name} is damaged or not an image.") from None
