"""Tables of the disclosures feature: one row per region, month and version.

A row is never updated: a correction is a new version beside it, with its reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, UTCDateTime


class MonthlyDisclosure(Base):
    """A town's or community's 月公示 for one local month: the snapshot published then."""

    __tablename__ = "monthly_disclosures"
    __table_args__ = (
        # Two processes publishing the same month: the second insert fails here.
        UniqueConstraint("region_id", "month", "version"),
        Index("ix_monthly_disclosures_month_region_id", "month", "region_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, local
    version: Mapped[int] = mapped_column(Integer)
    # The region's names from the city down when published ("清河区 · 城南街道").
    region_name: Mapped[str] = mapped_column(String(255))
    topic_count: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Everything the pages show, as generated: it never changes once written.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Why this version replaced the one before; empty for version 1.
    reason: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The staff member who asked for it (never shown); none for the scheduler and CLI.
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
