"""school: plans of hand-made rooms (purpose, audience, watch link)

Revision ID: 0016_school_rooms
Revises: 0015_school_evaluation
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_school_rooms"
down_revision = "0015_school_evaluation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_plans",
        sa.Column("room_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("link_key", sa.String(length=40), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_room_plans_room_id_rooms"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_room_plans")),
    )


def downgrade() -> None:
    op.drop_table("room_plans")
