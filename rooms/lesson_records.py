"""What the lesson's interaction leaves in the database: quizzes and answers, messages, headcounts.

Kept with the lesson (by room id) so that the teacher's and coordinator's pages, the CSV and the library
read them after the room has ended; the live room only holds rate-limit windows in memory.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class QuizRecord(Base):
    """One question the teacher pushed (随堂测): multiple choice or true/false."""

    __tablename__ = "lesson_quizzes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # choice | truefalse
    question: Mapped[str] = mapped_column(String(300))
    options: Mapped[list[str]] = mapped_column(JSON)
    correct: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str] = mapped_column(String(120))
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class QuizAnswerRecord(Base):
    """One classroom's answer: the counts per option entered by the assistant teacher (latest wins)."""

    __tablename__ = "lesson_quiz_answers"
    __table_args__ = (UniqueConstraint("quiz_id", "identity", name="uq_lesson_quiz_answers_quiz_identity"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("lesson_quizzes.id", ondelete="CASCADE"), index=True)
    identity: Mapped[str] = mapped_column(String(120))
    label: Mapped[str] = mapped_column(String(200))
    classroom_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    counts: Mapped[list[int]] = mapped_column(JSON)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatRecord(Base):
    """One text message in a lesson; a moderator's deletion hides it but keeps who deleted it."""

    __tablename__ = "lesson_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(120))
    sender_name: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(120))  # all | teacher | a participant id
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_by: Mapped[str | None] = mapped_column(String(120), nullable=True)


class HeadcountRecord(Base):
    """签到: the number of students a classroom's assistant teacher confirmed present (latest wins)."""

    __tablename__ = "lesson_headcounts"
    __table_args__ = (UniqueConstraint("room_id", "identity", name="uq_lesson_headcounts_room_identity"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    identity: Mapped[str] = mapped_column(String(120))
    classroom_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    present: Mapped[int] = mapped_column(Integer)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
