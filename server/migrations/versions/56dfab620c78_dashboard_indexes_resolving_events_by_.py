"""dashboard: evaluations carry their topic's region; indexes for resolving events by
time and covering topic and evaluation counts

Revision ID: 56dfab620c78
Revises: a4a2d5a00003
Create Date: 2026-11-29 07:12:23.214270
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "56dfab620c78"
down_revision: str | None = "a4a2d5a00003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region_id", sa.Integer(), nullable=True))
    # Existing evaluations take their topic's region (a topic's region never changes).
    op.execute(
        "UPDATE evaluations SET region_id = (SELECT topics.region_id FROM outcomes "
        "JOIN topics ON topics.id = outcomes.topic_id WHERE outcomes.id = evaluations.outcome_id)"
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.alter_column("region_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_evaluations_region_id_regions"), "regions", ["region_id"], ["id"]
        )
        batch_op.create_index(
            "ix_evaluations_outcome_id_verdict", ["outcome_id", "verdict"], unique=False
        )
        batch_op.create_index(
            "ix_evaluations_region_id_verdict", ["region_id", "verdict"], unique=False
        )

    with op.batch_alter_table("topic_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_topic_events_to_status_at", ["to_status", "at", "kind", "topic_id"], unique=False
        )

    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_topics_category_subject_status",
            ["category", "subject", "status", "region_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_topics_created_at_region_id", ["created_at", "region_id"], unique=False
        )
        batch_op.create_index(
            "ix_topics_region_id_status_category", ["region_id", "status", "category"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.drop_index("ix_topics_region_id_status_category")
        batch_op.drop_index("ix_topics_created_at_region_id")
        batch_op.drop_index("ix_topics_category_subject_status")

    with op.batch_alter_table("topic_events", schema=None) as batch_op:
        batch_op.drop_index("ix_topic_events_to_status_at")

    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluations_region_id_verdict")
        batch_op.drop_index("ix_evaluations_outcome_id_verdict")
        batch_op.drop_constraint(batch_op.f("fk_evaluations_region_id_regions"), type_="foreignkey")
        batch_op.drop_column("region_id")
