"""A lesson's interaction and attendance over HTTP: quizzes with their tallies, messages, attendance
(JSON and CSV), and the county's students reached (受益学生数) for supervision."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from core.directory import User
from rooms.attendance import attendance_csv, lesson_attendance, students_reached
from rooms.chat import ChatStore, message_json
from rooms.quiz import QuizStore
from rooms.records import RoomMember, RoomRecord
from web.auth import current_user, require_role
from web.errors import ApiError
from web.keys import DB
from web.openapi import route

SHANGHAI = timedelta(hours=8)


async def _room(request: web.Request) -> tuple[RoomRecord, list[RoomMember]]:
    async with request.app[DB].session() as s:
        r = await s.get(RoomRecord, request.match_info["id"])
        if r is None:
            raise ApiError(404, "not_found", "no such room", "id")
        members = list((await s.execute(select(RoomMember).where(RoomMember.room_id == r.id))).scalars())
        return r, members


def _leads(user: User, r: RoomRecord) -> bool:
    return user.role == "coordinator" or r.host_user_id == user.id


def _member(user: User, r: RoomRecord, members: list[RoomMember]) -> bool:
    return _leads(user, r) or any(m.user_id == user.id for m in members)


async def quizzes(request: web.Request) -> web.Response:
    """Tallies are class counts, not personal data: every teacher, coordinator and observer may read them
    (the library shows them beside the recording)."""
    user = await current_user(request)
    if user.role not in ("coordinator", "teacher", "observer"):
        raise ApiError(403, "forbidden", "quiz results are for teachers, coordinators and observers")
    r, _ = await _room(request)
    tallies = await QuizStore(request.app[DB]).for_room(r.id)
    return web.json_response({"room_id": r.id, "title": r.title, "quizzes": [t.to_dict() for t in tallies]})


async def messages(request: web.Request) -> web.Response:
    user = await current_user(request)
    r, members = await _room(request)
    if not _member(user, r, members):
        raise ApiError(403, "forbidden", "a lesson's messages are for its teachers and coordinators")
    rows = await ChatStore(request.app[DB]).all(r.id)
    return web.json_response({"messages": [message_json(m, moderator=_leads(user, r)) for m in rows]})


async def attendance(request: web.Request) -> web.Response:
    user = await current_user(request)
    r, _ = await _room(request)
    if not _leads(user, r):
        raise ApiError(403, "forbidden", "attendance is for the lesson's teacher and coordinators")
    rows = await lesson_attendance(request.app[DB], r.id)
    classes = [x for x in rows if x.kind == "classroom"]
    summary = {
        "classrooms_expected": sum(1 for x in classes if x.expected),
        "classrooms_present": sum(1 for x in classes if x.joined_at is not None),
        "headcount": sum(x.headcount or 0 for x in classes),
    }
    return web.json_response({"room_id": r.id, "title": r.title, "summary": summary,
                              "rows": [x.to_dict() for x in rows]})


async def attendance_csv_handler(request: web.Request) -> web.Response:
    user = await current_user(request)
    r, _ = await _room(request)
    if not _leads(user, r):
        raise ApiError(403, "forbidden", "attendance is for the lesson's teacher and coordinators")
    body = attendance_csv(r.title, await lesson_attendance(request.app[DB], r.id))
    name = quote(f"考勤-{r.title}.csv")
    return web.Response(text=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f"attachment; filename=\"attendance-{r.id}.csv\"; filename*=UTF-8''{name}"})


def _day(request: web.Request, name: str, default: date) -> date:
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as e:
        raise ApiError(400, "invalid_field", "a date is YYYY-MM-DD", name) from e


async def reach(request: web.Request) -> web.Response:
    """受益学生数 between two dates (Beijing days, both included)."""
    await require_role(request, "coordinator", "observer")
    today = (datetime.now(UTC) + SHANGHAI).date()
    first = _day(request, "from", today - timedelta(days=30))
    last = _day(request, "to", today)
    if last < first:
        raise ApiError(400, "invalid_field", "'to' is before 'from'", "to")
    start = datetime.combine(first, time(), UTC) - SHANGHAI
    end = datetime.combine(last + timedelta(days=1), time(), UTC) - SHANGHAI
    out = (await students_reached(request.app[DB], start, end)).to_dict()
    return web.json_response(dict(out, **{"from": first.isoformat(), "to": last.isoformat()}))


def setup(app: web.Application) -> None:
    tag = "classwork"
    route(app, "GET", "/api/rooms/{id}/quizzes", quizzes, "随堂测: the lesson's quizzes with tallies", tag=tag)
    route(app, "GET", "/api/rooms/{id}/messages", messages, "The lesson's text messages", tag=tag)
    route(app, "GET", "/api/rooms/{id}/attendance", attendance, "Attendance per classroom and teacher", tag=tag)
    route(app, "GET", "/api/rooms/{id}/attendance.csv", attendance_csv_handler, "Attendance as CSV", tag=tag)
    route(app, "GET", "/api/supervision/reach", reach, "受益学生数: students reached (?from=&to=)", tag=tag)
