"""Who is in a lesson is seen by the schools taking part and by the county, nobody else (rooms.visibility).

The fixture's 1+3 delivery lesson is hosted by 城关一小 (wang) with a classroom of each of 村小1-3. Added: a
teacher of 村小1 (her classroom is in the lesson), a teacher of another hub school (in nothing), a viewer, and
a broadcast hosted by wang with 村小2's classroom, live with that classroom present.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from core.directory import Classroom, School, User
from rooms.roles import RoomKind
from rooms.store import RoomSpec, create_room
from tests.conftest import County, Server, connect, login, password_hash
from web.keys import DB

pytestmark = pytest.mark.parametrize("server", ["inprocess"], indirect=True)


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as r:
        return r.status, await r.json()


async def test_members_and_presence_only_for_the_schools_in_the_lesson_and_the_county(
    server: Server, county: County
) -> None:
    db = server.app[DB]
    async with db.session() as s:
        other = School(name="城关二小", kind="hub")
        s.add(other)
        await s.flush()
        classroom = await s.get(Classroom, county.classroom_ids["c1"])
        assert classroom is not None
        s.add_all([
            User(username="liu", display_name="刘老师", password_hash=password_hash(), role="teacher",
                 school_id=classroom.school_id),
            User(username="sun", display_name="孙老师", password_hash=password_hash(), role="teacher",
                 school_id=other.id),
            User(username="guest", display_name="访客", password_hash=password_hash(), role="viewer"),
        ])
        broadcast = await create_room(s, RoomSpec(
            kind=RoomKind.BROADCAST, title="名校课", host_user_id=county.user_ids["wang"],
            remote_classroom_ids=[county.classroom_ids["c2"]]))
        await s.commit()
    async with aiohttp.ClientSession() as pc:
        async with pc.post(f"{server.url}/api/classroom/join", json={"code": county.codes["c2"], "room": broadcast.id}) as r:
            assert r.status == 200, await r.text()
            c2 = await connect(server, (await r.json())["token"])  # opens the broadcast, present in it
    delivery = county.room_id
    sessions = {u: await login(server, u) for u in ("coord", "chen", "wang", "zhao", "liu", "sun", "guest")}
    try:
        for who, http in sessions.items():
            status, body = await _get(http, f"{server.url}/api/rooms")
            assert status == 200
            rows = {r["id"]: r for r in body["rooms"]}
            full = who in ("coord", "chen", "wang", "zhao", "liu")  # the county, the host's school, 村小1
            assert (delivery in rows) == full, (who, list(rows))
            if full:
                classrooms = {m["classroom_id"] for m in rows[delivery]["members"] if m["classroom_id"]}
                assert classrooms == set(county.classroom_ids.values())
            b = rows[broadcast.id]  # a broadcast is open to anyone: listed for all
            sees_who = who in ("coord", "chen", "wang", "zhao")  # 村小2's broadcast; 村小1's teacher not in it
            assert ("members" in b) == sees_who and ("present" in b) == sees_who, (who, b)
            if sees_who:
                assert [p["id"] for p in b["present"]] == [c2.participant_id]

            status, one = await _get(http, f"{server.url}/api/rooms/{delivery}")
            assert status == (200 if full else 404), (who, status)
            if full:
                assert {m["classroom_id"] for m in one["room"]["members"]} >= set(county.classroom_ids.values())
            status, _ = await _get(http, f"{server.url}/api/progress/rooms/{delivery}")  # the lesson's 本节
            assert status == (200 if full else 404), (who, status)
            status, one = await _get(http, f"{server.url}/api/rooms/{broadcast.id}")
            assert status == 200
            assert ("members" in one["room"]) == sees_who and ("live" in one["room"]) == sees_who, (who, one)
        status, _ = await _get(sessions["sun"], f"{server.url}/api/rooms/no-such-room")
        assert status == 404  # the same answer as a room one may not see
    finally:
        for http in sessions.values():
            await http.close()
        await c2.close()
