"""school: lesson quizzes, answers, messages and headcounts

Revision ID: 0013_school_classwork
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0013_school_classwork"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lesson_quizzes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("question", sa.String(length=300), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("pushed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_lesson_quizzes_room_id_rooms"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_quizzes")),
    )
    op.create_index(op.f("ix_lesson_quizzes_room_id"), "lesson_quizzes", ["room_id"])
    op.create_table(
        "lesson_quiz_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quiz_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=120), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("classroom_id", sa.Integer(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("answered_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["quiz_id"], ["lesson_quizzes.id"],
                                name=op.f("fk_lesson_quiz_answers_quiz_id_lesson_quizzes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_quiz_answers")),
        sa.UniqueConstraint("quiz_id", "identity", name="uq_lesson_quiz_answers_quiz_identity"),
    )
    op.create_index(op.f("ix_lesson_quiz_answers_quiz_id"), "lesson_quiz_answers", ["quiz_id"])
    op.create_table(
        "lesson_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=40), nullable=False),
        sa.Column("sender", sa.String(length=120), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_by", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_lesson_messages_room_id_rooms"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_messages")),
    )
    op.create_index(op.f("ix_lesson_messages_room_id"), "lesson_messages", ["room_id"])
    op.create_table(
        "lesson_headcounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=40), nullable=False),
        sa.Column("identity", sa.String(length=120), nullable=False),
        sa.Column("classroom_id", sa.Integer(), nullable=True),
        sa.Column("present", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_lesson_headcounts_room_id_rooms"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_headcounts")),
        sa.UniqueConstraint("room_id", "identity", name="uq_lesson_headcounts_room_identity"),
    )
    op.create_index(op.f("ix_lesson_headcounts_room_id"), "lesson_headcounts", ["room_id"])
    op.create_index(op.f("ix_lesson_headcounts_classroom_id"), "lesson_headcounts", ["classroom_id"])


def downgrade() -> None:
    for table in ("lesson_headcounts", "lesson_messages", "lesson_quiz_answers", "lesson_quizzes"):
        op.drop_table(table)
