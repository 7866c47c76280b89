"""按教学进度推送 over HTTP: for a remote classroom (its screen asks with its join code) or for the
logged-in assistant teacher (her school's classrooms), the lessons open now with their section's
best-reviewed recordings by other teachers and 课前复习 items, and the past week's lessons it missed or
left early with their recordings (缺课补看). Scope and review state hold for every item."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.directory import Classroom, School
from recorder import push
from recorder.filing import section_points
from recorder.models import Resource
from recorder.review import Actor
from rooms.records import RoomMember, RoomRecord
from scheduler.facts import classroom_by_code
from scheduler.progress_makeup import missed_lessons
from web.api.curriculum import ensure_curriculum
from web.api.library_request import actor_of
from web.api.progress_sections import lesson_section
from web.errors import ApiError
from web.keys import DB
from web.limits import CODE_LIMIT
from web.openapi import route

MAKEUP_DAYS = 7


def _res(r: Resource, code: str = "") -> dict:
    out = {"id": r.id, "kind": r.kind, "title": r.title, "teacher": r.teacher_name, "school": r.school_name,
           "score": r.review_score, "date": r.lesson_date.isoformat() if r.lesson_date else None}  # fmt: skip
    if r.kind == "courseware":  # the classroom screen opens the file with its join code (no login)
        out |= {"file_type": r.file_type, "pages": r.pages,
                "url": f"/api/library/resources/{r.id}/file" + (f"?code={code}" if code else "")}
    return out


async def _classroom_push(s: AsyncSession, classroom: Classroom, actor: Actor, code: str = "") -> dict:
    school = await s.get(School, classroom.school_id)
    rooms = (
        await s.execute(
            select(RoomRecord)
            .join(RoomMember, RoomMember.room_id == RoomRecord.id)
            .where(RoomMember.classroom_id == classroom.id, RoomRecord.state.in_(("open", "live")))
            .order_by(RoomRecord.scheduled_start)
        )
    ).scalars().unique()  # fmt: skip
    upcoming = []
    for room in rooms:
        found = await lesson_section(s, room.id)
        entry: dict = {"room_id": room.id, "title": room.title, "state": room.state, "section": None,
                       "recordings": [], "courseware": [], "review": []}  # fmt: skip
        node = found.lesson.node_id if found is not None else None
        item = found.item(node) if found is not None else None
        if item is not None and node is not None:
            offer = await push.for_section(
                s, actor, node, await section_points(s, node), exclude_teacher=room.host_user_id
            )
            entry["section"] = {"label": f"{item.section.chapter} {item.section.section}".strip(),
                                "knowledge": list(item.section.knowledge)}  # fmt: skip
            entry["recordings"] = [_res(r) for r in offer.recordings]
            entry["courseware"] = [_res(r, code) for r in offer.courseware]
            entry["review"] = [{"point": x.point, "resources": [_res(r, code) for r in x.resources]}
                               for x in offer.review]
        upcoming.append(entry)
    makeup = []
    for missed in await missed_lessons(s, classroom.id, utcnow() - dt.timedelta(days=MAKEUP_DAYS)):
        rec = await push.recording_of(s, actor, missed.room.id)
        if rec is not None:
            makeup.append({"room_id": missed.room.id, "title": missed.room.title, "reason": missed.reason,
                           "present_share": missed.present_share, "resource": _res(rec)})  # fmt: skip
    return {"id": classroom.id, "name": classroom.name, "school": school.name if school else "",
            "upcoming": upcoming, "makeup": makeup}  # fmt: skip


async def push_list(request: web.Request) -> web.Response:
    """?code=<join code> for a classroom screen; otherwise the logged-in user's school's classrooms."""
    await ensure_curriculum(request.app)
    code = request.query.get("code", "").strip().upper()
    async with request.app[DB].session() as s:
        if code:
            limiter, client = request.app[CODE_LIMIT], request.remote or "?"
            if not limiter.begin(client, code[:32]):  # counted before the lookup (web.limits.CodeLimiter)
                raise ApiError(429, "too_many_attempts", "too many wrong codes; wait a minute", "code")
            cid = await classroom_by_code(s, code[:32])
            classroom = await s.get(Classroom, cid) if cid is not None else None
            if classroom is None:
                raise ApiError(404, "not_found", "no classroom has this join code (加入码无效)", "code")
            limiter.succeeded(client, code[:32])
            classrooms = [classroom]
            actor = Actor(None, f"classroom:{classroom.id}", "teacher", classroom.school_id)
        else:
            actor = await actor_of(request, required=True)
            if actor.school_id is None:
                return web.json_response({"classrooms": []})
            classrooms = list((await s.execute(
                select(Classroom).where(Classroom.school_id == actor.school_id).order_by(Classroom.name)
            )).scalars())  # fmt: skip
        out = [await _classroom_push(s, c, actor, code) for c in classrooms]
        await s.commit()  # a plan made on first use is kept
    return web.json_response({"classrooms": out})


def setup(app: web.Application) -> None:
    route(app, "GET", "/api/progress/push", push_list,
          "按教学进度推送: open lessons' resources and 缺课补看 (?code= for a classroom screen)", tag="progress",
          auth=False)  # fmt: skip
