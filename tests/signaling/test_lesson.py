"""A 1+3 delivery lesson over real WebSockets, on the in-process bus and on Redis."""

from __future__ import annotations

import asyncio

import aiohttp
from sqlalchemy import select

from core.audit import AuditEntry
from rooms.records import PresenceRecord, RoomRecord
from tests.conftest import County, Server, classroom_token, connect, login, user_token
from web.keys import DB


async def test_delivery_lesson_1_plus_3(server: Server, county: County) -> None:
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    classrooms = [await connect(server, await classroom_token(server, county.codes[f"c{i}"])) for i in (1, 2, 3)]
    everyone = [teacher, *classrooms]

    # The teacher sees the three classrooms join, with their school names.
    joined = [await teacher.next("participant.joined") for _ in classrooms]
    assert sorted(j["participant"]["school"] for j in joined) == ["村小1", "村小2", "村小3"]
    assert all(j["participant"]["role"] == "classroom" for j in joined)

    await teacher.send({"type": "room.start", "id": "s"})
    await teacher.next("ok", id="s")
    for c in classrooms:
        assert (await c.next("room.state"))["state"] == "live"

    # Classroom 2 raises its hand; the teacher sees the queue.
    c2 = classrooms[1]
    await c2.send({"type": "hand.raise", "id": 7})
    await c2.next("ok", id=7)
    raised = await teacher.next("hand.raised")
    assert raised["participant_id"] == c2.participant_id and raised["hands"] == [c2.participant_id]

    # The teacher brings it on stage; every participant sees the stage change.
    await teacher.send({"type": "stage.invite", "participant_id": c2.participant_id, "id": "inv"})
    await teacher.next("ok", id="inv")
    for p in everyone:
        change = await p.next("stage.changed")
        assert change["stage"] == [c2.participant_id] and change["hands"] == []

    # Classroom 2 drops and resumes within the grace period: same identity, same seat.
    await c2.ws.close()
    await c2.http.close()
    dropped = await teacher.next("participant.disconnected")
    assert dropped["participant"]["id"] == c2.participant_id
    back = await connect(server)
    await back.send({"type": "resume", "room": county.room_id, "participant_id": c2.participant_id,
                     "resume_token": c2.resume_token, "id": "r"})
    resumed = await back.next("joined", id="r")
    assert resumed["resumed"] is True and resumed["participant_id"] == c2.participant_id
    assert resumed["room"]["stage"] == [c2.participant_id]
    assert (await teacher.next("participant.reconnected"))["participant"]["id"] == c2.participant_id
    classrooms[1] = back

    # The teacher ends the lesson: her request is answered before the end reaches her, every classroom is
    # told, and each socket is closed with 4004.
    await teacher.send({"type": "room.end", "id": "end"})
    last = await teacher.drain(3.0)
    assert [(m["type"], m.get("id")) for m in last if m["type"] in ("ok", "room.ended")] == \
        [("ok", "end"), ("room.ended", None)], last
    assert teacher.ws.close_code == 4004
    for c in classrooms:
        ended = await c.next("room.ended")
        assert ended["by"] == teacher.participant_id
        msg = await c.ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4004, msg
    for p in [teacher, *classrooms]:
        await p.close()

    async with server.app[DB].session() as s:
        room = await s.get(RoomRecord, county.room_id)
        assert room is not None and room.state == "ended"
        assert room.opened_at is not None and room.live_at is not None and room.ended_at is not None
        spans = list((await s.execute(select(PresenceRecord).where(PresenceRecord.room_id == county.room_id))).scalars())
        assert [p.role for p in spans].count("recorder") == 1  # the recorder sat in the lesson ("录制中")
        spans = [p for p in spans if p.role != "recorder"]
        assert len(spans) == 4  # the resume kept classroom 2's span: one span per participant
        assert all(p.left_at is not None for p in spans)
        actions = [a.action for a in (await s.execute(select(AuditEntry))).scalars()]
        assert "room.end" in actions


async def test_seat_is_lost_after_grace(server: Server, county: County) -> None:
    from web.keys import ROOMS

    server.app[ROOMS].resume_grace = 0.5
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    c1 = await connect(server, await classroom_token(server, county.codes["c1"]))
    await teacher.next("participant.joined")
    await c1.send({"type": "hand.raise"})
    await teacher.next("hand.raised")
    await teacher.send({"type": "stage.invite", "participant_id": c1.participant_id})
    await teacher.next("stage.changed")
    await c1.close()
    left = await teacher.next("participant.left", timeout=5)
    assert left["participant_id"] == c1.participant_id and left["reason"] == "timeout"
    assert (await teacher.next("stage.changed"))["stage"] == []
    late = await connect(server)
    await late.send({"type": "resume", "room": county.room_id, "participant_id": c1.participant_id,
                     "resume_token": c1.resume_token})
    err = await late.next("error")
    assert err["code"] == "resume_failed" and err["field"] == "resume_token"
    await late.close()
    await teacher.close()


async def test_observer_is_hidden_from_classrooms(server: Server, county: County) -> None:
    c1 = await connect(server, await classroom_token(server, county.codes["c1"]))
    observer = await connect(server, await user_token(server, "chen", county.room_id))
    coordinator = await connect(server, await user_token(server, "coord", county.room_id))
    seen_by_coordinator = await coordinator.drain(0.3)
    events = await c1.drain(0.5)
    assert not [e for e in events if e.get("type") == "participant.joined"], events
    # Hidden participants see each other, and both see the classroom.
    joined_snapshot = coordinator.seen[0]["room"]["participants"]
    assert {p["id"] for p in joined_snapshot} >= {c1.participant_id, observer.participant_id}
    assert seen_by_coordinator is not None
    http = await login(server, "coord")
    async with http.get(f"{server.url}/api/rooms?state=open,live") as r:
        listed = (await r.json())["rooms"][0]
    await http.close()
    assert [p["id"] for p in listed["present"]] == [c1.participant_id]
    for p in (c1, observer, coordinator):
        await p.close()


async def test_replaced_connection_keeps_the_seat(server: Server, county: County) -> None:
    token = await classroom_token(server, county.codes["c1"])
    first = await connect(server, token)
    second = await connect(server, token)
    await asyncio.sleep(0.1)
    msg = await first.ws.receive()
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4009, msg
    assert second.participant_id == first.participant_id
    await second.send({"type": "ping", "id": "p"})
    assert (await second.next("pong"))["id"] == "p"
    await first.http.close()
    await second.close()


async def test_teacher_removes_a_classroom(server: Server, county: County) -> None:
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    c1 = await connect(server, await classroom_token(server, county.codes["c1"]))
    c2 = await connect(server, await classroom_token(server, county.codes["c2"]))
    await teacher.send({"type": "participant.remove", "participant_id": c1.participant_id, "id": "rm"})
    await teacher.next("ok", id="rm")
    assert (await c1.next("removed"))["by"] == teacher.participant_id
    msg = await c1.ws.receive()
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4003
    left = await teacher.next("participant.left")
    assert (left["participant_id"], left["reason"]) == (c1.participant_id, "removed")
    # Another classroom is not told of every classroom's comings and goings (1+N fan-out stays linear).
    about_others = [e for e in await c2.drain(0.3)
                    if e["type"].startswith(("participant.", "hand.")) and e.get("about") != c2.participant_id]
    assert not about_others
    async with server.app[DB].session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == "participant.remove"))).scalar_one()
        assert entry.actor == teacher.participant_id and entry.target == f"{county.room_id}/{c1.participant_id}"
    for c in (teacher, c2):
        await c.close()
    await c1.http.close()
