"""The replies to the classwork messages (quiz, chat, check-in): the session checked the grant, the
room's classwork acts; this maps one to the other so that session.py only gains one case."""

from __future__ import annotations

from typing import Any

from rooms.classwork import Classwork
from signaling import protocol as p


async def classwork_reply(cw: Classwork, room_id: str, pid: str, msg: p.Msg) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "ok", "id": msg.id}
    match msg:
        case p.QuizPush():
            out["quiz"] = await cw.push_quiz(room_id, pid, msg.kind, msg.question, list(msg.options), msg.correct)
        case p.QuizClose():
            out["results"] = await cw.close_quiz(room_id, pid, msg.quiz_id)
        case p.QuizAnswer():
            counts = list(msg.counts) if msg.counts is not None else None
            tally = await cw.answer_quiz(room_id, pid, msg.quiz_id, counts, msg.choice)
            mine = next(c["counts"] for c in tally["classrooms"] if c["identity"] == pid)
            out["answer"] = {"quiz_id": msg.quiz_id, "counts": mine}  # a classroom sees its own answer
        case p.ChatSend():
            out["message"] = await cw.send_chat(room_id, pid, msg.to, msg.text)
        case p.ChatDelete():
            await cw.delete_chat(room_id, pid, msg.message_id)
        case p.CheckinHeadcount():
            out["checkin"] = await cw.headcount(room_id, pid, msg.present)
        case p.LessonState():
            out = {"type": "lesson.state", "id": msg.id, **await cw.state(room_id, pid)}
    return out
