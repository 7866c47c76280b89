"""The start-up sweep of presence spans on both databases: spans a dead process left open end at their
last beat (or at the join when no beat came); a room another live node hosts is left to that node; the
beat stamps only connected participants' open spans."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.bus import InProcessBus
from core.db import Database
from core.tokens import Claims, Grants
from rooms.presence_beat import PresenceBeat
from rooms.records import PresenceRecord
from rooms.roles import RoomKind
from rooms.service import RoomService
from rooms.store import RoomSpec, RoomStore, create_room
from tests.conftest import seed_county

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


async def test_recover_closes_orphans_at_their_beat_and_leaves_live_nodes_alone(db_url: str) -> None:
    db = Database(db_url)
    try:
        await db.migrate()
        county = await seed_county(db)
        async with db.session() as s:  # a second room, hosted by another node that is alive
            other = await create_room(s, RoomSpec(kind=RoomKind.DELIVERY, title="音乐 1+1"))
            await s.commit()
        async with db.session() as s:
            s.add_all([
                PresenceRecord(room_id=county.room_id, identity="classroom:1", role="classroom", joined_at=T0,
                               seen_at=T0 + timedelta(minutes=20)),
                PresenceRecord(room_id=county.room_id, identity="user:1", role="hub_teacher", joined_at=T0),
                PresenceRecord(room_id=county.room_id, identity="classroom:2", role="classroom", joined_at=T0,
                               seen_at=T0 + timedelta(minutes=5), left_at=T0 + timedelta(minutes=6)),
                PresenceRecord(room_id=other.id, identity="classroom:3", role="classroom", joined_at=T0,
                               seen_at=T0 + timedelta(minutes=20)),
            ])
            await s.commit()
        bus = InProcessBus()
        await bus.set(f"room-node:{other.id}", "node-b")
        await bus.set("node-alive:node-b", "1", ttl=6)
        rooms = RoomService(bus, RoomStore(db), "node-a")
        assert await PresenceBeat(rooms, db).recover() == 2
        async with db.session() as s:
            ends = {p.identity: p.left_at for p in (await s.execute(select(PresenceRecord))).scalars()}
        assert ends["classroom:1"] == T0 + timedelta(minutes=20)  # its last beat
        assert ends["user:1"] == T0  # never beaten: the join is all that is known
        assert ends["classroom:2"] == T0 + timedelta(minutes=6)  # closed already: untouched
        assert ends["classroom:3"] is None  # node-b is alive and hosts it

        # the beat stamps the connected participant of a room on this node, not the one in its grace period
        claims = {pid: Claims(pid, pid, "classroom", Grants(room=county.room_id, room_join=True), 0.0, {})
                  for pid in ("classroom:7", "classroom:8")}
        for c in claims.values():
            await rooms.join(county.room_id, c)
        await asyncio.gather(*rooms._presence.values())  # the spans are written behind the joins
        await rooms.disconnect(county.room_id, "classroom:8")
        at = datetime.now(UTC).replace(microsecond=0)
        await PresenceBeat(rooms, db).beat(at)
        async with db.session() as s:
            seen = {p.identity: p.seen_at for p in (await s.execute(select(PresenceRecord).where(
                PresenceRecord.identity.in_(list(claims))))).scalars()}
        assert seen == {"classroom:7": at, "classroom:8": None}
        await rooms.close()
    finally:
        await db.close()
