"""Supervision history for the demo: for every occurrence of the published timetable that ended before the
server started, a room that was held (or not) and the presence spans of its teacher and classrooms, as a real
lesson leaves them. Deterministic (seeded by the occurrence) and marked as demo data.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from rooms.records import PresenceRecord, RoomMember, RoomRecord
from scheduler.calendar import Occurrence
from scheduler.county import County, subject_label
from web.demo.models import DemoMark

NOT_HELD = 0.06  # share of lessons that did not take place (power cut, teacher ill)
ABSENT = 0.07  # share of remote classrooms that missed a held lesson
LATE = 0.12  # share that joined late (a quarter of the lesson)


def lesson_title(county: County, occ: Occurrence) -> str:
    teacher = next((t for t in county.teachers if t.id == occ.lesson.teacher), None)
    title = f"{subject_label(occ.lesson.subject)} {occ.lesson.grade}年级 1+{len(occ.lesson.classrooms)}"
    return f"{title} · {teacher.name}" if teacher else title


async def seed_history(
    s: AsyncSession, county: County, past: list[Occurrence], links: dict[tuple[str, str], int],
) -> int:
    """Write the rooms and presence of these past occurrences; returns how many were held."""
    held = 0
    for occ in past:
        rng = random.Random(occ.ref)
        if rng.random() < NOT_HELD:
            continue
        teacher_id = links.get(("teacher", occ.lesson.teacher))
        start = occ.start.astimezone(dt.UTC)
        end = occ.end.astimezone(dt.UTC)
        live_at = start + dt.timedelta(minutes=rng.randint(0, 3))
        room = RoomRecord(
            id=f"r-{secrets.token_hex(5)}", kind="delivery", title=lesson_title(county, occ), state="ended",
            subject=occ.lesson.subject, grade=occ.lesson.grade, host_user_id=teacher_id, timetable_ref=occ.ref,
            scheduled_start=start, scheduled_end=end, created_at=start - dt.timedelta(minutes=15),
            opened_at=start - dt.timedelta(minutes=5), live_at=live_at, ended_at=end,
        )
        s.add(room)
        await s.flush()
        s.add(DemoMark(kind="rooms", ref=room.id))
        if teacher_id is not None:
            s.add(RoomMember(room_id=room.id, role="hub_teacher", user_id=teacher_id))
            s.add(PresenceRecord(room_id=room.id, identity=f"user:{teacher_id}", role="hub_teacher", user_id=teacher_id,
                                 joined_at=start - dt.timedelta(minutes=4), left_at=end))
        for ref in occ.lesson.classrooms:
            classroom_id = links.get(("classroom", ref))
            if classroom_id is None:
                continue
            s.add(RoomMember(room_id=room.id, role="classroom", classroom_id=classroom_id))
            draw = rng.random()
            if draw < ABSENT:
                continue
            joined = start - dt.timedelta(minutes=2) if draw > ABSENT + LATE else start + (end - start) / 4
            s.add(PresenceRecord(room_id=room.id, identity=f"classroom:{classroom_id}", role="classroom",
                                 classroom_id=classroom_id, joined_at=joined, left_at=end))
        held += 1
    return held
