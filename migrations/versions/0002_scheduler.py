"""scheduler: county versions, timetables, moves, directory links

Revision ID: 0002_scheduler
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0002_scheduler"
down_revision = "0001"
branch_labels = ("scheduler",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sched_counties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("imported_by", sa.String(length=120), nullable=False),
        sa.Column("imported_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_counties")),
    )
    op.create_table(
        "sched_timetables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("placed", sa.Integer(), nullable=False),
        sa.Column("demanded", sa.Integer(), nullable=False),
        sa.Column("solve_seconds", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["county_id"], ["sched_counties.id"],
                                name=op.f("fk_sched_timetables_county_id_sched_counties"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_timetables")),
    )
    with op.batch_alter_table("sched_timetables", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sched_timetables_county_id"), ["county_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sched_timetables_state"), ["state"], unique=False)
    op.create_table(
        "sched_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("timetable_id", sa.Integer(), nullable=False),
        sa.Column("lesson_key", sa.String(length=120), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("new_date", sa.Date(), nullable=False),
        sa.Column("new_period", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["timetable_id"], ["sched_timetables.id"],
                                name=op.f("fk_sched_moves_timetable_id_sched_timetables"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_moves")),
    )
    with op.batch_alter_table("sched_moves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sched_moves_timetable_id"), ["timetable_id"], unique=False)
    op.create_table(
        "sched_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("county_ref", sa.String(length=64), nullable=False),
        sa.Column("directory_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sched_links")),
        sa.UniqueConstraint("kind", "county_ref", name="uq_sched_links_kind_ref"),
    )
    with op.batch_alter_table("sched_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sched_links_directory_id"), ["directory_id"], unique=False)


def downgrade() -> None:
    op.drop_table("sched_links")
    op.drop_table("sched_moves")
    op.drop_table("sched_timetables")
    op.drop_table("sched_counties")
