"""What the rooms recorded about timetabled lessons, read from the database for today's lessons and for
planned vs held (督导). The queries live here so the HTTP handlers stay thin."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.directory import Classroom
from rooms.records import PresenceRecord, RoomRecord
from scheduler import store
from scheduler.supervision import RoomFacts


async def classroom_by_code(session: AsyncSession, code: str) -> int | None:
    """Directory id of the classroom whose PC shows this join code."""
    row = (await session.execute(select(Classroom).where(Classroom.join_code == code))).scalar_one_or_none()
    return row.id if row is not None else None


async def rooms_by_ref(session: AsyncSession, refs: list[str]) -> dict[str, RoomRecord]:
    """The rooms created for these occurrences (`timetable_ref`), by ref."""
    rows = await session.execute(select(RoomRecord).where(RoomRecord.timetable_ref.in_(refs or ["-"])))
    return {r.timetable_ref: r for r in rows.scalars() if r.timetable_ref is not None}


async def room_facts(session: AsyncSession, refs: list[str]) -> dict[str, RoomFacts]:
    """Live times and classroom presence of the rooms created for these occurrences."""
    links = await store.links(session)
    classroom_ref = {directory_id: ref for (kind, ref), directory_id in links.items() if kind == "classroom"}
    rooms = list((await rooms_by_ref(session, refs)).values())
    presence: dict[str, list[PresenceRecord]] = defaultdict(list)
    if rooms:
        rows = await session.execute(select(PresenceRecord).where(PresenceRecord.room_id.in_([r.id for r in rooms])))
        for p in rows.scalars():
            presence[p.room_id].append(p)
    facts: dict[str, RoomFacts] = {}
    now = utcnow()
    for r in rooms:
        spans: dict[str, list] = defaultdict(list)
        for p in presence[r.id]:
            ref = classroom_ref.get(p.classroom_id) if p.classroom_id is not None else None
            if ref is not None:
                spans[ref].append((p.joined_at, p.left_at or r.ended_at or now))
        assert r.timetable_ref is not None
        facts[r.timetable_ref] = RoomFacts(r.live_at, r.ended_at, dict(spans))
    return facts
