"""What a room leaves in the database: its definition and lifecycle, expected members, and presence.

Live state (who is connected, the stage) lives in memory on the room's node; these rows are what the
timetable, attendance and supervision read afterwards.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class RoomRecord(Base):
    __tablename__ = "rooms"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="scheduled", index=True)
    subject: Mapped[str] = mapped_column(String(32), default="")
    grade: Mapped[int] = mapped_column(Integer, default=0)
    host_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    record: Mapped[bool] = mapped_column(Boolean, default=True)
    stage_seats: Mapped[int] = mapped_column(Integer, default=6)
    timetable_ref: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    scheduled_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    scheduled_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    live_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RoomMember(Base):
    """An expected participant: the hub teacher, a hub or remote classroom, a co-teacher."""

    __tablename__ = "room_members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    classroom_id: Mapped[int | None] = mapped_column(
        ForeignKey("classrooms.id", ondelete="CASCADE"), nullable=True, index=True
    )


class PresenceRecord(Base):
    """One join-to-leave span of one participant; attendance and planned-vs-held read these."""

    __tablename__ = "presence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    identity: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    classroom_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # last seen connected (stamped every few seconds by rooms.presence_beat): a crash closes the span here
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
