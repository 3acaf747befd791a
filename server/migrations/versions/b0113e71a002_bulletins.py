"""quarterly bulletins

Revision ID: b0113e71a002
Revises: d15c105e0a01
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.core.db

revision: str = "b0113e71a002"
down_revision: str | None = "d15c105e0a01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quarterly_bulletins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("published_at", server.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["staff_users.id"],
            name=op.f("fk_quarterly_bulletins_published_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarterly_bulletins")),
        sa.UniqueConstraint(
            "quarter", "version", name=op.f("uq_quarterly_bulletins_quarter_version")
        ),
    )
    with op.batch_alter_table("quarterly_bulletins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quarterly_bulletins_quarter"), ["quarter"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("quarterly_bulletins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarterly_bulletins_quarter"))
    op.drop_table("quarterly_bulletins")
