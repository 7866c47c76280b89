"""school: absence reasons (缺课预警) and one-time password resets

Revision ID: 0017_school_admin
Revises: 0016_school_rooms
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0017_school_admin"
down_revision = "0016_school_rooms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "absence_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=40), nullable=False),
        sa.Column("classroom_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_absence_reasons_room_id_rooms"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["classroom_id"], ["classrooms.id"], name=op.f("fk_absence_reasons_classroom_id_classrooms"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_absence_reasons")),
        sa.UniqueConstraint("room_id", "classroom_id", name="uq_absence_reasons_room_classroom"),
    )
    op.create_index(op.f("ix_absence_reasons_room_id"), "absence_reasons", ["room_id"])
    op.create_index(op.f("ix_absence_reasons_classroom_id"), "absence_reasons", ["classroom_id"])
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_password_resets_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_password_resets_code_hash")),
    )
    op.create_index(op.f("ix_password_resets_user_id"), "password_resets", ["user_id"])


def downgrade() -> None:
    op.drop_table("password_resets")
    op.drop_table("absence_reasons")
