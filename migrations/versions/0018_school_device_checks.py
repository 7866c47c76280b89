"""school: each classroom PC's last device check (RTT, loss, uplink, camera, microphone)

Revision ID: 0018_school_device_checks
Revises: 0017_school_admin
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0018_school_device_checks"
down_revision = "0017_school_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_checks",
        sa.Column("classroom_id", sa.Integer(), nullable=False),
        sa.Column("rtt_ms", sa.Float(), nullable=False),
        sa.Column("loss", sa.Float(), nullable=False),
        sa.Column("uplink_kbps", sa.Integer(), nullable=False),
        sa.Column("camera_ok", sa.Boolean(), nullable=False),
        sa.Column("mic_ok", sa.Boolean(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["classroom_id"], ["classrooms.id"], name=op.f("fk_device_checks_classroom_id_classrooms"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("classroom_id", name=op.f("pk_device_checks")),
    )


def downgrade() -> None:
    op.drop_table("device_checks")
