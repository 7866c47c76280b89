"""The timetable through the platform: import, solve, publish, rooms ahead of lessons, planned vs held."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from icalendar import Calendar
from sqlalchemy import select

from core.directory import Classroom, User
from rooms.records import PresenceRecord, RoomMember, RoomRecord
from scheduler.calendar import TZ, occurrences
from scheduler.county import County
from scheduler.store import links
from scheduler.timetable import Timetable
from tests.conftest import PASSWORD, Server, login, start_server
from web.keys import DB
from web.lesson_rooms import create_due_rooms
from web.passwords import hash_password

JSON = {"Content-Type": "application/json"}  # state-changing requests carry JSON (CSRF guard)


@pytest.fixture
async def server(tmp_path: Path, db_url: str) -> AsyncIterator[Server]:
    """The platform on SQLite and on PostgreSQL (the scheduler's migration runs on both)."""
    srv, runner = await start_server(tmp_path, database_url=db_url)
    pw = hash_password(PASSWORD)
    async with srv.app[DB].session() as s:
        s.add_all([
            User(username="coord", display_name="李主任", password_hash=pw, role="coordinator"),
            User(username="t-eng", display_name="李英", password_hash=pw, role="teacher"),
        ])
        await s.commit()
    try:
        yield srv
    finally:
        await runner.cleanup()


async def _solved_and_published(server: Server, http: aiohttp.ClientSession, small_dict: dict) -> dict:
    async with http.post(f"{server.url}/api/scheduler/county", data=json.dumps(small_dict), headers=JSON) as r:
        assert r.status == 200, await r.text()
    async with http.post(f"{server.url}/api/scheduler/solve", json={}) as r:
        assert r.status == 202
        job = await r.json()
    async with asyncio.timeout(60):
        while job["state"] == "running":
            await asyncio.sleep(0.1)
            async with http.get(f"{server.url}/api/scheduler/solve/{job['id']}") as r:
                job = await r.json()
    assert job["state"] == "done" and job["done"] == job["parts"] >= 1
    async with http.get(f"{server.url}/api/scheduler/timetable") as r:
        timetable = await r.json()
    async with http.post(f"{server.url}/api/scheduler/timetable/publish") as r:
        assert r.status == 200, await r.text()
    return timetable


async def test_import_errors_by_row_then_solve_and_move_with_live_validation(server: Server, small_dict: dict) -> None:
    http = await login(server, "coord")
    try:
        bad = json.loads(json.dumps(small_dict))
        bad["teachers"][1]["max_per_day"] = -1
        async with http.post(f"{server.url}/api/scheduler/county", data=json.dumps(bad), headers=JSON) as r:
            assert r.status == 422
            problems = (await r.json())["problems"]
        assert problems == [{"file": "county.json", "row": 2, "field": "teachers.1.max_per_day",
                             "message": "数值太小（≥ 0）"}]
        async with http.get(f"{server.url}/api/scheduler/county") as r:
            assert r.status == 404          # nothing half-imported
        timetable = await _solved_and_published(server, http, small_dict)
        assert timetable["placed"] == timetable["demanded"] == 20 and timetable["violations"] == []
        lesson = next(ls for ls in timetable["lessons"] if ls["teacher"] == "t-eng")
        # the coordinator drags Li Ying's lesson to Wednesday, when she cannot teach
        async with http.post(f"{server.url}/api/scheduler/timetable/move",
                             json={"lesson_key": lesson["key"], "weekday": 3, "period": lesson["period"]}) as r:
            check = await r.json()
        assert not check["ok"] and "teacher-unavailable" in {v["code"] for v in check["violations"]}
        async with http.get(f"{server.url}/api/scheduler/ical", params={"classroom": lesson["classrooms"][0]}) as r:
            assert r.status == 200 and r.content_type == "text/calendar"
            events = Calendar.from_ical(await r.read()).walk("VEVENT")
        assert lesson["key"] in {str(ev["x-sanke-lesson"]) for ev in events}
    finally:
        await http.close()


async def test_rooms_on_the_right_dates_and_planned_vs_held_from_presence(server: Server, small_dict: dict) -> None:
    # Li Ying teaches only on Thursdays and Fridays: her grade-3 English 1+3 runs on a Friday
    small_dict["teachers"][0]["unavailable"] = [{"weekday": d} for d in ("mon", "tue", "wed")]
    http = await login(server, "coord")
    try:
        await _solved_and_published(server, http, small_dict)
        async with http.get(f"{server.url}/api/scheduler/timetable?published=1") as r:
            published = await r.json()
    finally:
        await http.close()
    county = County.model_validate(small_dict)
    tt = Timetable.from_json(published)
    friday = next(ls for ls in tt.lessons if ls.weekday == 5 and ls.teacher == "t-eng" and ls.grade == 3)
    occ = {o.ref: o for o in occurrences(county, tt)}
    db = server.app[DB]

    def at(day: dt.date) -> dt.datetime:
        start = next(o for o in occ.values() if o.lesson_key == friday.key and o.date == dt.date(2026, 9, 18)).start
        return dt.datetime.combine(day, start.timetz()) - dt.timedelta(minutes=10)

    assert await create_due_rooms(db, at(dt.date(2026, 9, 25))) == []            # 中秋节: no lessons
    made = await create_due_rooms(db, at(dt.date(2026, 9, 27)))                  # Sunday runs Friday's timetable
    assert f"{friday.key}/2026-09-27" in made
    assert await create_due_rooms(db, at(dt.date(2026, 9, 27))) == []            # never twice
    early = at(dt.date(2026, 9, 18)) - dt.timedelta(minutes=10)                  # 20 min ahead: not yet
    assert f"{friday.key}/2026-09-18" not in await create_due_rooms(db, early)
    assert f"{friday.key}/2026-09-18" in await create_due_rooms(db, at(dt.date(2026, 9, 18)))

    ref = f"{friday.key}/2026-09-27"
    async with db.session() as s:
        link = await links(s)

    def link_of(county_ref: str) -> int:
        return link[("classroom", county_ref)]

    async with db.session() as s:
        room = (await s.execute(select(RoomRecord).where(RoomRecord.timetable_ref == ref))).scalar_one()
        members = list((await s.execute(select(RoomMember).where(RoomMember.room_id == room.id))).scalars())
        teacher = (await s.execute(select(User).where(User.username == "t-eng"))).scalar_one()
        assert room.host_user_id == teacher.id and room.kind == "delivery"
        assert room.scheduled_start == occ[ref].start
        classroom_ids = sorted(m.classroom_id for m in members if m.role == "classroom")
        assert [m.classroom_id for m in members if m.role == "hub_classroom"] == [link_of("h1-3")]
        assert len(classroom_ids) == len(friday.classrooms) >= 2
        start = occ[ref].start.astimezone(dt.UTC)
        room.live_at, room.ended_at, room.state = start, start + dt.timedelta(minutes=40), "ended"
        # the first classroom stays 30 of 40 minutes, the second only 10
        s.add(PresenceRecord(room_id=room.id, identity="c1", role="classroom", classroom_id=classroom_ids[0],
                             joined_at=start - dt.timedelta(minutes=2), left_at=start + dt.timedelta(minutes=30)))
        s.add(PresenceRecord(room_id=room.id, identity="c2", role="classroom", classroom_id=classroom_ids[1],
                             joined_at=start + dt.timedelta(minutes=25), left_at=start + dt.timedelta(minutes=35)))
        await s.commit()

    http = await login(server, "coord")
    try:
        async with http.get(f"{server.url}/api/scheduler/supervision") as r:
            lines = {(ln["group"], ln["key"]): ln for ln in (await r.json())["lines"]}
        async with http.get(f"{server.url}/api/scheduler/supervision?format=csv") as r:
            csv_text = (await r.read()).decode("utf-8-sig")
    finally:
        await http.close()
    by_directory = {link[("classroom", c)]: c for c in friday.classrooms}
    first, second = by_directory[classroom_ids[0]], by_directory[classroom_ids[1]]
    planned_first = sum(1 for o in occ.values() if first in o.lesson.classrooms)
    assert lines[("classroom", first)]["planned"] == planned_first
    assert lines[("classroom", first)]["held"] == 1
    assert lines[("classroom", second)]["held"] == 0
    assert lines[("teacher", "t-eng")]["held"] == 1
    assert lines[("week", "2026-W39")]["held"] == 1
    assert "开课比" in csv_text.splitlines()[0]
    # Li Ying's home page lists the make-up Sunday's lesson with its room
    http = await login(server, "t-eng")
    try:
        async with http.get(f"{server.url}/api/scheduler/today", params={"date": "2026-09-27"}) as r:
            today = await r.json()
        async with http.get(f"{server.url}/api/scheduler/today", params={"date": "27/09/2026"}) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "date"
    finally:
        await http.close()
    mine = next(ls for ls in today["lessons"] if ls["ref"] == ref)
    assert mine["kind"] == "makeup" and mine["room_id"] == room.id and mine["classrooms"] == len(friday.classrooms)
    # a classroom PC, not logged in, lists its own lessons by its join code
    async with db.session() as s:
        code = (await s.get(Classroom, classroom_ids[0])).join_code
    async with aiohttp.ClientSession() as anon:
        async with anon.get(f"{server.url}/api/scheduler/today", params={"code": code, "date": "2026-09-27"}) as r:
            assert r.status == 200
            assert ref in {ls["ref"] for ls in (await r.json())["lessons"]}
        async with anon.get(f"{server.url}/api/scheduler/today", params={"code": "NOPE2345"}) as r:
            assert r.status == 404 and (await r.json())["error"]["field"] == "code"
    assert dt.datetime.now(TZ).date() > dt.date(2026, 10, 31)  # the whole test term lies in the past


async def test_csv_templates_upload_over_http(server: Server, small_dict: dict) -> None:
    from scheduler.templates import county_to_tables

    async with aiohttp.ClientSession() as anon:
        async with anon.get(f"{server.url}/api/scheduler/templates/teachers.csv") as r:
            assert r.status == 200
            assert (await r.read()).decode("utf-8-sig").splitlines()[0].startswith("id,name,school,subject,grades")
    tables = county_to_tables(County.model_validate(small_dict))
    tables["demand.csv"] = tables["demand.csv"].replace("r3-6,music,1", "r3-6,music,x")
    http = await login(server, "coord")
    try:
        form = aiohttp.FormData()
        form.add_field("encoding", "gb18030")  # as Excel in China saves CSV, declared by the coordinator
        for name, text in tables.items():
            form.add_field("files", text.encode("gb18030"), filename=name, content_type="text/csv")
        async with http.post(f"{server.url}/api/scheduler/county", data=form) as r:
            assert r.status == 422
            problems = (await r.json())["problems"]
        row = next(n for n, line in enumerate(tables["demand.csv"].splitlines(), start=1) if "music,x" in line)
        assert row == 10  # the header is row 1, as the spreadsheet shows it
        assert [(p["file"], p["row"], p["field"]) for p in problems] == [("demand.csv", row, "per_week")]
    finally:
        await http.close()
