"""A class joining or leaving at once writes its presence spans in a few transactions, not one each,
and every span still gets its own times (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from core.db import Database
from rooms.records import PresenceRecord
from rooms.roles import RoomKind
from rooms.store import RoomSpec, RoomStore, create_room


async def test_a_burst_of_leaves_is_written_in_a_few_transactions(db_url: str) -> None:
    db = Database(db_url)
    try:
        await db.migrate()
        async with db.session() as s:
            room = await create_room(s, RoomSpec(kind=RoomKind.BROADCAST, title="名校网络课堂"))
            await s.commit()
        store = RoomStore(db)
        n, at = 300, 1_790_000_000.0
        ids = await asyncio.gather(*(store.presence_join(room.id, f"viewer:{i}", "viewer", at, None, None)
                                     for i in range(n)))
        sessions = 0
        plain = db.session

        @asynccontextmanager
        async def counted() -> AsyncIterator[Any]:
            nonlocal sessions
            sessions += 1
            async with plain() as s:
                yield s

        db.session = counted  # type: ignore[method-assign]
        await asyncio.gather(*(store.presence_leave(pid, at + 60 + i) for i, pid in enumerate(ids)))
        assert sessions <= 5, sessions  # one at first, then one per batch gathered meanwhile
        db.session = plain  # type: ignore[method-assign]
        async with db.session() as s:
            spans = {p.identity: p for p in (await s.execute(select(PresenceRecord))).scalars()}
        assert len(spans) == n
        for i in range(n):
            left = spans[f"viewer:{i}"].left_at
            assert left is not None and left.replace(tzinfo=UTC) == datetime.fromtimestamp(at + 60 + i, UTC)
    finally:
        await db.close()
