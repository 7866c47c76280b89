"""Presence spans survive a crash: every few seconds the node stamps `seen_at` on the open spans of the
participants connected to it; at start, spans a dead process left open are closed at that stamp (the crash
time, give or take one beat), not at the restart; a graceful stop closes its rooms' spans at once.

One UPDATE per room per beat, whatever the room's size. Rooms hosted by another live node (several nodes
on one database) are left to that node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime

from sqlalchemy import func, select, update

from core.db import Database, utcnow
from rooms.records import PresenceRecord
from rooms.service import RoomService

log = logging.getLogger(__name__)
BEAT = 3.0  # seconds between stamps: the most a span closed after a crash can miss


class PresenceBeat:
    def __init__(self, rooms: RoomService, db: Database, interval: float = BEAT) -> None:
        self.rooms = rooms
        self.db = db
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def recover(self) -> int:
        """Close the spans a previous process left open (call at start, before anyone joins). Returns how
        many were closed."""
        async with self.db.session() as s:
            open_rooms = set((await s.execute(
                select(PresenceRecord.room_id).where(PresenceRecord.left_at.is_(None)).distinct()
            )).scalars())
        orphaned = [r for r in open_rooms if not await self._hosted_elsewhere(r)]
        if not orphaned:
            return 0
        async with self.db.session() as s:
            result = await s.execute(
                update(PresenceRecord)
                .where(PresenceRecord.room_id.in_(orphaned), PresenceRecord.left_at.is_(None))
                .values(left_at=func.coalesce(PresenceRecord.seen_at, PresenceRecord.joined_at))
                .execution_options(synchronize_session=False)
            )
            await s.commit()
        closed = int(getattr(result, "rowcount", 0) or 0)
        log.info("closed %d presence span(s) left open by a stopped process, at their last beat", closed)
        return closed

    async def _hosted_elsewhere(self, room_id: str) -> bool:
        owner = await self.rooms.bus.get(f"room-node:{room_id}")
        if owner in (None, self.rooms.node_id):
            return False
        return await self.rooms.bus.get(f"node-alive:{owner}") is not None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="presence-beat")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("presence beat failed; retrying")

    async def beat(self, at: datetime | None = None) -> None:
        """Stamp the open spans of everyone connected to this node's rooms."""
        at = at or utcnow()
        present = {
            room_id: [pid for pid, p in room.participants.items() if p.connected]
            for room_id, room in list(self.rooms.rooms.items())
        }
        present = {r: ids for r, ids in present.items() if ids}
        if not present:
            return
        async with self.db.session() as s:
            for room_id, ids in present.items():
                await s.execute(
                    update(PresenceRecord)
                    .where(PresenceRecord.room_id == room_id, PresenceRecord.identity.in_(ids),
                           PresenceRecord.left_at.is_(None))
                    .values(seen_at=at)
                    .execution_options(synchronize_session=False)
                )
            await s.commit()

    async def stop(self) -> None:
        """A graceful stop: the spans of this node's rooms end now (whoever comes back gets a new one)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        at = time.time()
        for room_id in list(self.rooms.rooms):
            with contextlib.suppress(Exception):
                await self.rooms.store.close_open_presence(room_id, at)

