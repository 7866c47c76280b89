"""recorder: the resource library (textbook catalogue, knowledge points, resources, review)

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lib_knowledge_frameworks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("imported_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lib_knowledge_frameworks")),
        sa.UniqueConstraint("identifier", name=op.f("uq_lib_knowledge_frameworks_identifier")),
    )
    op.create_table(
        "lib_textbook_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("knowledge", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["lib_textbook_nodes.id"],
            name=op.f("fk_lib_textbook_nodes_parent_id_lib_textbook_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lib_textbook_nodes")),
        sa.UniqueConstraint("key", name=op.f("uq_lib_textbook_nodes_key")),
    )
    with op.batch_alter_table("lib_textbook_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lib_textbook_nodes_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lib_textbook_nodes_path"), ["path"], unique=False)

    op.create_table(
        "lib_knowledge_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("framework_id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=120), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("item_type", sa.String(length=40), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(
            ["framework_id"],
            ["lib_knowledge_frameworks.id"],
            name=op.f("fk_lib_knowledge_points_framework_id_lib_knowledge_frameworks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["lib_knowledge_points.id"],
            name=op.f("fk_lib_knowledge_points_parent_id_lib_knowledge_points"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lib_knowledge_points")),
        sa.UniqueConstraint("identifier", name=op.f("uq_lib_knowledge_points_identifier")),
    )
    with op.batch_alter_table("lib_knowledge_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lib_knowledge_points_framework_id"), ["framework_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_lib_knowledge_points_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lib_knowledge_points_path"), ["path"], unique=False)

    op.create_table(
        "lib_knowledge_associations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("origin_id", sa.Integer(), nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["lib_knowledge_points.id"],
            name=op.f("fk_lib_knowledge_associations_destination_id_lib_knowledge_points"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["origin_id"],
            ["lib_knowledge_points.id"],
            name=op.f("fk_lib_knowledge_associations_origin_id_lib_knowledge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lib_knowledge_associations")),
        sa.UniqueConstraint(
            "origin_id", "destination_id", "type", name=op.f("uq_lib_knowledge_associations_origin_id")
        ),
    )
    with op.batch_alter_table("lib_knowledge_associations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lib_knowledge_associations_destination_id"), ["destination_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lib_knowledge_associations_origin_id"), ["origin_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_lib_knowledge_associations_type"), ["type"], unique=False)

    op.create_table(
        "lib_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=80), nullable=True),
        sa.Column("room_id", sa.String(length=40), nullable=False),
        sa.Column("room_kind", sa.String(length=16), nullable=False),
        sa.Column("timetable_ref", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("school_name", sa.String(length=120), nullable=False),
        sa.Column("teacher_user_id", sa.Integer(), nullable=True),
        sa.Column("teacher_name", sa.String(length=120), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("lesson_date", sa.Date(), nullable=True),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("classrooms", sa.Text(), nullable=False),
        sa.Column("textbook_node_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_lib_resources_school_id_schools"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["teacher_user_id"],
            ["users.id"],
            name=op.f("fk_lib_resources_teacher_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["textbook_node_id"],
            ["lib_textbook_nodes.id"],
            name=op.f("fk_lib_resources_textbook_node_id_lib_textbook_nodes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lib_resources")),
        sa.UniqueConstraint("recording_id", name=op.f("uq_lib_resources_recording_id")),
    )
    with op.batch_alter_table("lib_resources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lib_resources_grade"), ["grade"], unique=False)
        batch_op.create_index(batch_op.f("ix_lib_resources_lesson_date"), ["lesson_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_lib_resources_room_id"), ["room_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lib_resources_school_id"), ["school_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lib_resources_stage"), ["stage"], unique=False)
        batch_op.create_index(batch_op.f("ix_lib_resources_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_lib_resources_subject"), ["subject"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_lib_resources_teacher_user_id"), ["teacher_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lib_resources_textbook_node_id"), ["textbook_node_id"], unique=False
        )

    op.create_table(
        "lib_resource_knowledge",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("knowledge_point_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["knowledge_point_id"],
            ["lib_knowledge_points.id"],
            name=op.f("fk_lib_resource_knowledge_knowledge_point_id_lib_knowledge_points"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["lib_resources.id"],
            name=op.f("fk_lib_resource_knowledge_resource_id_lib_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", "knowledge_point_id", name=op.f("pk_lib_resource_knowledge")),
    )
    with op.batch_alter_table("lib_resource_knowledge", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lib_resource_knowledge_knowledge_point_id"), ["knowledge_point_id"], unique=False
        )

    op.create_table(
        "lib_review_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["lib_resources.id"],
            name=op.f("fk_lib_review_steps_resource_id_lib_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lib_review_steps")),
    )
    with op.batch_alter_table("lib_review_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lib_review_steps_resource_id"), ["resource_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lib_review_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lib_review_steps_resource_id"))

    op.drop_table("lib_review_steps")
    with op.batch_alter_table("lib_resource_knowledge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lib_resource_knowledge_knowledge_point_id"))

    op.drop_table("lib_resource_knowledge")
    with op.batch_alter_table("lib_resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lib_resources_textbook_node_id"))
        batch_op.drop_index(batch_op.f("ix_lib_resources_teacher_user_id"))
        batch_op.drop_index(batch_op.f("ix_lib_resources_subject"))
        batch_op.drop_index(batch_op.f("ix_lib_resources_status"))
        batch_op.drop_index(batch_op.f("ix_lib_resources_stage"))
        batch_op.drop_index(batch_op.f("ix_lib_resources_school_id"))
        batch_op.drop_index(batch_op.f("ix_lib_resources_room_id"))
        batch_op.drop_index(batch_op.f("ix_lib_resources_lesson_date"))
        batch_op.drop_index(batch_op.f("ix_lib_resources_grade"))

    op.drop_table("lib_resources")
    with op.batch_alter_table("lib_knowledge_associations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lib_knowledge_associations_type"))
        batch_op.drop_index(batch_op.f("ix_lib_knowledge_associations_origin_id"))
        batch_op.drop_index(batch_op.f("ix_lib_knowledge_associations_destination_id"))

    op.drop_table("lib_knowledge_associations")
    with op.batch_alter_table("lib_knowledge_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lib_knowledge_points_path"))
        batch_op.drop_index(batch_op.f("ix_lib_knowledge_points_parent_id"))
        batch_op.drop_index(batch_op.f("ix_lib_knowledge_points_framework_id"))

    op.drop_table("lib_knowledge_points")
    with op.batch_alter_table("lib_textbook_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lib_textbook_nodes_path"))
        batch_op.drop_index(batch_op.f("ix_lib_textbook_nodes_parent_id"))

    op.drop_table("lib_textbook_nodes")
    op.drop_table("lib_knowledge_frameworks")
