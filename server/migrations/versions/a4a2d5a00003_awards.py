"""awards

Revision ID: a4a2d5a00003
Revises: b0113e71a002
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import server.core.db  # noqa: F401

revision: str = "a4a2d5a00003"
down_revision: str | None = "b0113e71a002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
