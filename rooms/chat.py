"""Text messages in a lesson: classroom ↔ teacher and to everyone, rate-limited, moderated, kept.

Who may read a message: everyone for `all`; the hub side (hub teacher, hub classrooms, moderators, hidden
supervisors) and the sender for `teacher`; the addressee and the sender for a participant id.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Any

from sqlalchemy import or_, select

from core.db import Database
from core.errors import SankeError
from rooms.lesson_records import ChatRecord

RATE_COUNT = 5  # messages per participant …
RATE_WINDOW = 10.0  # … within this many seconds
HISTORY = 100


class ChatError(SankeError):
    """Refused: the code and field say why."""


def message_json(m: ChatRecord, moderator: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": m.id, "from": m.sender, "from_name": m.sender_name, "to": m.recipient,
                           "text": m.text, "at": m.sent_at.isoformat(), "deleted": m.deleted_by is not None}
    if m.deleted_by is not None and not moderator:
        out["text"] = ""
    if moderator and m.deleted_by is not None:
        out["deleted_by"] = m.deleted_by
    return out


class RateLimit:
    """A sliding window per key; in memory on the room's node (the room lives on one node)."""

    def __init__(self, count: int = RATE_COUNT, window: float = RATE_WINDOW) -> None:
        self.count = count
        self.window = window
        self._sent: dict[str, deque[float]] = defaultdict(deque)

    def take(self, key: str) -> float:
        """0 when allowed (and counted), else the seconds to wait."""
        now = time.monotonic()
        q = self._sent[key]
        while q and now - q[0] > self.window:
            q.popleft()
        if len(q) >= self.count:
            return self.window - (now - q[0])
        q.append(now)
        return 0.0

    def forget(self, prefix: str) -> None:
        for key in [k for k in self._sent if k.startswith(prefix)]:
            del self._sent[key]


class ChatStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, room_id: str, sender: str, sender_name: str, recipient: str, text: str) -> ChatRecord:
        async with self.db.session() as s:
            m = ChatRecord(room_id=room_id, sender=sender, sender_name=sender_name, recipient=recipient, text=text)
            s.add(m)
            await s.commit()
            return m

    async def delete(self, room_id: str, message_id: int, by: str) -> ChatRecord:
        async with self.db.session() as s:
            m = await s.get(ChatRecord, message_id)
            if m is None or m.room_id != room_id:
                raise ChatError("not_found", "no such message in this lesson", "message_id")
            if m.deleted_by is None:
                m.deleted_by = by
                await s.commit()
            return m

    async def visible(self, room_id: str, me: str, hub_side: bool, limit: int = HISTORY) -> list[ChatRecord]:
        """The latest messages `me` may read, oldest first."""
        q = select(ChatRecord).where(ChatRecord.room_id == room_id)
        readable = [ChatRecord.recipient == "all", ChatRecord.sender == me, ChatRecord.recipient == me]
        if hub_side:
            readable.append(ChatRecord.recipient == "teacher")
        q = q.where(or_(*readable)).order_by(ChatRecord.id.desc()).limit(limit)
        async with self.db.session() as s:
            rows = list((await s.execute(q)).scalars())
        return rows[::-1]

    async def all(self, room_id: str) -> list[ChatRecord]:
        async with self.db.session() as s:
            return list((await s.execute(select(ChatRecord).where(ChatRecord.room_id == room_id)
                                         .order_by(ChatRecord.id))).scalars())
