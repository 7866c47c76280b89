"""foundation

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "schools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("county", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schools")),
        sa.UniqueConstraint("name", name=op.f("uq_schools_name")),
    )
    op.create_table(
        "classrooms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("students", sa.Integer(), nullable=False),
        sa.Column("join_code", sa.String(length=16), nullable=False),
        sa.Column("code_rotated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_classrooms_school_id_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classrooms")),
        sa.UniqueConstraint("join_code", name=op.f("uq_classrooms_join_code")),
    )
    with op.batch_alter_table("classrooms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_classrooms_school_id"), ["school_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_users_school_id_schools"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "rooms",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("host_user_id", sa.Integer(), nullable=True),
        sa.Column("record", sa.Boolean(), nullable=False),
        sa.Column("stage_seats", sa.Integer(), nullable=False),
        sa.Column("timetable_ref", sa.String(length=80), nullable=True),
        sa.Column("scheduled_start", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scheduled_end", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("live_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["host_user_id"], ["users.id"], name=op.f("fk_rooms_host_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
    )
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rooms_scheduled_start"), ["scheduled_start"], unique=False)
        batch_op.create_index(batch_op.f("ix_rooms_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_rooms_timetable_ref"), ["timetable_ref"], unique=False)

    op.create_table(
        "presence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=40), nullable=False),
        sa.Column("identity", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("classroom_id", sa.Integer(), nullable=True),
        sa.Column("joined_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_presence_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence")),
    )
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_presence_classroom_id"), ["classroom_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_presence_room_id"), ["room_id"], unique=False)

    op.create_table(
        "room_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("classroom_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["classroom_id"],
            ["classrooms.id"],
            name=op.f("fk_room_members_classroom_id_classrooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_members_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_members")),
    )
    with op.batch_alter_table("room_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_members_classroom_id"), ["classroom_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_room_members_room_id"), ["room_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("room_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_members_room_id"))
        batch_op.drop_index(batch_op.f("ix_room_members_classroom_id"))

    op.drop_table("room_members")
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_presence_room_id"))
        batch_op.drop_index(batch_op.f("ix_presence_classroom_id"))

    op.drop_table("presence")
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rooms_timetable_ref"))
        batch_op.drop_index(batch_op.f("ix_rooms_state"))
        batch_op.drop_index(batch_op.f("ix_rooms_scheduled_start"))

    op.drop_table("rooms")
    op.drop_table("users")
    with op.batch_alter_table("classrooms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_classrooms_school_id"))

    op.drop_table("classrooms")
    op.drop_table("schools")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
