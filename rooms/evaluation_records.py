"""评课 records: the county's rubric per room kind, and each evaluator's scores of one lesson."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class RubricRecord(Base):
    """The county's rubric for one room kind; dimensions: [{key, name, weight, description}]."""

    __tablename__ = "eval_rubrics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    dimensions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvaluationRecord(Base):
    """One evaluator's 评课 of one lesson, with the rubric as it was (later edits do not change old scores)."""

    __tablename__ = "eval_evaluations"
    __table_args__ = (UniqueConstraint("room_id", "user_id", name="uq_eval_evaluations_room_user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    evaluator: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(32))  # observer | coteacher | teacher | coordinator
    rubric: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scores: Mapped[dict[str, int]] = mapped_column(JSON)
    notes: Mapped[dict[str, str]] = mapped_column(JSON)  # per-dimension comments
    comment: Mapped[str] = mapped_column(Text, default="")
    moments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{t: seconds into the recording, note}]
    total: Mapped[float] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
