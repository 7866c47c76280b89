"""scheduler: teaching progress plans, their items and the teachers' corrections

Revision ID: 0015_progress_plan
Revises: 0014_progress_search
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0015_progress_plan"
down_revision = "0014_progress_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prog_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("teacher_ref", sa.String(length=64), nullable=False),
        sa.Column("teacher_name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("classrooms", sa.Text(), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.Column("volume_node_id", sa.Integer(), nullable=True),
        sa.Column("volume_label", sa.String(length=300), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prog_plans")),
        sa.UniqueConstraint("teacher_ref", "subject", "grade", "term_start", name="uq_prog_plans_group"),
    )
    op.create_table(
        "prog_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("chapter", sa.String(length=200), nullable=False),
        sa.Column("section", sa.String(length=200), nullable=False),
        sa.Column("knowledge", sa.Text(), nullable=False),
        sa.Column("lessons", sa.Integer(), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["prog_plans.id"], name=op.f("fk_prog_items_plan_id_prog_plans"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prog_items")),
    )
    op.create_index(op.f("ix_prog_items_plan_id"), "prog_items", ["plan_id"], unique=False)
    op.create_table(
        "prog_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("lesson_ref", sa.String(length=120), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["prog_plans.id"],
                                name=op.f("fk_prog_corrections_plan_id_prog_plans"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prog_corrections")),
        sa.UniqueConstraint("plan_id", "lesson_ref", name="uq_prog_corrections_lesson"),
    )
    op.create_index(op.f("ix_prog_corrections_plan_id"), "prog_corrections", ["plan_id"], unique=False)


def downgrade() -> None:
    op.drop_table("prog_corrections")
    op.drop_table("prog_items")
    op.drop_table("prog_plans")
