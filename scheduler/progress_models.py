"""Teaching progress tables: a plan per teaching group and term, its ordered items, and the teachers'
corrections of what a lesson taught. Section names are kept beside the catalogue node ids so that a plan
reads (and exports) on its own."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class ProgressPlan(Base):
    """Teaching group (hub teacher + her receiving classes) × subject × term."""

    __tablename__ = "prog_plans"
    __table_args__ = (UniqueConstraint("teacher_ref", "subject", "grade", "term_start", name="uq_prog_plans_group"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_ref: Mapped[str] = mapped_column(String(64))  # county teacher id, as timetable lesson keys use
    teacher_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(40))  # county subject key ("english")
    grade: Mapped[int] = mapped_column(Integer)
    classrooms: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of county classroom ids
    term_start: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date] = mapped_column(Date)
    volume_node_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # lib_textbook_nodes.id
    volume_label: Mapped[str] = mapped_column(String(300), default="")
    updated_by: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProgressItem(Base):
    __tablename__ = "prog_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("prog_plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[int] = mapped_column(Integer)  # lib_textbook_nodes.id of the section (or chapter)
    chapter: Mapped[str] = mapped_column(String(200))
    section: Mapped[str] = mapped_column(String(200), default="")
    knowledge: Mapped[str] = mapped_column(Text, default="[]")  # knowledge-point names
    lessons: Mapped[int] = mapped_column(Integer, default=1)
    week: Mapped[int] = mapped_column(Integer, default=1)


class ProgressCorrection(Base):
    """The teacher says this lesson taught (or teaches) another section than planned."""

    __tablename__ = "prog_corrections"
    __table_args__ = (UniqueConstraint("plan_id", "lesson_ref", name="uq_prog_corrections_lesson"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("prog_plans.id", ondelete="CASCADE"), index=True)
    lesson_ref: Mapped[str] = mapped_column(String(120))  # the occurrence's timetable_ref
    node_id: Mapped[int] = mapped_column(Integer)
    by: Mapped[str] = mapped_column(String(120), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
