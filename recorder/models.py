"""The resource library's tables: textbook catalogue, knowledge points, resources and their review steps.

Trees (the textbook axes, knowledge points) keep a materialised `path` ("/3/17/42/") so that "everything
under this chapter" is one indexed prefix query on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow

# The national textbook axes, top to bottom (学段 → 年级 → 学科 → 版本 → 册次 → 章 → 节).
TEXTBOOK_LEVELS = ("stage", "grade", "subject", "edition", "volume", "chapter", "section")


class TextbookNode(Base):
    __tablename__ = "lib_textbook_nodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # stable key from the data file
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("lib_textbook_nodes.id", ondelete="CASCADE"), nullable=True, index=True
    )
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(String(400), default="", index=True)
    knowledge: Mapped[str] = mapped_column(Text, default="[]")  # knowledge-point identifiers it teaches


class KnowledgeFramework(Base):
    """One knowledge-point tree: a 学段 + 学科 (a CASE CFDocument)."""

    __tablename__ = "lib_knowledge_frameworks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(40), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KnowledgePoint(Base):
    __tablename__ = "lib_knowledge_points"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    framework_id: Mapped[int] = mapped_column(
        ForeignKey("lib_knowledge_frameworks.id", ondelete="CASCADE"), index=True
    )
    identifier: Mapped[str] = mapped_column(String(120), unique=True)
    code: Mapped[str] = mapped_column(String(40), default="")
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    item_type: Mapped[str] = mapped_column(String(40), default="")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("lib_knowledge_points.id", ondelete="SET NULL"), nullable=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(String(400), default="", index=True)


class KnowledgeAssociation(Base):
    """A CASE-style association between two points: isChildOf, precedes or isRelatedTo."""

    __tablename__ = "lib_knowledge_associations"
    __table_args__ = (UniqueConstraint("origin_id", "destination_id", "type"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(16), index=True)
    origin_id: Mapped[int] = mapped_column(
        ForeignKey("lib_knowledge_points.id", ondelete="CASCADE"), index=True
    )
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("lib_knowledge_points.id", ondelete="CASCADE"), index=True
    )


class Resource(Base):
    """A library resource: a recorded lesson (with the metadata of its room and timetable entry) or a
    courseware file a teacher uploaded (课件: PDF, PPTX, DOCX, an image) filed under a textbook section."""

    __tablename__ = "lib_resources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="recording", server_default="recording", index=True)
    recording_id: Mapped[str | None] = mapped_column(String(80), unique=True, nullable=True)
    room_id: Mapped[str] = mapped_column(String(40), default="", index=True)
    room_kind: Mapped[str] = mapped_column(String(16), default="")
    timetable_ref: Mapped[str] = mapped_column(String(80), default="")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="SET NULL"), nullable=True, index=True
    )
    school_name: Mapped[str] = mapped_column(String(120), default="")
    teacher_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    teacher_name: Mapped[str] = mapped_column(String(120), default="")
    stage: Mapped[str] = mapped_column(String(16), default="", index=True)
    grade: Mapped[int] = mapped_column(Integer, default=0, index=True)
    subject: Mapped[str] = mapped_column(String(32), default="", index=True)
    lesson_date: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    classrooms: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of the classrooms that took part
    textbook_node_id: Mapped[int | None] = mapped_column(
        ForeignKey("lib_textbook_nodes.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    scope: Mapped[str] = mapped_column(String(16), default="school")
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Segmented words (recorder.segment) the full-text index reads: SQLite FTS5 `lib_resources_fts`,
    # PostgreSQL's generated `search_vector` (migration 0014); weighted title > topic > body.
    search_title: Mapped[str] = mapped_column(Text, default="", server_default="")
    search_topic: Mapped[str] = mapped_column(Text, default="", server_default="")
    search_body: Mapped[str] = mapped_column(Text, default="", server_default="")
    review_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # 0–5, set on review
    # courseware only (migration 0019): the file in Storage, what it is, and its text for search
    file_key: Mapped[str] = mapped_column(String(300), default="", server_default="")
    file_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    file_type: Mapped[str] = mapped_column(String(8), default="", server_default="")
    file_size: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # pages, slides (1 for an image)
    content_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ResourceKnowledge(Base):
    __tablename__ = "lib_resource_knowledge"
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("lib_resources.id", ondelete="CASCADE"), primary_key=True
    )
    knowledge_point_id: Mapped[int] = mapped_column(
        ForeignKey("lib_knowledge_points.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ReviewStep(Base):
    """One step of a resource's review, kept beside the audit log for the resource's own history."""

    __tablename__ = "lib_review_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("lib_resources.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(120))
    scope: Mapped[str] = mapped_column(String(16), default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
