"""The lesson's section (本节) for the teacher console and its one-click correction (which re-files the
lesson's recording); the answer itself is `web.api.progress_sections`, shared with the recorder."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import select

from core.audit import audit
from recorder.filing import refile_room
from rooms.records import RoomRecord
from rooms.visibility import listed
from scheduler import progress_store
from web.api.progress_sections import LessonSection, ProgressTaught, lesson_section, section_json
from web.auth import current_user
from web.errors import ApiError, parse_body
from web.keys import DB
from web.openapi import route


def _json(found: LessonSection | None) -> dict:
    if found is None:
        return {"section": None}
    current = found.item(found.lesson.node_id)
    return {
        "plan_id": found.plan.id, "ref": found.lesson.ref, "state": found.lesson.state,
        "section": section_json(current),
        "planned": section_json(found.item(found.lesson.planned_node)),
        "choices": [section_json(i) for i in found.items],
    }  # fmt: skip


async def room_section(request: web.Request) -> web.Response:
    """The section a lesson teaches, for those who see the lesson at all (rooms.visibility): 404 otherwise."""
    user = await current_user(request)
    room_id = request.match_info["room"]
    async with request.app[DB].session() as s:
        if (await s.execute(select(RoomRecord.id).where(RoomRecord.id == room_id, listed(user)))).first() is None:
            raise ApiError(404, "not_found", "no such room", "room")
        found = await lesson_section(s, room_id)
        await s.commit()
    return web.json_response(_json(found))


class CorrectBody(BaseModel):
    node_id: int


async def correct_section(request: web.Request) -> web.Response:
    """The teacher says this lesson teaches another section: the plan moves, its recording re-files."""
    user = await current_user(request)
    body = await parse_body(request, CorrectBody)
    room_id = request.match_info["room"]
    async with request.app[DB].session() as s:
        room = await s.get(RoomRecord, room_id)
        if room is None:
            raise ApiError(404, "not_found", "no such room", "room")
        if user.role != "coordinator" and room.host_user_id != user.id:
            raise ApiError(403, "forbidden", "the lesson's teacher or a coordinator corrects its section")
        found = await lesson_section(s, room_id)
        if found is None:
            raise ApiError(409, "no_plan", "this lesson is not in a teaching progress plan (不在教学进度中)")
        if found.item(body.node_id) is None:
            raise ApiError(400, "invalid_field", "that section is not in this lesson's plan", "node_id")
        await progress_store.correct(s, found.plan, found.lesson.ref, body.node_id, user.username)
        audit(s, user.username, "progress.correct", f"room:{room_id}", node=body.node_id)
        await s.commit()
    async with request.app[DB].session() as s:
        refiled = await refile_room(s, room_id, ProgressTaught(request.app[DB]))
        await s.commit()
        found = await lesson_section(s, room_id)
    return web.json_response(_json(found) | {"refiled": refiled})


def setup(app: web.Application) -> None:
    tag = "progress"
    route(app, "GET", "/api/progress/rooms/{room}", room_section, "本节: the lesson's section and its choices", tag=tag)
    route(app, "POST", "/api/progress/rooms/{room}/correct", correct_section, "Correct the lesson's section",
          CorrectBody, tag)  # fmt: skip
