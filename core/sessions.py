"""Server-side login sessions: the session JWT names a row here, so logout and deactivation can revoke it.

A signed token alone cannot be taken back before it expires; a row per session can. The JWT still carries
the user id and expiry (so a forged or stale token is refused without a query), and the row decides
whether a valid-looking token is still wanted.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class LoginSession(Base):
    __tablename__ = "login_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    revoked_by: Mapped[str] = mapped_column(String(32), default="")


async def open_session(s: AsyncSession, user_id: int, ttl: int, address: str) -> LoginSession:
    row = LoginSession(id=secrets.token_hex(16), user_id=user_id, expires_at=utcnow() + timedelta(seconds=ttl),
                       address=address[:64])
    s.add(row)
    return row


async def revoke(s: AsyncSession, session_id: str, why: str) -> None:
    await s.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
                    .values(revoked_at=utcnow(), revoked_by=why))


async def revoke_user(s: AsyncSession, user_id: int, why: str) -> int:
    """Revoke every live session of a user (deactivation); returns how many were open."""
    result = await s.execute(
        update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by=why)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def is_live(s: AsyncSession, session_id: str, user_id: int) -> bool:
    row = (await s.execute(select(LoginSession).where(LoginSession.id == session_id))).scalar_one_or_none()
    return row is not None and row.user_id == user_id and row.revoked_at is None and row.expires_at > utcnow()
