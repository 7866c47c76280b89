"""A county whose term runs around today, a published timetable (李英 teaches 四年级英语 to two village
classes every school day), and the rooms of the lessons already past: all held but one."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass

import pytest

from core.db import utcnow
from core.directory import Classroom, User
from recorder.catalogue import import_sample_textbooks
from recorder.knowledge import import_samples
from rooms.roles import RoomKind
from rooms.store import RoomSpec, create_room
from scheduler import store
from scheduler.calendar import TZ, Occurrence, occurrences
from scheduler.county import County
from scheduler.timetable import Lesson, Timetable
from tests.conftest import PASSWORD, start_server
from tests.scheduler.conftest import SMALL
from web.keys import DB
from web.passwords import hash_password


@dataclass
class ProgressCounty:
    server: object
    occurrences: list[Occurrence]
    rooms: dict[str, str]  # occurrence ref → room id
    cancelled: str  # the ref of the past lesson that was not held
    teacher_id: int
    classrooms: dict[str, int]  # county id → directory id
    codes: dict[str, str]  # county id → join code


def county_around(today: dt.date) -> County:
    data = copy.deepcopy(SMALL)
    monday = today - dt.timedelta(days=today.weekday())
    data["term"] = {"start": (monday - dt.timedelta(days=14)).isoformat(),
                    "end": (monday + dt.timedelta(days=60)).isoformat()}  # fmt: skip
    data["teachers"][0]["unavailable"] = []
    return County.model_validate(data)


@pytest.fixture
async def progress_county(tmp_path):
    server, runner = await start_server(tmp_path)
    try:
        yield await seed_progress_county(server)
    finally:
        await runner.cleanup()


async def seed_progress_county(server) -> ProgressCounty:
    db = server.app[DB]
    today = utcnow().astimezone(TZ).date()
    county = county_around(today)
    timetable = Timetable(lessons=[Lesson(d, 1, "t-eng", "english", 4, ("r1-3", "r2-4")) for d in range(1, 6)])
    async with db.session() as s:
        await import_sample_textbooks(s)
        await import_samples(s)
        pw = hash_password(PASSWORD)
        s.add(User(username="coord", display_name="李主任", password_hash=pw, role="coordinator"))
        row = await store.save_county(s, county, "test")
        links = await store.sync_directory(s, county)
        teacher = User(username="t-eng", display_name="李老师", password_hash=pw, role="teacher",
                       school_id=links[("school", "h1")])  # fmt: skip
        s.add(teacher)
        await s.flush()
        await store.sync_directory(s, county)
        tt = await store.save_timetable(s, row.id, timetable, 10, 0.0, "test")
        await store.publish(s, tt)
        occ = occurrences(county, timetable)
        remotes = [links[("classroom", "r1-3")], links[("classroom", "r2-4")]]
        now = utcnow()
        past = [o for o in occ if o.end <= now]
        rooms = {}
        cancelled = past[2].ref
        for o in past:
            if o.ref == cancelled:
                continue
            room = await create_room(s, RoomSpec(
                kind=RoomKind.DELIVERY, title="英语 4年级 1+2", subject="english", grade=4, host_user_id=teacher.id,
                remote_classroom_ids=remotes, scheduled_start=o.start.astimezone(dt.UTC), scheduled_end=o.end.astimezone(dt.UTC), timetable_ref=o.ref,
            ))  # fmt: skip
            room.live_at, room.ended_at, room.state = o.start.astimezone(dt.UTC), o.end.astimezone(dt.UTC), "ended"
            rooms[o.ref] = room.id
        nxt = next(o for o in occ if o.end > now)
        room = await create_room(s, RoomSpec(
            kind=RoomKind.DELIVERY, title="英语 4年级 1+2", subject="english", grade=4, host_user_id=teacher.id,
            remote_classroom_ids=remotes, scheduled_start=nxt.start.astimezone(dt.UTC), scheduled_end=nxt.end.astimezone(dt.UTC), timetable_ref=nxt.ref,
        ))  # fmt: skip
        room.state, room.opened_at = "open", now  # the next lesson's room is open: its push list shows
        rooms[nxt.ref] = room.id
        await s.commit()
        teacher_id = teacher.id
        codes = {}
        for ref in ("r1-3", "r2-4"):
            codes[ref] = (await s.get(Classroom, links[("classroom", ref)])).join_code
        classrooms = {ref: links[("classroom", ref)] for ref in ("r1-3", "r2-4")}
    return ProgressCounty(server, occ, rooms, cancelled, teacher_id, classrooms, codes)
