"""Who may see and join what: the classroom PC's lesson, a teacher's pairings, hidden watching, downloads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.db import utcnow
from core.directory import Classroom, School
from recorder.composite import MP4_NAME
from recorder.index import RecordingIndex, TrackEntry, save_index
from recorder.models import Resource
from rooms.records import RoomRecord
from rooms.roles import RoomKind
from rooms.store import RoomSpec, create_room
from tests.conftest import County, Server, login
from web.api.directory import new_join_code
from web.api.library import LIBRARY
from web.keys import DB

pytestmark = pytest.mark.parametrize("server", ["inprocess"], indirect=True)


async def _join(server: Server, code: str) -> dict:
    async with aiohttp.ClientSession() as pc:
        async with pc.post(f"{server.url}/api/classroom/join", json={"code": code}) as r:
            assert r.status == 200, await r.text()
            return await r.json()


async def test_classroom_joins_live_then_open_then_next_scheduled(server: Server, county: County) -> None:
    db, c1 = server.app[DB], county.classroom_ids["c1"]
    now = utcnow()
    async with db.session() as s:
        ids = {}
        for name, state, start in (("soon", "scheduled", now + dt.timedelta(minutes=20)),
                                   ("later", "scheduled", now + dt.timedelta(hours=3)),
                                   ("open", "open", now + dt.timedelta(hours=5)),
                                   ("live", "live", now + dt.timedelta(hours=6))):
            room = await create_room(s, RoomSpec(kind=RoomKind.DELIVERY, title=name, remote_classroom_ids=[c1],
                                                 scheduled_start=start))
            room.state = state
            ids[name] = room.id
        seeded = await s.get(RoomRecord, county.room_id)
        assert seeded is not None
        seeded.state = "ended"  # the fixture's own room (no start time) is out of the way
        await s.commit()
    for expected in ("live", "open", "soon", "later"):
        assert (await _join(server, county.codes["c1"]))["room"]["id"] == ids[expected], expected
        async with db.session() as s:
            done = await s.get(RoomRecord, ids[expected])
            assert done is not None
            done.state = "ended"
            await s.commit()


async def test_teacher_pairs_only_her_schools_classrooms(server: Server, county: County) -> None:
    async with server.app[DB].session() as s:
        other_hub = School(name="实验小学", kind="hub")
        s.add(other_hub)
        await s.flush()
        foreign = Classroom(school_id=other_hub.id, name="五年级", grade=5, join_code=new_join_code())
        s.add(foreign)
        await s.commit()
    teacher, coord = await login(server, "wang"), await login(server, "coord")
    try:
        body = {"kind": "delivery", "title": "英语", "remote_classroom_ids": [county.classroom_ids["c1"], foreign.id]}
        async with teacher.post(f"{server.url}/api/rooms", json=body) as r:
            err = (await r.json())["error"]
            assert r.status == 403 and err["code"] == "not_paired" and err["field"] == "remote_classroom_ids"
        async with teacher.post(f"{server.url}/api/rooms", json={**body, "remote_classroom_ids": [
                county.classroom_ids["c1"], county.classroom_ids["c2"]]}) as r:
            assert r.status == 201  # remote schools (no pairings imported: every remote school)
        async with coord.post(f"{server.url}/api/rooms", json={**body, "host_user_id": county.user_ids["wang"]}) as r:
            assert r.status == 201  # a coordinator may pair any classroom
    finally:
        await teacher.close()
        await coord.close()


async def test_hidden_tokens_only_for_staff_and_every_hidden_join_audited(server: Server, county: County) -> None:
    url = f"{server.url}/api/rooms/{county.room_id}/token"
    users = {name: await login(server, name) for name in ("zhao", "chen", "coord", "wang")}
    try:
        async with users["zhao"].post(url) as r:  # a teacher of the school, not in this lesson
            assert r.status == 403 and (await r.json())["error"]["code"] == "forbidden"
        for name, role in (("chen", "observer"), ("coord", "coordinator")):
            async with users[name].post(url) as r:
                body = await r.json()
                assert r.status == 200 and body["role"] == role and body["grants"]["hidden"] is True
        async with users["wang"].post(url) as r:  # the host joins visibly: not audited as hidden
            assert (await r.json())["grants"]["hidden"] is False
        async with server.app[DB].session() as s:
            rows = list((await s.execute(
                select(AuditEntry).where(AuditEntry.action == "room.hidden_join").order_by(AuditEntry.id)
            )).scalars())
        assert [(a.actor, a.target) for a in rows] == [("chen", county.room_id), ("coord", county.room_id)]
        assert all(a.at is not None for a in rows)
    finally:
        for http in users.values():
            await http.close()


async def _resource_with_files(server: Server, county: County, tmp: Path) -> int:
    root: Path = server.app[LIBRARY].root
    directory = root / "rec-sec"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MP4_NAME).write_bytes(b"\0\0\0\x18ftypmp42" + b"\0" * 100)
    (directory / "cam.webm").write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 100)
    save_index(directory, RecordingIndex(recording_id="rec-sec", room_id=county.room_id, started_at=utcnow().isoformat(),
                                         duration=1.0, markers=[], tracks=[TrackEntry(
                                             track_id="t", participant_id="p", kind="video", source="camera",
                                             codec="VP8", file="cam.webm", start_offset=0, duration=1.0)]))
    async with server.app[DB].session() as s:
        async with s.begin():
            hub = (await s.execute(select(School).where(School.kind == "hub"))).scalar_one()
            r = Resource(recording_id="rec-sec", room_id=county.room_id, title="英语 Unit 3", school_id=hub.id,
                         teacher_user_id=county.user_ids["wang"], teacher_name="王老师", status="published",
                         scope="county")
            s.add(r)
        return r.id


async def test_downloads_obey_the_download_grant_on_every_route(server: Server, county: County, tmp_path: Path) -> None:
    rid = await _resource_with_files(server, county, tmp_path)
    base = f"{server.url}/api/library/resources/{rid}"
    observer, teacher = await login(server, "chen"), await login(server, "zhao")
    try:
        async with observer.get(base) as r:
            media = (await r.json())["resource"]["media"]
            assert media["mp4"] is False and media["mp4_for_download_only"] is True  # the page plays tracks
        async with observer.get(f"{base}/media/cam.webm") as r:
            assert r.status == 200  # view grant: the tracks play
        for path in ("/media/lesson.mp4", "/download"):
            async with observer.get(f"{base}{path}", headers={"Range": "bytes=0-9"}) as r:
                assert r.status == 403, path  # no download grant: the MP4 by no route
        for path in ("/media/lesson.mp4", "/download"):
            async with teacher.get(f"{base}{path}") as r:
                assert r.status == 200 and (await r.read())[4:8] == b"ftyp", path
        async with aiohttp.ClientSession() as anon:
            async with anon.get(f"{base}/media/cam.webm") as r:
                assert r.status == 404  # county scope: not even its existence for the public
        async with server.app[DB].session() as s:
            rows = list((await s.execute(select(AuditEntry).where(AuditEntry.action.like("library.%"))
                                         .order_by(AuditEntry.id))).scalars())
        assert [(a.actor, a.action) for a in rows] == [
            ("chen", "library.play"), ("zhao", "library.download"), ("zhao", "library.download")]
    finally:
        await observer.close()
        await teacher.close()
