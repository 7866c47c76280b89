"""双师课堂 interaction over real WebSockets: a quiz answered by two classrooms, messages, 签到."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import County, Server, WsClient, classroom_token, connect, login, user_token


async def _lesson(server: Server, county: County) -> tuple[WsClient, list[WsClient], WsClient]:
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    classrooms = [await connect(server, await classroom_token(server, county.codes[f"c{i}"])) for i in (1, 2)]
    observer = await connect(server, await user_token(server, "chen", county.room_id))
    await teacher.send({"type": "room.start", "id": "go"})
    await teacher.next("ok", id="go")
    return teacher, classrooms, observer


async def _request(client: WsClient, msg: dict[str, Any], reply: str = "ok") -> dict[str, Any]:
    await client.send(msg)
    return await client.next(reply, id=msg["id"])


async def _reply(client: WsClient, request_id: str) -> dict[str, Any]:
    """The ok or the error answering one request."""
    async with asyncio.timeout(5):
        while True:
            for i, m in enumerate(client._pending):
                if m.get("id") == request_id and m.get("type") in ("ok", "error"):
                    return client._pending.pop(i)
            client._pending.append(await client._read())


async def test_quiz_pushed_answered_and_tallied(server: Server, county: County) -> None:
    teacher, (c1, c2), observer = await _lesson(server, county)
    try:
        question = {"type": "quiz.push", "kind": "choice", "question": "Which one is a fruit?",
                    "options": ["apple", "desk", "pen", "car"], "correct": 0}
        # an observer watches silently and a classroom answers: neither may push a question
        for who in (observer, c1):
            err = await _request(who, dict(question, id="no"), "error")
            assert err["code"] == "forbidden" and err["field"] == "type"
        pushed = (await _request(teacher, dict(question, id="q")))["quiz"]
        assert pushed["correct"] == 0
        for c in (c1, c2):
            seen = await c.next("quiz.pushed")
            assert seen["quiz"]["id"] == pushed["id"] and "correct" not in seen["quiz"]
            assert seen["quiz"]["options"] == ["apple", "desk", "pen", "car"]

        bad = await _request(c1, {"type": "quiz.answer", "quiz_id": pushed["id"], "counts": [1, 2], "id": "b"}, "error")
        assert bad["code"] == "invalid_field" and bad["field"] == "counts"
        mine = await _request(c1, {"type": "quiz.answer", "quiz_id": pushed["id"], "counts": [30, 2, 1, 0], "id": "a1"})
        assert mine["answer"]["counts"] == [30, 2, 1, 0] and "results" not in mine
        first = await teacher.next("quiz.results")
        assert first["results"]["overall"] == [30, 2, 1, 0]
        await _request(c2, {"type": "quiz.answer", "quiz_id": pushed["id"], "choice": 1, "id": "a2"})
        second = (await teacher.next("quiz.results"))["results"]
        assert second["overall"] == [30, 3, 1, 0] and second["answered"] == 2
        assert {row["label"]: row["counts"] for row in second["classrooms"]} == {
            "村小1 四年级": [30, 2, 1, 0], "村小2 四年级": [0, 1, 0, 0]}
        assert (await observer.next("quiz.results"))["results"]["answered"] == 1  # supervisors see the chart
        # a classroom does not receive the other classrooms' answers
        assert not [m for m in await c2.drain(0.3) if m["type"] == "quiz.results"
                    and m.get("about") != c2.participant_id]

        closed = await _request(teacher, {"type": "quiz.close", "quiz_id": pushed["id"], "id": "c"})
        assert closed["results"]["overall"] == [30, 3, 1, 0]
        late = await _request(c1, {"type": "quiz.answer", "quiz_id": pushed["id"], "choice": 0, "id": "late"}, "error")
        assert late["code"] == "quiz_closed"

        http = await login(server, "zhao")  # any teacher may read the tallies (the library shows them)
        async with http.get(f"{server.url}/api/rooms/{county.room_id}/quizzes") as r:
            assert r.status == 200
            kept = (await r.json())["quizzes"]
        await http.close()
        assert kept[0]["quiz"]["question"] == "Which one is a fruit?" and kept[0]["overall"] == [30, 3, 1, 0]

        tf = await _request(teacher, {"type": "quiz.push", "kind": "truefalse", "question": "3 > 2", "id": "tf"})
        assert tf["quiz"]["options"] == ["对", "错"]
        state = await _request(c2, {"type": "lesson.state", "id": "st"}, "lesson.state")
        assert state["quiz"]["id"] == tf["quiz"]["id"] and state["results"] is None
    finally:
        for c in (teacher, c1, c2, observer):
            await c.close()


async def test_messages_routing_rate_limit_and_moderation(server: Server, county: County) -> None:
    teacher, (c1, c2), observer = await _lesson(server, county)
    try:
        sent = await _request(c1, {"type": "chat.send", "to": "teacher", "text": "我们听不清", "id": "m1"})
        got = await teacher.next("chat.message")
        assert got["message"]["text"] == "我们听不清" and got["message"]["id"] == sent["message"]["id"]
        assert not [m for m in await c2.drain(0.3) if m["type"] == "chat.message"]  # not for the other classroom
        assert (await c1.next("chat.message"))["message"]["id"] == sent["message"]["id"]  # the sender's own copy

        await _request(teacher, {"type": "chat.send", "to": "all", "text": "请打开课本第 12 页", "id": "m2"})
        for c in (c1, c2):
            assert (await c.next("chat.message"))["message"]["text"] == "请打开课本第 12 页"
        await _request(teacher, {"type": "chat.send", "to": c2.participant_id, "text": "声音好了吗", "id": "m3"})
        assert (await c2.next("chat.message"))["message"]["to"] == c2.participant_id

        err = await _request(observer, {"type": "chat.send", "text": "hi", "id": "o"}, "error")
        assert err["code"] == "forbidden"
        err = await _request(c1, {"type": "chat.send", "to": c2.participant_id, "text": "hi", "id": "x"}, "error")
        assert err["code"] == "forbidden" and err["field"] == "to"
        err = await _request(c1, {"type": "chat.send", "text": "   ", "id": "e"}, "error")
        assert err["code"] == "invalid_field" and err["field"] == "text"

        # a classroom typing, not a script: a burst is cut off (by the connection's bucket or the lesson's
        # 5 messages per 10 s, whichever comes first) with rate_limited
        replies = []
        for i in range(8):
            await c1.send({"type": "chat.send", "text": f"spam {i}", "id": f"s{i}"})
            replies.append(await _reply(c1, f"s{i}"))
        kinds = [r["type"] for r in replies]
        assert kinds[:2] == ["ok", "ok"] and "error" in kinds
        first_error = replies[kinds.index("error")]
        assert first_error["code"] == "rate_limited" and all(k == "error" for k in kinds[kinds.index("error"):])

        err = await _request(c2, {"type": "chat.delete", "message_id": sent["message"]["id"], "id": "d0"}, "error")
        assert err["code"] == "forbidden"
        await _request(teacher, {"type": "chat.delete", "message_id": sent["message"]["id"], "id": "d"})
        assert (await c1.next("chat.deleted"))["message_id"] == sent["message"]["id"]

        host = await login(server, "wang")
        async with host.get(f"{server.url}/api/rooms/{county.room_id}/messages") as r:
            kept = (await r.json())["messages"]
        await host.close()
        first = next(m for m in kept if m["id"] == sent["message"]["id"])
        assert first["deleted"] and first["deleted_by"] == teacher.participant_id and first["text"] == "我们听不清"
        assert len(kept) == 3 + kinds.count("ok")
        other = await login(server, "zhao")  # not a member of this lesson
        async with other.get(f"{server.url}/api/rooms/{county.room_id}/messages") as r:
            assert r.status == 403
        await other.close()
    finally:
        for c in (teacher, c1, c2, observer):
            await c.close()


async def test_checkin_headcount_reaches_attendance_and_supervision(server: Server, county: County) -> None:
    teacher, (c1, c2), observer = await _lesson(server, county)
    try:
        err = await _request(teacher, {"type": "checkin.headcount", "present": 3, "id": "t"}, "error")
        assert err["code"] == "forbidden"
        await c1.send({"type": "checkin.headcount", "present": -1, "id": "n"})
        err = await c1.next("error")  # a message that fails the schema has no request id to echo
        assert err["code"] == "invalid_field" and err["field"] == "present"
        await _request(c1, {"type": "checkin.headcount", "present": 23, "id": "h1"})
        got = await teacher.next("checkin.updated")
        assert got["checkin"] == {"participant_id": c1.participant_id, "name": "村小1 四年级", "present": 23}
        await _request(c2, {"type": "checkin.headcount", "present": 17, "id": "h2"})
        state = await _request(teacher, {"type": "lesson.state", "id": "st"}, "lesson.state")
        assert sorted(c["present"] for c in state["checkins"]) == [17, 23]
    finally:
        for c in (teacher, c1, c2, observer):
            await c.close()

    coord = await login(server, "coord")
    try:
        async with coord.get(f"{server.url}/api/rooms/{county.room_id}/attendance") as r:
            data = await r.json()
        rows = {row["identity"]: row for row in data["rows"]}
        assert data["summary"] == {"classrooms_expected": 3, "classrooms_present": 2, "headcount": 40}
        c1_row = rows[c1.participant_id]
        assert c1_row["headcount"] == 23 and c1_row["present"] and c1_row["school"] == "村小1"
        assert rows[f"classroom:{county.classroom_ids['c3']}"]["present"] is False  # expected, absent
        assert f"user:{county.user_ids['chen']}" not in rows  # the silent observer is not attendance
        async with coord.get(f"{server.url}/api/supervision/reach") as r:
            reach = await r.json()
        assert reach["lessons"] == 1 and reach["classroom_attendances"] == 2
        assert reach["students_confirmed"] == 40
        async with coord.get(f"{server.url}/api/supervision/reach?from=2026-13-01") as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "from"
    finally:
        await coord.close()
    other = await login(server, "zhao")
    try:
        async with other.get(f"{server.url}/api/rooms/{county.room_id}/attendance") as r:
            assert r.status == 403
        async with other.get(f"{server.url}/api/supervision/reach") as r:
            assert r.status == 403
    finally:
        await other.close()
