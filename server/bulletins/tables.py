"""Tables of the bulletins feature: one row per quarter and version.

A row is never updated: a correction is a new version beside it, with its reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, UTCDateTime


class QuarterlyBulletin(Base):
    """The city's 季通报 for one local quarter: the snapshot published then."""

    __tablename__ = "quarterly_bulletins"
    # Two admins publishing the same quarter at once: the second insert fails here.
    __table_args__ = (UniqueConstraint("quarter", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quarter: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-Qn, local
    version: Mapped[int] = mapped_column(Integer)
    # Everything the pages and exports show, as computed: it never changes once written.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Why this version replaced the one before; empty for version 1.
    reason: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The administrator who published it (never shown).
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
