"""The lesson's section (本节) for the teacher console and its one-click correction, and the same answer
for the recorder (`recorder.filing.TaughtSections`), so a lesson's recording files itself."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from core.db import Database, utcnow
from recorder.filing import Taught, refile_room
from rooms.records import RoomRecord
from scheduler import progress_store
from scheduler.progress import Assigned, PlanItem, walk
from scheduler.progress_models import ProgressPlan
from web.auth import current_user
from web.errors import ApiError, parse_body
from web.keys import DB
from web.openapi import route


@dataclass(slots=True)
class LessonSection:
    plan: ProgressPlan
    lesson: Assigned
    items: list[PlanItem]

    def item(self, node_id: int | None) -> PlanItem | None:
        return next((i for i in self.items if i.section.node_id == node_id), None)


async def lesson_section(s: AsyncSession, room_id: str) -> LessonSection | None:
    """The plan and the walked lesson of a timetabled room; None for a room outside any plan."""
    from web.api.progress import library_sections

    room = await s.get(RoomRecord, room_id)
    if room is None or not room.timetable_ref:
        return None
    ctx = await progress_store.context(s)
    if ctx is None:
        return None
    group = progress_store.plan_for_ref(ctx, room.timetable_ref)
    if group is None:
        return None
    plan = await progress_store.ensure_plan(s, ctx, group, library_sections(s))
    items = progress_store.plan_items(await progress_store.items_of(s, plan.id))
    facts = await progress_store.lesson_facts(s, ctx, plan, utcnow())
    lesson = next((a for a in walk(items, facts).lessons if a.ref == room.timetable_ref), None)
    return LessonSection(plan, lesson, items) if lesson is not None else None


class ProgressTaught:
    """`TaughtSections` from the teaching progress: what the room's lesson taught (planned or corrected)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def taught(self, room_id: str) -> Taught | None:
        async with self.db.session() as s:
            found = await lesson_section(s, room_id)
            await s.commit()  # a plan made on first use is kept
        if found is None or found.lesson.node_id is None:
            return None
        item = found.item(found.lesson.node_id)
        return Taught(found.lesson.node_id, item.section.chapter, item.section.section) if item else None


def _json(found: LessonSection | None) -> dict:
    if found is None:
        return {"section": None}
    from web.api.progress import _section_json

    current = found.item(found.lesson.node_id)
    return {
        "plan_id": found.plan.id, "ref": found.lesson.ref, "state": found.lesson.state,
        "section": _section_json(current),
        "planned": _section_json(found.item(found.lesson.planned_node)),
        "choices": [_section_json(i) for i in found.items],
    }  # fmt: skip


async def room_section(request: web.Request) -> web.Response:
    await current_user(request)
    async with request.app[DB].session() as s:
        found = await lesson_section(s, request.match_info["room"])
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
