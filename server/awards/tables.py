"""Tables of the awards feature."""

from __future__ import annotations
