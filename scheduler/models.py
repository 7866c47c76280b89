"""The scheduler's tables: imported county data, timetables (draft → published), one-off moves, and the
links from county ids to the directory's schools, classrooms and users.

County data and timetables are stored as their JSON documents (the format of `docs/county-format.md`):
they are read and written whole, and a saved version is never changed, so a crash loses nothing saved.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class CountyVersion(Base):
    """One import of county data; the newest is the current one."""

    __tablename__ = "sched_counties"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    data: Mapped[str] = mapped_column(Text)
    imported_by: Mapped[str] = mapped_column(String(120), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TimetableVersion(Base):
    """A solved or hand-edited timetable for one county version."""

    __tablename__ = "sched_timetables"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("sched_counties.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    data: Mapped[str] = mapped_column(Text)
    placed: Mapped[int] = mapped_column(Integer, default=0)
    demanded: Mapped[int] = mapped_column(Integer, default=0)
    solve_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LessonMove(Base):
    """One occurrence of a weekly lesson held on another date or period (调课)."""

    __tablename__ = "sched_moves"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timetable_id: Mapped[int] = mapped_column(ForeignKey("sched_timetables.id", ondelete="CASCADE"), index=True)
    lesson_key: Mapped[str] = mapped_column(String(120))
    date: Mapped[date] = mapped_column(Date)
    new_date: Mapped[date] = mapped_column(Date)
    new_period: Mapped[int] = mapped_column(Integer)


class DirectoryLink(Base):
    """County id (e.g. teacher `t-eng`) → directory row (users.id, classrooms.id or schools.id)."""

    __tablename__ = "sched_links"
    __table_args__ = (UniqueConstraint("kind", "county_ref", name="uq_sched_links_kind_ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    county_ref: Mapped[str] = mapped_column(String(64))
    directory_id: Mapped[int] = mapped_column(Integer, index=True)
