"""The county timetable over HTTP: import, solve with progress, grid views, moves, publish, iCal,
today's lessons and planned vs held."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from core.audit import audit
from core.db import utcnow
from core.directory import Classroom
from core.uploads import UploadRefused, check_xlsx, parse_in_worker
from rooms.records import PresenceRecord, RoomRecord
from scheduler import store
from scheduler.calendar import TZ, Move, occurrences
from scheduler.county import County, json_schema, subject_label
from scheduler.ical import export, lessons_for
from scheduler.importer import (
    TEMPLATES,
    ImportResult,
    import_csv_files,
    import_json,
    import_xlsx,
    template_csv,
)
from scheduler.models import LessonMove
from scheduler.solver import SolveOptions, solve
from scheduler.supervision import RoomFacts, planned_vs_held, to_csv
from scheduler.timetable import Lesson, Timetable
from scheduler.validator import validate
from web import lesson_rooms
from web.auth import current_user, require_role
from web.errors import ApiError, parse_body, upload_refused
from web.keys import DB
from web.limits import CODE_LIMIT
from web.openapi import route
from web.uploads import read_upload_body, read_upload_parts


@dataclass
class SolveJob:
    id: str
    state: str = "running"
    done: int = 0
    parts: int = 0
    started: float = 0.0
    seconds: float = 0.0
    timetable_id: int | None = None
    error: str = ""
    task: asyncio.Task | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {"id": self.id, "state": self.state, "done": self.done, "parts": self.parts,
                "seconds": round(self.seconds, 2), "timetable_id": self.timetable_id, "error": self.error}


JOBS = web.AppKey("scheduler_jobs", dict)
KEEP_JOBS = 20
"""Finished solve jobs kept for their status page; older ones are forgotten."""


class SolveBody(BaseModel):
    replan: bool = Field(default=False, description="keep the latest timetable where possible")
    deterministic_time: float = Field(default=SolveOptions().deterministic_time, gt=0, le=60)


class MoveBody(BaseModel):
    lesson_key: str = Field(min_length=1, max_length=120)
    weekday: int = Field(ge=1, le=7)
    period: int = Field(ge=1, le=20)
    save: bool = Field(default=False, description="false: only check; true: save as a new draft if valid")


class OneOffMoveBody(BaseModel):
    lesson_key: str = Field(min_length=1, max_length=120)
    date: dt.date
    new_date: dt.date
    new_period: int = Field(ge=1, le=20)


def _problems_response(result: ImportResult) -> web.Response:
    return web.json_response({
        "error": {"code": "invalid_county", "message": f"{len(result.problems)} 处问题，未导入任何数据"},
        "problems": [p.to_json() for p in result.problems],
    }, status=422)


async def _county(request: web.Request) -> tuple[int, County]:
    async with request.app[DB].session() as s:
        current = await store.current_county(s)
    if current is None:
        raise ApiError(404, "no_county", "no county data imported yet")
    return current[0].id, current[1]


def _summary(county: County) -> dict:
    return {
        "name": county.name, "schools": len(county.schools), "classrooms": len(county.classrooms),
        "teachers": len(county.teachers), "demand": sum(d.per_week for d in county.demand),
        "term": county.term.model_dump(mode="json") if county.term else None,
    }


async def import_county(request: web.Request) -> web.Response:
    user = await require_role(request, "coordinator")
    try:  # parsed in the upload worker within limits (core.uploads); over a limit → 413/422 naming the file
        if request.content_type.startswith("multipart/"):
            files, encoding = await read_upload_parts(request)
            xlsx = [name for name in files if name.lower().endswith(".xlsx")]
            if xlsx:
                check_xlsx(files[xlsx[0]], xlsx[0])  # a bomb is refused here, before any worker starts
                result = await parse_in_worker(import_xlsx, files[xlsx[0]], xlsx[0], file=xlsx[0])
            else:
                result = await parse_in_worker(import_csv_files, files, encoding, file=", ".join(files))
        else:
            body = await read_upload_body(request, "county.json")
            result = await parse_in_worker(import_json, body, file="county.json")
    except UploadRefused as e:
        raise upload_refused(e) from e
    if not result.ok:
        return _problems_response(result)
    county = result.county
    assert county is not None
    async with request.app[DB].session() as s:
        row = await store.save_county(s, county, user.username)
        await store.sync_directory(s, county)
        audit(s, user.username, "county.import", str(row.id), name=county.name)
        await s.commit()
    return web.json_response({"county_id": row.id, "summary": _summary(county)})


async def get_county(request: web.Request) -> web.Response:
    await require_role(request, "coordinator", "observer")
    county_id, county = await _county(request)
    return web.json_response({"county_id": county_id, "summary": _summary(county),
                              "county": county.model_dump(mode="json")})


async def schema(request: web.Request) -> web.Response:
    return web.json_response(json_schema())


async def template(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in TEMPLATES:
        raise ApiError(404, "not_found", f"templates: {', '.join(TEMPLATES)}", "name")
    return web.Response(body=("\ufeff" + template_csv(name)).encode(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def start_solve(request: web.Request) -> web.Response:
    user = await require_role(request, "coordinator")
    body = await parse_body(request, SolveBody)
    county_id, county = await _county(request)
    previous = None
    if body.replan:
        async with request.app[DB].session() as s:
            row = await store.latest_timetable(s, county_id)
            previous = store.timetable_of(row) if row else None
    job = SolveJob(secrets.token_hex(6), started=asyncio.get_running_loop().time())
    jobs = request.app[JOBS]
    for old in [k for k, j in jobs.items() if j.state != "running"][:-KEEP_JOBS]:
        del jobs[old]
    jobs[job.id] = job

    def progress(done: int, parts: int) -> None:
        job.done, job.parts = done, parts

    async def run() -> None:
        try:
            result = await asyncio.to_thread(
                solve, county, SolveOptions(deterministic_time=body.deterministic_time), previous, progress
            )
            async with request.app[DB].session() as s:
                row = await store.save_timetable(s, county_id, result.timetable,
                                                 sum(d.per_week for d in county.demand), result.seconds, user.username)
                await s.commit()
            job.timetable_id, job.state = row.id, "done"
        except Exception as exc:  # reported to the page; the server keeps running
            job.state, job.error = "failed", str(exc)
        finally:
            job.seconds = asyncio.get_running_loop().time() - job.started

    job.task = asyncio.create_task(run(), name=f"solve-{job.id}")
    return web.json_response(job.to_json(), status=202)


async def solve_status(request: web.Request) -> web.Response:
    await require_role(request, "coordinator")
    job = request.app[JOBS].get(request.match_info["id"])
    if job is None:
        raise ApiError(404, "not_found", "no such solve job", "id")
    if job.state == "running":
        job.seconds = asyncio.get_running_loop().time() - job.started
    return web.json_response(job.to_json())


def _timetable_json(county: County, row_id: int, state: str, tt: Timetable) -> dict:
    teachers = {t.id: t for t in county.teachers}
    rooms = {c.id: c for c in county.classrooms}
    schools = {s.id: s for s in county.schools}
    lessons = []
    for ls in tt.lessons:
        teacher = teachers.get(ls.teacher)
        hub = schools.get(teacher.school) if teacher else None
        period = hub.bells.for_weekday(ls.weekday)[ls.period - 1] if hub and ls.period <= len(
            hub.bells.for_weekday(ls.weekday)) else None
        lessons.append({
            **ls.to_json(), "subject_label": subject_label(ls.subject),
            "teacher_name": teacher.name if teacher else ls.teacher, "hub": teacher.school if teacher else "",
            "start": period.start if period else "", "end": period.end if period else "",
            "classroom_names": [f"{schools[rooms[c].school].name} {rooms[c].name}" if c in rooms else c
                                for c in ls.classrooms],
            "schools": sorted({rooms[c].school for c in ls.classrooms if c in rooms}),
        })
    violations = validate(county, tt)
    return {
        "id": row_id, "state": state, "placed": tt.placed_count(),
        "demanded": sum(d.per_week for d in county.demand), "lessons": lessons,
        "unplaced": tt.to_json()["unplaced"],
        "violations": [{"code": v.code, "lesson": v.lesson, "message": v.message} for v in violations],
        "schools": [{"id": s.id, "name": s.name, "kind": s.kind} for s in county.schools],
        "teachers": [{"id": t.id, "name": t.name, "school": t.school, "subject": t.subject} for t in county.teachers],
        "classrooms": [{"id": c.id, "name": c.name, "school": c.school, "grade": c.grade} for c in county.classrooms],
    }


async def get_timetable(request: web.Request) -> web.Response:
    await require_role(request, "coordinator", "observer")
    county_id, county = await _county(request)
    async with request.app[DB].session() as s:
        row = await store.latest_timetable(s, county_id, published=request.query.get("published") == "1")
    if row is None:
        raise ApiError(404, "no_timetable", "no timetable yet: run the solver")
    return web.json_response(_timetable_json(county, row.id, row.state, store.timetable_of(row)))


async def move_lesson(request: web.Request) -> web.Response:
    """Move one weekly lesson by hand: returns the violations it would cause; saves when asked and valid."""
    user = await require_role(request, "coordinator")
    body = await parse_body(request, MoveBody)
    county_id, county = await _county(request)
    async with request.app[DB].session() as s:
        row = await store.latest_timetable(s, county_id)
        if row is None:
            raise ApiError(404, "no_timetable", "no timetable yet")
        tt = store.timetable_of(row)
        target = next((ls for ls in tt.lessons if ls.key == body.lesson_key), None)
        if target is None:
            raise ApiError(404, "not_found", "no such lesson", "lesson_key")
        moved = Lesson(body.weekday, body.period, target.teacher, target.subject, target.grade, target.classrooms)
        changed = Timetable(sorted([ls for ls in tt.lessons if ls is not target] + [moved]), tt.unplaced)
        violations = validate(county, changed)
        saved = None
        if body.save and not violations:
            new = await store.save_timetable(s, county_id, changed, row.demanded, 0.0, user.username)
            audit(s, user.username, "timetable.move", body.lesson_key, to=moved.key)
            await s.commit()
            saved = new.id
    return web.json_response({
        "ok": not violations, "lesson_key": moved.key, "timetable_id": saved,
        "violations": [{"code": v.code, "lesson": v.lesson, "message": v.message} for v in violations],
    })


async def publish(request: web.Request) -> web.Response:
    user = await require_role(request, "coordinator")
    county_id, county = await _county(request)
    async with request.app[DB].session() as s:
        row = await store.latest_timetable(s, county_id)
        if row is None:
            raise ApiError(404, "no_timetable", "no timetable yet")
        violations = validate(county, store.timetable_of(row))
        if violations:
            raise ApiError(409, "violations", f"{len(violations)} 处违反排课规则，不能发布")
        await store.publish(s, row)
        audit(s, user.username, "timetable.publish", str(row.id))
        await s.commit()
    return web.json_response({"id": row.id, "state": "published"})


async def add_one_off_move(request: web.Request) -> web.Response:
    user = await require_role(request, "coordinator")
    body = await parse_body(request, OneOffMoveBody)
    county_id, _county_data = await _county(request)
    async with request.app[DB].session() as s:
        row = await store.latest_timetable(s, county_id, published=True)
        if row is None:
            raise ApiError(404, "no_timetable", "publish a timetable first")
        s.add(LessonMove(timetable_id=row.id, lesson_key=body.lesson_key, date=body.date, new_date=body.new_date,
                         new_period=body.new_period))
        audit(s, user.username, "timetable.move_once", body.lesson_key, date=str(body.date), to=str(body.new_date))
        await s.commit()
    return web.json_response({"ok": True})


async def _published(request: web.Request) -> tuple[County, Timetable, list[Move]]:
    county_id, county = await _county(request)
    async with request.app[DB].session() as s:
        row = await store.latest_timetable(s, county_id, published=True)
        if row is None:
            raise ApiError(404, "no_timetable", "no published timetable")
        return county, store.timetable_of(row), await store.moves_of(s, row.id)


async def ical(request: web.Request) -> web.Response:
    """iCalendar of the published timetable for ?teacher=, ?classroom= or ?school= (county ids)."""
    await current_user(request)
    county, tt, moves = await _published(request)
    q = request.query
    chosen = {k: q[k] for k in ("teacher", "classroom", "school") if q.get(k)}
    if len(chosen) != 1:
        raise ApiError(400, "invalid_field", "give exactly one of teacher, classroom, school", "teacher")
    lessons = lessons_for(county, tt, **chosen)
    (kind, ref), = chosen.items()
    body = export(county, tt, lessons, f"{county.name} {ref}", moves)
    return web.Response(body=body, content_type="text/calendar", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{kind}-{ref}.ics"'})


async def today(request: web.Request) -> web.Response:
    """Today's lessons of the logged-in teacher, of ?classroom=<directory id>, or of the classroom whose
    join ?code= a classroom PC shows (no login: the code already lets it join), with their rooms."""
    code = request.query.get("code", "").strip().upper()
    if code:
        limiter, client = request.app[CODE_LIMIT], request.remote or "?"
        if not limiter.begin(client, code):  # counted before any await (web.limits.CodeLimiter)
            raise ApiError(429, "too_many_attempts", "too many wrong codes; wait a minute", "code")
        async with request.app[DB].session() as s:
            room_row = (await s.execute(select(Classroom).where(Classroom.join_code == code))).scalar_one_or_none()
        if room_row is None:
            raise ApiError(404, "bad_code", "no classroom has this code", "code")
        limiter.succeeded(client, code)
        directory_classroom: int | None = room_row.id
        user = None
    else:
        user = await current_user(request)
        try:
            directory_classroom = int(request.query["classroom"]) if request.query.get("classroom") else None
        except ValueError as e:
            raise ApiError(400, "invalid_field", "classroom is a number", "classroom") from e
    county, tt, moves = await _published(request)
    async with request.app[DB].session() as s:
        links = await store.links(s)
    reverse = {(kind, directory_id): ref for (kind, ref), directory_id in links.items()}
    try:
        day = dt.date.fromisoformat(request.query["date"]) if request.query.get("date") else (
            utcnow().astimezone(TZ).date())
    except ValueError as e:
        raise ApiError(400, "invalid_field", "date is YYYY-MM-DD", "date") from e
    if directory_classroom is not None:
        ref = reverse.get(("classroom", directory_classroom))
        lessons = lessons_for(county, tt, classroom=ref) if ref else []
    else:
        assert user is not None
        ref = reverse.get(("teacher", user.id))
        lessons = lessons_for(county, tt, teacher=ref) if ref else []
    keys = {ls.key for ls in lessons}
    occ = [o for o in occurrences(county, tt, moves, since=day, until=day) if o.lesson_key in keys]
    async with request.app[DB].session() as s:
        rooms = {r.timetable_ref: r for r in (await s.execute(
            select(RoomRecord).where(RoomRecord.timetable_ref.in_([o.ref for o in occ] or ["-"]))
        )).scalars()}
    teachers = {t.id: t.name for t in county.teachers}
    out = []
    for o in occ:
        room = rooms.get(o.ref)
        out.append({
            "ref": o.ref, "subject": o.lesson.subject, "subject_label": subject_label(o.lesson.subject),
            "grade": o.lesson.grade, "teacher": teachers.get(o.lesson.teacher, o.lesson.teacher),
            "start": o.start.isoformat(), "end": o.end.isoformat(), "kind": o.kind,
            "classrooms": len(o.lesson.classrooms),
            "room_id": room.id if room else None, "room_state": room.state if room else None,
        })
    return web.json_response({"date": day.isoformat(), "lessons": out})


async def supervision(request: web.Request) -> web.Response:
    """Planned vs held with 开课比, per week, hub teacher and classroom; ?format=csv for a spreadsheet."""
    await require_role(request, "coordinator", "observer")
    county, tt, moves = await _published(request)
    q = request.query
    try:
        since = dt.date.fromisoformat(q["since"]) if q.get("since") else None
        until = dt.date.fromisoformat(q["until"]) if q.get("until") else None
    except ValueError as e:
        raise ApiError(400, "invalid_field", "dates are YYYY-MM-DD", "since") from e
    now = utcnow()
    occ = occurrences(county, tt, moves, since=since, until=until or now.astimezone(TZ).date())
    facts = await room_facts(request, [o.ref for o in occ])
    lines = planned_vs_held(occ, facts, now, {t.id: t.name for t in county.teachers},
                            {c.id: f"{next(s.name for s in county.schools if s.id == c.school)} {c.name}"
                             for c in county.classrooms})
    if q.get("format") == "csv":
        return web.Response(body=("\ufeff" + to_csv(lines)).encode(), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": 'attachment; filename="planned-vs-held.csv"'})
    return web.json_response({"lines": [ln.to_json() for ln in lines]})


async def room_facts(request: web.Request, refs: list[str]) -> dict[str, RoomFacts]:
    """Live times and classroom presence of the rooms created for these occurrences."""
    async with request.app[DB].session() as s:
        links = await store.links(s)
        classroom_ref = {directory_id: ref for (kind, ref), directory_id in links.items() if kind == "classroom"}
        rooms = list((await s.execute(select(RoomRecord).where(RoomRecord.timetable_ref.in_(refs or ["-"])))).scalars())
        presence: dict[str, list[PresenceRecord]] = defaultdict(list)
        if rooms:
            rows = await s.execute(select(PresenceRecord).where(PresenceRecord.room_id.in_([r.id for r in rooms])))
            for p in rows.scalars():
                presence[p.room_id].append(p)
    facts: dict[str, RoomFacts] = {}
    now = utcnow()
    for r in rooms:
        spans: dict[str, list] = defaultdict(list)
        for p in presence[r.id]:
            ref = classroom_ref.get(p.classroom_id) if p.classroom_id is not None else None
            if ref is not None:
                spans[ref].append((p.joined_at, p.left_at or r.ended_at or now))
        assert r.timetable_ref is not None
        facts[r.timetable_ref] = RoomFacts(r.live_at, r.ended_at, dict(spans))
    return facts


def setup(app: web.Application) -> None:
    app[JOBS] = {}
    tag = "scheduler"
    route(app, "GET", "/api/scheduler/schema", schema, "JSON Schema of the county format", tag=tag, auth=False)
    route(app, "GET", "/api/scheduler/templates/{name}", template, "An empty CSV template", tag=tag, auth=False)
    route(app, "POST", "/api/scheduler/county", import_county,
          "Import county data: JSON body, CSV files or one XLSX (multipart); all or nothing", tag=tag)
    route(app, "GET", "/api/scheduler/county", get_county, "The current county data", tag=tag)
    route(app, "POST", "/api/scheduler/solve", start_solve, "Start the solver (202 + job)", SolveBody, tag)
    route(app, "GET", "/api/scheduler/solve/{id}", solve_status, "Progress of a solve job", tag=tag)
    route(app, "GET", "/api/scheduler/timetable", get_timetable, "The latest timetable with violations", tag=tag)
    route(app, "POST", "/api/scheduler/timetable/move", move_lesson, "Check or save a hand move", MoveBody, tag)
    route(app, "POST", "/api/scheduler/timetable/publish", publish, "Publish the latest timetable", tag=tag)
    route(app, "POST", "/api/scheduler/moves", add_one_off_move, "Move one date's lesson (调课)", OneOffMoveBody, tag)
    route(app, "GET", "/api/scheduler/ical", ical, "iCalendar for ?teacher=, ?classroom= or ?school=", tag=tag)
    route(app, "GET", "/api/scheduler/today", today, "Today's lessons of me, ?classroom= or ?code=", tag=tag)
    route(app, "GET", "/api/scheduler/supervision", supervision, "Planned vs held (开课比); ?format=csv", tag=tag)
    lesson_rooms.setup(app)
