"""Tables of the bulletins feature."""

from __future__ import annotations
