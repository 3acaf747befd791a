"""Tables of the disclosures feature."""

from __future__ import annotations
