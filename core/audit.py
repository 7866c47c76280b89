"""The audit log of privileged actions, kept by every package that performs one."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")


def audit(session: AsyncSession, actor: str, action: str, target: str = "", **detail: Any) -> AuditEntry:
    """Add an entry to the caller's transaction, so the action and its record commit together."""
    entry = AuditEntry(actor=actor, action=action, target=target, detail=json.dumps(detail, ensure_ascii=False))
    session.add(entry)
    return entry
