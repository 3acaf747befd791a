"""awards

Revision ID: a4a2d5a00003
Revises: b0113e71a002
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.core.db

revision: str = "a4a2d5a00003"
down_revision: str | None = "b0113e71a002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "award_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("published_at", server.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["staff_users.id"],
            name=op.f("fk_award_publications_published_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_publications")),
        sa.UniqueConstraint("year", "version", name=op.f("uq_award_publications_year_version")),
    )
    op.create_index(
        op.f("ix_award_publications_year"), "award_publications", ["year"], unique=False
    )
    op.create_table(
        "award_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "closed",
                "published",
                name="award_round_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("excellent", sa.Integer(), nullable=False),
        sa.Column("best", sa.Integer(), nullable=False),
        sa.Column("opened_at", server.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("generated_at", server.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", server.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["staff_users.id"],
            name=op.f("fk_award_rounds_closed_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"],
            ["staff_users.id"],
            name=op.f("fk_award_rounds_opened_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_rounds")),
        sa.UniqueConstraint("year", name=op.f("uq_award_rounds_year")),
    )
    op.create_table(
        "award_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "room",
                "resident",
                "case",
                name="award_kind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "figures",
                "nomination",
                name="award_candidate_source",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("subject_key", sa.String(length=80), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("masked_phone", sa.String(length=16), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("composite", sa.Float(), nullable=False),
        sa.Column("nominated", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("withdrawn_at", server.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", server.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_award_candidates_room_id_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["award_rounds.id"],
            name=op.f("fk_award_candidates_round_id_award_rounds"),
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_award_candidates_topic_id_topics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_candidates")),
        sa.UniqueConstraint(
            "round_id",
            "kind",
            "subject_key",
            name=op.f("uq_award_candidates_round_id_kind_subject_key"),
        ),
    )
    op.create_index(
        op.f("ix_award_candidates_round_id"), "award_candidates", ["round_id"], unique=False
    )
    op.create_table(
        "award_reviewers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("appointed_at", server.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("appointed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointed_by_id"],
            ["staff_users.id"],
            name=op.f("fk_award_reviewers_appointed_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["award_rounds.id"], name=op.f("fk_award_reviewers_round_id_award_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_award_reviewers_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_reviewers")),
        sa.UniqueConstraint(
            "round_id", "user_id", name=op.f("uq_award_reviewers_round_id_user_id")
        ),
    )
    op.create_table(
        "award_nominations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "room",
                "resident",
                "case",
                name="award_nomination_kind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "self",
                "organisation",
                name="award_nomination_source",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "accepted",
                "declined",
                name="award_nomination_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("subject_key", sa.String(length=80), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("organisation", sa.String(length=60), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("nominated_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", server.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", server.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decline_reason", sa.String(length=500), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["award_candidates.id"],
            name=op.f("fk_award_nominations_candidate_id_award_candidates"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_users.id"],
            name=op.f("fk_award_nominations_decided_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["nominated_by_id"],
            ["staff_users.id"],
            name=op.f("fk_award_nominations_nominated_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_award_nominations_room_id_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["award_rounds.id"],
            name=op.f("fk_award_nominations_round_id_award_rounds"),
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_award_nominations_topic_id_topics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_nominations")),
        sa.UniqueConstraint(
            "round_id",
            "kind",
            "subject_key",
            name=op.f("uq_award_nominations_round_id_kind_subject_key"),
        ),
    )
    op.create_index(
        op.f("ix_award_nominations_round_id"), "award_nominations", ["round_id"], unique=False
    )
    op.create_table(
        "award_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("created_at", server.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", server.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["award_candidates.id"],
            name=op.f("fk_award_scores_candidate_id_award_candidates"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["staff_users.id"],
            name=op.f("fk_award_scores_reviewer_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_scores")),
        sa.UniqueConstraint(
            "candidate_id", "reviewer_id", name=op.f("uq_award_scores_candidate_id_reviewer_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("award_scores")
    op.drop_index(op.f("ix_award_nominations_round_id"), table_name="award_nominations")
    op.drop_table("award_nominations")
    op.drop_table("award_reviewers")
    op.drop_index(op.f("ix_award_candidates_round_id"), table_name="award_candidates")
    op.drop_table("award_candidates")
    op.drop_table("award_rounds")
    op.drop_index(op.f("ix_award_publications_year"), table_name="award_publications")
    op.drop_table("award_publications")
