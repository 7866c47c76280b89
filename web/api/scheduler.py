"""The county timetable over HTTP: import, solve with progress, grid views, moves, publish, iCal,
today's lessons and planned vs held. Thin: the queries, the solve jobs and the views live in `scheduler/`."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import BaseModel, Field

from core.audit import audit
from core.db import utcnow
from core.uploads import UploadRefused, check_xlsx, parse_in_worker
from scheduler import facts, store
from scheduler.calendar import TZ, Move, occurrences
from scheduler.county import County, json_schema, subject_label
from scheduler.ical import export, lessons_for
from scheduler.importer import (
    MAX_JSON_BYTES,
    TEMPLATES,
    TOO_LARGE_JSON,
    ImportResult,
    import_csv_files,
    import_json,
    import_xlsx,
    template_csv,
)
from scheduler.jobs import SolveJobs
from scheduler.models import LessonMove
from scheduler.solver import SolveOptions
from scheduler.supervision import planned_vs_held, to_csv
from scheduler.timetable import Lesson, Timetable
from scheduler.validator import validate
from scheduler.views import county_summary, timetable_view
from web import lesson_rooms
from web.auth import current_user, require_role
from web.errors import ApiError, parse_body, upload_refused
from web.keys import DB
from web.limits import CODE_LIMIT
from web.openapi import route
from web.uploads import read_upload_body, read_upload_parts

JOBS = web.AppKey("scheduler_jobs", SolveJobs)


class SolveBody(BaseModel):
    replan: bool = Field(default=False, description="keep the latest timetable where possible")
    deterministic_time: float = Field(default=SolveOptions().deterministic_time, gt=0, le=60,
                                      description="CP-SAT budget per part")


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
            if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
                raise ApiError(413, "too_large", TOO_LARGE_JSON)
            raw = await read_upload_body(request, "county.json")
            if len(raw) > MAX_JSON_BYTES:
                raise ApiError(413, "too_large", TOO_LARGE_JSON)
            result = await parse_in_worker(import_json, raw, file="county.json")
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
    return web.json_response({"county_id": row.id, "summary": county_summary(county)})


async def get_county(request: web.Request) -> web.Response:
    await require_role(request, "coordinator", "observer")
    county_id, county = await _county(request)
    return web.json_response({"county_id": county_id, "summary": county_summary(county),
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
    job = await request.app[JOBS].start(county_id, county, SolveOptions(deterministic_time=body.deterministic_time),
                                        body.replan, user.username)
    return web.json_response(job.to_json(), status=202)


async def solve_status(request: web.Request) -> web.Response:
    await require_role(request, "coordinator")
    job = request.app[JOBS].get(request.match_info["id"])
    if job is None:
        raise ApiError(404, "not_found", "no such solve job", "id")
    return web.json_response(job.to_json())


async def cancel_solve(request: web.Request) -> web.Response:
    await require_role(request, "coordinator")
    if not await request.app[JOBS].cancel(request.match_info["id"]):
        raise ApiError(404, "not_found", "no such running solve job", "id")
    job = request.app[JOBS].get(request.match_info["id"])
    assert job is not None
    return web.json_response(job.to_json())


async def get_timetable(request: web.Request) -> web.Response:
    await require_role(request, "coordinator", "observer")
    county_id, county = await _county(request)
    async with request.app[DB].session() as s:
        row = await store.latest_timetable(s, county_id, published=request.query.get("published") == "1")
    if row is None:
        raise ApiError(404, "no_timetable", "no timetable yet: run the solver")
    return web.json_response(timetable_view(county, row.id, row.state, store.timetable_of(row)))


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
            directory_classroom: int | None = await facts.classroom_by_code(s, code)
        if directory_classroom is None:
            raise ApiError(404, "bad_code", "no classroom has this code", "code")
        limiter.succeeded(client, code)
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
        rooms = await facts.rooms_by_ref(s, [o.ref for o in occ])
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
    async with request.app[DB].session() as s:
        held = await facts.room_facts(s, [o.ref for o in occ])
    lines = planned_vs_held(occ, held, now, {t.id: t.name for t in county.teachers},
                            {c.id: f"{next(s.name for s in county.schools if s.id == c.school)} {c.name}"
                             for c in county.classrooms})
    if q.get("format") == "csv":
        return web.Response(body=("\ufeff" + to_csv(lines)).encode(), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": 'attachment; filename="planned-vs-held.csv"'})
    return web.json_response({"lines": [ln.to_json() for ln in lines]})


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    """The solve jobs live as long as the application; at shutdown running solves are stopped (CP-SAT too)."""
    jobs = app[JOBS] = SolveJobs(app[DB])  # CP-SAT is imported by the first solve (scheduler.part), not here
    try:
        yield
    finally:
        await jobs.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_jobs)
    tag = "scheduler"
    route(app, "GET", "/api/scheduler/schema", schema, "JSON Schema of the county format", tag=tag, auth=False)
    route(app, "GET", "/api/scheduler/templates/{name}", template, "An empty CSV template", tag=tag, auth=False)
    route(app, "POST", "/api/scheduler/county", import_county,
          "Import county data: JSON body, CSV files or one XLSX (multipart); all or nothing", tag=tag)
    route(app, "GET", "/api/scheduler/county", get_county, "The current county data", tag=tag)
    route(app, "POST", "/api/scheduler/solve", start_solve, "Start the solver (202 + job)", SolveBody, tag)
    route(app, "GET", "/api/scheduler/solve/{id}", solve_status, "Progress of a solve job", tag=tag)
    route(app, "DELETE", "/api/scheduler/solve/{id}", cancel_solve, "Cancel a running solve job", tag=tag)
    route(app, "GET", "/api/scheduler/timetable", get_timetable, "The latest timetable with violations", tag=tag)
    route(app, "POST", "/api/scheduler/timetable/move", move_lesson, "Check or save a hand move", MoveBody, tag)
    route(app, "POST", "/api/scheduler/timetable/publish", publish, "Publish the latest timetable", tag=tag)
    route(app, "POST", "/api/scheduler/moves", add_one_off_move, "Move one date's lesson (调课)", OneOffMoveBody, tag)
    route(app, "GET", "/api/scheduler/ical", ical, "iCalendar for ?teacher=, ?classroom= or ?school=", tag=tag)
    route(app, "GET", "/api/scheduler/today", today, "Today's lessons of me, ?classroom= or ?code=", tag=tag)
    route(app, "GET", "/api/scheduler/supervision", supervision, "Planned vs held (开课比); ?format=csv", tag=tag)
    lesson_rooms.setup(app)
