"""Deactivating an account closes its live connections: a teacher already in a lesson is put out with 4005,
her seat is taken back (no resume), and the classrooms in the lesson stay connected."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.conftest import County, Server, classroom_token, connect, login, user_token


async def test_deactivated_teacher_is_closed_out_of_her_lesson(server: Server, county: County) -> None:
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    classroom = await connect(server, await classroom_token(server, county.codes["c1"]))
    coord = await login(server, "coord")
    try:
        await teacher.drain(0.3)
        async with coord.patch(f"{server.url}/api/users/{county.user_ids['wang']}", json={"active": False}) as r:
            assert r.status == 200, await r.text()
        async with asyncio.timeout(5):
            while True:
                msg = await teacher.ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4005, msg
        assert "deactivated" in str(msg.extra)
        # the seat is gone at once (not kept for the 20 s resume grace), and a resume is refused
        left = await classroom.next("participant.left", participant_id=teacher.participant_id, timeout=5)
        assert left["reason"] == "revoked"
        again = await connect(server)
        try:
            await again.send({"type": "resume", "room": county.room_id, "participant_id": teacher.participant_id,
                              "resume_token": teacher.resume_token, "id": 2})
            assert (await again.next("error"))["code"] == "resume_failed"
        finally:
            await again.close()
        # the classroom was not disturbed
        await classroom.send({"type": "ping", "id": "p"})
        assert (await classroom.next("pong"))["id"] == "p"
    finally:
        await coord.close()
        await teacher.close()
        await classroom.close()
