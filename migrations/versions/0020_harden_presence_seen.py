"""harden: presence spans carry when their participant was last seen connected (closing them after a crash)

Revision ID: 0020_harden_presence_seen
Revises: 0004_harden_http_sessions
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0020_harden_presence_seen"
down_revision = "0004_harden_http_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seen_at", core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.drop_column("seen_at")
