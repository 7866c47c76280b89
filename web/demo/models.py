"""What the demo seeded, so that the database itself says which rows are demo data (the pages say it too)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class DemoMark(Base):
    """One seeded row: `kind` is the table ("rooms", "lib_resources", "county"), `ref` its id."""

    __tablename__ = "demo_marks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    ref: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
