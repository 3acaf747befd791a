"""monthly disclosures

Revision ID: d15c105e0a01
Revises: 701c67ca8ca7
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.core.db

revision: str = "d15c105e0a01"
down_revision: str | None = "701c67ca8ca7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monthly_disclosures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("region_name", sa.String(length=255), nullable=False),
        sa.Column("topic_count", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("published_at", server.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["staff_users.id"],
            name=op.f("fk_monthly_disclosures_published_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_monthly_disclosures_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_disclosures")),
        sa.UniqueConstraint(
            "region_id",
            "month",
            "version",
            name=op.f("uq_monthly_disclosures_region_id_month_version"),
        ),
    )
    with op.batch_alter_table("monthly_disclosures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monthly_disclosures_month_region_id", ["month", "region_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_monthly_disclosures_region_id"), ["region_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("monthly_disclosures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monthly_disclosures_region_id"))
        batch_op.drop_index("ix_monthly_disclosures_month_region_id")
    op.drop_table("monthly_disclosures")
