"""school: courseware resources (课件) in the library beside recordings

Plain ADD COLUMNs (no table rebuild on SQLite), so the FTS5 triggers of 0014 stay as they are.

Revision ID: 0019_school_courseware
Revises: 0015_progress_plan
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_school_courseware"
down_revision = "0015_progress_plan"
branch_labels = None
depends_on = None

COLUMNS = [
    sa.Column("kind", sa.String(length=16), nullable=False, server_default="recording"),
    sa.Column("file_key", sa.String(length=300), nullable=False, server_default=""),
    sa.Column("file_name", sa.String(length=200), nullable=False, server_default=""),
    sa.Column("file_type", sa.String(length=8), nullable=False, server_default=""),
    sa.Column("file_size", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("pages", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("content_text", sa.Text(), nullable=False, server_default=""),
]


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("lib_resources", column)
    op.create_index(op.f("ix_lib_resources_kind"), "lib_resources", ["kind"])


def downgrade() -> None:
    op.drop_index(op.f("ix_lib_resources_kind"), table_name="lib_resources")
    for column in reversed(COLUMNS):
        op.drop_column("lib_resources", column.name)
