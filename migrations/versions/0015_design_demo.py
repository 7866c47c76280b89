"""design: demo_marks, the rows the living demo county seeded (demo data, marked as such)

Revision ID: 0015_design_demo
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_design_demo"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demo_marks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_demo_marks_kind", "demo_marks", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_demo_marks_kind", "demo_marks")
    op.drop_table("demo_marks")
