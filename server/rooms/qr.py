"""一室一码: the room's QR as PNG (print resolution), SVG and terminal text."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_H


def _qr(url: str, box_size: int = 10) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_H, box_size=box_size, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    return qr


def qr_png(url: str, *, pixels: int = 1200) -> bytes:
    """About ``pixels`` wide: 1200 px prints a 10 cm square at 300 dpi."""
    probe = _qr(url)
    modules = probe.modules_count + 2 * probe.border
    qr = _qr(url, box_size=max(4, pixels // modules))
    out = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(out, format="PNG")
    return out.getvalue()


def qr_svg(url: str) -> str:
    img = _qr(url).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return img.to_string(encoding="unicode")  # type: ignore[no-any-return]


def qr_text(url: str) -> str:
    """Half-block characters for a terminal; scannable from the screen."""
    out = io.StringIO()
    _qr(url, box_size=1).print_ascii(out=out, invert=True)
    return out.getvalue()
