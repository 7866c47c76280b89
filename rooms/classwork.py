"""The lesson's interaction across classrooms (双师课堂): 随堂测, text messages and 签到, live.

Signaling calls these after checking the message's grant; this module checks what depends on the room
(roles, the open quiz, rate limits), writes the record and tells the room over the bus. It rides on the
room service (same node, same bus) and is found with `classwork_for(rooms)`.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from sqlalchemy import select

from rooms.attendance import lesson_attendance
from rooms.audience import is_hub
from rooms.chat import ChatError, ChatStore, RateLimit, message_json
from rooms.lesson_records import HeadcountRecord
from rooms.quiz import QuizError, QuizStore, Tally, quiz_json
from rooms.roles import Role
from rooms.room import Participant, Room
from rooms.service import RoomError, RoomService, room_channel

MAX_HEADCOUNT = 500


def hub_side(p: Participant) -> bool:
    """Who sees the tallies and the messages addressed to the teacher."""
    return is_hub(p) or p.grants.room_admin or p.hidden


class Classwork:
    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms
        self.quizzes = QuizStore(rooms.store.db)
        self.chat = ChatStore(rooms.store.db)
        self.rate = RateLimit()
        rooms.add_observer(self._room_changed)

    async def _room_changed(self, room: Room) -> None:
        if room.id not in self.rooms.rooms:  # ended: drop the room's rate windows
            self.rate.forget(f"{room.id}|")

    def _me(self, room_id: str, pid: str) -> tuple[Room, Participant]:
        room = self.rooms.get(room_id)
        if room is None or pid not in room.participants:
            raise RoomError("not_found", "room is not active on this node", "room")
        return room, room.participants[pid]

    async def _emit(self, room_id: str, event: dict[str, Any], *, to: str | None = None,
                    hub_only_about: str | None = None) -> None:
        event = dict(event, room=room_id, at=time.time())
        if to is not None:
            event["to"] = to
        if hub_only_about is not None:  # the hub side and the participant it is about
            event["scope"], event["about"] = "hub", hub_only_about
        await self.rooms.bus.publish(room_channel(room_id), event)

    # 随堂测 -----------------------------------------------------------------------------------------

    async def push_quiz(self, room_id: str, pid: str, kind: str, question: str, options: list[str],
                        correct: int | None) -> dict[str, Any]:
        self._me(room_id, pid)
        try:
            q = await self.quizzes.push(room_id, kind, question, options, correct, pid)
        except QuizError as e:
            raise RoomError(e.code, e.message, e.field) from e
        public = quiz_json(q)
        public.pop("correct")  # the classrooms answer before they see the key
        await self._emit(room_id, {"type": "quiz.pushed", "quiz": public, "question": q.question})
        return quiz_json(q)

    async def close_quiz(self, room_id: str, pid: str, quiz_id: int) -> dict[str, Any]:
        self._me(room_id, pid)
        try:
            q = await self.quizzes.close(room_id, quiz_id)
            tally = await self.quizzes.tally(q.id)
        except QuizError as e:
            raise RoomError(e.code, e.message, e.field) from e
        await self._emit(room_id, {"type": "quiz.closed", "quiz": quiz_json(q), "results": tally.to_dict()})
        return tally.to_dict()

    async def answer_quiz(self, room_id: str, pid: str, quiz_id: int, counts: list[int] | None,
                          choice: int | None) -> dict[str, Any]:
        room, me = self._me(room_id, pid)
        if me.role != Role.CLASSROOM:
            raise RoomError("forbidden", "a classroom's screen answers for its class", "type")
        label = " ".join(x for x in (me.meta.get("school", ""), me.meta.get("classroom", "")) if x) or me.name
        try:
            tally = await self.quizzes.answer(room_id, quiz_id, pid, label, me.meta.get("classroom_id"),
                                              counts, choice)
        except QuizError as e:
            raise RoomError(e.code, e.message, e.field) from e
        await self._emit(room_id, {"type": "quiz.results", "results": tally.to_dict()}, hub_only_about=pid)
        return tally.to_dict()

    # text messages ---------------------------------------------------------------------------------

    async def send_chat(self, room_id: str, pid: str, to: str, text: str) -> dict[str, Any]:
        room, me = self._me(room_id, pid)
        if not (me.grants.can_publish or me.grants.room_admin):
            raise RoomError("forbidden", "your role watches silently", "type")
        text = text.strip()
        if not text:
            raise RoomError("invalid_field", "the message is empty", "text")
        if to not in ("all", "teacher"):
            if not me.grants.room_admin and not is_hub(me):
                raise RoomError("forbidden", "a classroom writes to the teacher or to everyone", "to")
            if to not in room.participants or room.participants[to].hidden:
                raise RoomError("not_found", "no such participant in this room", "to")
        wait = self.rate.take(f"{room_id}|{pid}")
        if wait:
            raise RoomError("rate_limited", f"too many messages; wait {wait:.0f} s", "text")
        m = await self.chat.add(room_id, pid, me.name, to, text)
        message = message_json(m)
        if to == "all":
            await self._emit(room_id, {"type": "chat.message", "message": message})
        elif to == "teacher":
            await self._emit(room_id, {"type": "chat.message", "message": message}, hub_only_about=pid)
        else:
            await self._emit(room_id, {"type": "chat.message", "message": message}, to=to)
        return message

    async def delete_chat(self, room_id: str, pid: str, message_id: int) -> None:
        self._me(room_id, pid)
        try:
            await self.chat.delete(room_id, message_id, pid)
        except ChatError as e:
            raise RoomError(e.code, e.message, e.field) from e
        await self._emit(room_id, {"type": "chat.deleted", "message_id": message_id, "by": pid})

    # 签到 -------------------------------------------------------------------------------------------

    async def headcount(self, room_id: str, pid: str, present: int) -> dict[str, Any]:
        room, me = self._me(room_id, pid)
        if me.role != Role.CLASSROOM:
            raise RoomError("forbidden", "a classroom's screen confirms its headcount", "type")
        if not 0 <= present <= MAX_HEADCOUNT:
            raise RoomError("invalid_field", f"present is 0..{MAX_HEADCOUNT}", "present")
        async with self.rooms.store.db.session() as s:
            row = (await s.execute(select(HeadcountRecord).where(
                HeadcountRecord.room_id == room_id, HeadcountRecord.identity == pid))).scalar_one_or_none()
            if row is None:
                s.add(HeadcountRecord(room_id=room_id, identity=pid, classroom_id=me.meta.get("classroom_id"),
                                      present=present))
            else:
                row.present = present
            await s.commit()
        checkin = {"participant_id": pid, "name": me.name, "present": present}
        await self._emit(room_id, {"type": "checkin.updated", "checkin": checkin}, hub_only_about=pid)
        return checkin

    # the state a page needs after joining ----------------------------------------------------------

    async def state(self, room_id: str, pid: str) -> dict[str, Any]:
        room, me = self._me(room_id, pid)
        side = hub_side(me)
        out: dict[str, Any] = {"quiz": None, "results": None, "my_answer": None, "headcount": None}
        q = await self.quizzes.open_quiz(room_id)
        if q is not None:
            tally: Tally = await self.quizzes.tally(q.id)
            public = quiz_json(q)
            if not side:
                public.pop("correct")
            out["quiz"] = public
            if side:
                out["results"] = tally.to_dict()
            mine = next((c for c in tally.classrooms if c["identity"] == pid), None)
            out["my_answer"] = mine["counts"] if mine else None
        messages = await self.chat.visible(room_id, pid, side)
        out["messages"] = [message_json(m, me.grants.room_admin) for m in messages if m.deleted_by is None
                           or me.grants.room_admin]
        rows = [r for r in await lesson_attendance(self.rooms.store.db, room_id) if r.kind == "classroom"]
        if side:
            out["checkins"] = [{"participant_id": r.identity, "name": " ".join(x for x in (r.school, r.name) if x),
                                "present": r.headcount} for r in rows if r.headcount is not None]
        out["headcount"] = next((r.headcount for r in rows if r.identity == pid), None)
        return out


_BY_ROOMS: weakref.WeakKeyDictionary[RoomService, Classwork] = weakref.WeakKeyDictionary()


def classwork_for(rooms: RoomService) -> Classwork:
    """The one Classwork of a room service (created on first use)."""
    cw = _BY_ROOMS.get(rooms)
    if cw is None:
        cw = _BY_ROOMS[rooms] = Classwork(rooms)
    return cw
