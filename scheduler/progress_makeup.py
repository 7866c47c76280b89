"""缺课补看: which recent lessons a classroom missed or left early, from its expected membership and the
presence records (join-to-leave spans) of the rooms."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.records import PresenceRecord, RoomMember, RoomRecord

PRESENT_SHARE = 0.8  # a classroom present for less than this share of the lesson left early


@dataclass(frozen=True, slots=True)
class Missed:
    room: RoomRecord
    reason: str  # missed | left_early
    present_share: float


async def missed_lessons(session: AsyncSession, classroom_id: int, since: dt.datetime) -> list[Missed]:
    """Ended lessons since `since` that expected this classroom, which it missed or left early."""
    rooms = (
        await session.execute(
            select(RoomRecord)
            .join(RoomMember, RoomMember.room_id == RoomRecord.id)
            .where(RoomMember.classroom_id == classroom_id, RoomRecord.ended_at.is_not(None),
                   RoomRecord.live_at.is_not(None), RoomRecord.ended_at >= since)
            .order_by(RoomRecord.ended_at.desc())
        )
    ).scalars().unique()  # fmt: skip
    out = []
    for room in rooms:
        assert room.live_at is not None and room.ended_at is not None
        spans = (
            await session.execute(
                select(PresenceRecord).where(
                    PresenceRecord.room_id == room.id, PresenceRecord.classroom_id == classroom_id
                )
            )
        ).scalars()
        length = max((room.ended_at - room.live_at).total_seconds(), 1.0)
        present = 0.0
        for p in spans:
            start, end = max(p.joined_at, room.live_at), min(p.left_at or room.ended_at, room.ended_at)
            present += max(0.0, (end - start).total_seconds())
        share = min(1.0, present / length)
        if share == 0:
            out.append(Missed(room, "missed", 0.0))
        elif share < PRESENT_SHARE:
            out.append(Missed(room, "left_early", round(share, 2)))
    return out
