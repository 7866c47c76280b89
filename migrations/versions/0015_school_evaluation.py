"""school: 评课 rubrics and evaluations

Revision ID: 0015_school_evaluation
Revises: 0013_school_classwork
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0015_school_evaluation"
down_revision = "0013_school_classwork"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_rubrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_rubrics")),
        sa.UniqueConstraint("kind", name=op.f("uq_eval_rubrics_kind")),
    )
    op.create_table(
        "eval_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("evaluator", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("rubric", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("moments", sa.JSON(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_eval_evaluations_room_id_rooms"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_eval_evaluations_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_evaluations")),
        sa.UniqueConstraint("room_id", "user_id", name="uq_eval_evaluations_room_user"),
    )
    op.create_index(op.f("ix_eval_evaluations_room_id"), "eval_evaluations", ["room_id"])


def downgrade() -> None:
    op.drop_table("eval_evaluations")
    op.drop_table("eval_rubrics")
