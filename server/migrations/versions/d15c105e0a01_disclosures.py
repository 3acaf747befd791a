"""monthly disclosures

Revision ID: d15c105e0a01
Revises: 701c67ca8ca7
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import server.core.db  # noqa: F401

revision: str = "d15c105e0a01"
down_revision: str | None = "701c67ca8ca7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
