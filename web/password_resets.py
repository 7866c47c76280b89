"""One-time password resets: the coordinator hands a teacher a link (or reads out its code); it works once,
within a day, and only its hash is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Database, UTCDateTime, utcnow
from core.directory import User
from core.errors import SankeError

VALID = dt.timedelta(hours=24)
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class ResetError(SankeError):
    """A reset code that is unknown, used or too old."""


class PasswordReset(Base):
    __tablename__ = "password_resets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


async def issue(db: Database, user_id: int, by: str) -> str:
    """A new 12-character code (printed as XXXX-XXXX-XXXX); earlier unused codes of the user stop working."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(12))
    async with db.session() as s:
        for old in (await s.execute(select(PasswordReset).where(
                PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None)))).scalars():
            old.used_at = utcnow()
        s.add(PasswordReset(user_id=user_id, code_hash=_hash(code), created_by=by, expires_at=utcnow() + VALID))
        await s.commit()
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


async def redeem(db: Database, code: str, password_hash: str) -> User:
    async with db.session() as s:
        row = (await s.execute(select(PasswordReset).where(PasswordReset.code_hash == _hash(code)))).scalar_one_or_none()
        if row is None or row.used_at is not None or row.expires_at < utcnow():
            raise ResetError("bad_reset_code", "this reset code is unknown, used or expired; ask for a new one", "code")
        user = await s.get(User, row.user_id)
        if user is None or not user.active:
            raise ResetError("bad_reset_code", "this account is not active", "code")
        row.used_at = utcnow()
        user.password_hash = password_hash
        await s.commit()
        return user
