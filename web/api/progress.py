"""Teaching progress over HTTP: the coordinator's overview (ahead / on track / behind), a plan to read,
edit, export and import, and the lesson's section (本节) for the teacher console with its one-click
correction. The logic is in `scheduler.progress*`; the catalogue comes from the library."""

from __future__ import annotations

import json

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from core.db import utcnow
from core.directory import User
from core.uploads import UploadRefused, parse_in_worker
from recorder.catalogue import volume_by_id, volumes
from scheduler import progress_io, progress_store
from scheduler.calendar import TZ
from scheduler.county import subject_label
from scheduler.progress import PlanItem, Section, default_plan, status, teaching_weeks, walk
from scheduler.progress_models import ProgressPlan
from scheduler.store import links
from web.api.curriculum import ensure_curriculum
from web.api.progress_sections import library_sections, plan_sections, section_json
from web.auth import current_user
from web.errors import ApiError, parse_body, upload_refused
from web.keys import DB
from web.openapi import route
from web.uploads import read_upload_body

MIME = {"csv": "text/csv; charset=utf-8", "json": "application/json",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip


async def _context(s: AsyncSession) -> progress_store.Context:
    ctx = await progress_store.context(s)
    if ctx is None:
        raise ApiError(404, "no_term", "no county with a term calendar is imported yet (先导入县域数据和学期日历)")
    return ctx


async def _may_edit(s: AsyncSession, user: User, plan: ProgressPlan) -> bool:
    if user.role == "coordinator":
        return True
    return user.role == "teacher" and (await links(s)).get(("teacher", plan.teacher_ref)) == user.id


async def _plan(request: web.Request, s: AsyncSession) -> ProgressPlan:
    raw = request.match_info["id"]
    plan = await s.get(ProgressPlan, int(raw)) if raw.isdigit() else None
    if plan is None:
        raise ApiError(404, "not_found", "no such progress plan", "id")
    return plan


async def _summary(s: AsyncSession, ctx: progress_store.Context, plan: ProgressPlan, *, detail: bool) -> dict:
    items = progress_store.plan_items(await progress_store.items_of(s, plan.id))
    facts = await progress_store.lesson_facts(s, ctx, plan, utcnow())
    today = utcnow().astimezone(TZ).date()
    assert ctx.county.term is not None
    st = status(items, facts, ctx.county.term, today)
    out = {
        "id": plan.id, "teacher": {"ref": plan.teacher_ref, "name": plan.teacher_name},
        "subject": plan.subject, "subject_name": subject_label(plan.subject), "grade": plan.grade,
        "classrooms": json.loads(plan.classrooms), "volume": plan.volume_label, "status": st.to_json(),
        "lessons_planned": sum(1 for f in facts if f.date <= today),
        "lessons_held": sum(1 for f in facts if f.held), "lessons_total": len(facts),
        "term": {"start": plan.term_start.isoformat(), "end": plan.term_end.isoformat()},
    }  # fmt: skip
    if detail:
        by_node = {i.section.node_id: i for i in items}
        w = walk(items, facts)
        out["items"] = [{**(section_json(i) or {}), "lessons": i.lessons, "week": i.week} for i in items]
        out["lessons"] = [
            {"ref": a.ref, "date": a.date.isoformat(), "state": a.state,
             "section": section_json(by_node.get(a.node_id) if a.node_id is not None else None)}
            for a in w.lessons
        ]  # fmt: skip
        out["current"] = section_json(items[w.current]) if w.current is not None else None
        out["weeks"] = teaching_weeks(ctx.county.term)
    return out


async def list_plans(request: web.Request) -> web.Response:
    user = await current_user(request)
    if user.role not in ("coordinator", "teacher", "observer"):
        raise ApiError(403, "forbidden", "teaching progress is for teachers, coordinators and observers")
    await ensure_curriculum(request.app)
    async with request.app[DB].session() as s:
        ctx = await _context(s)
        out = []
        for group in progress_store.groups(ctx):
            plan = await progress_store.ensure_plan(s, ctx, group, library_sections(s))
            if user.role == "teacher" and not await _may_edit(s, user, plan):
                continue
            out.append(await _summary(s, ctx, plan, detail=False))
        await s.commit()
    return web.json_response({"plans": out})


async def get_plan(request: web.Request) -> web.Response:
    user = await current_user(request)
    async with request.app[DB].session() as s:
        plan = await _plan(request, s)
        if user.role not in ("coordinator", "observer") and not await _may_edit(s, user, plan):
            raise ApiError(404, "not_found", "no such progress plan", "id")
        out = await _summary(s, await _context(s), plan, detail=True)
        sections = await plan_sections(s, plan)
        out["catalogue"] = [section_json(PlanItem(sec, 0, 0)) for sec in sections]
        out["volume_node_id"] = plan.volume_node_id
        out["volumes"] = [{"id": vid, "label": label}
                          for vid, label in await volumes(s, plan.grade, subject_label(plan.subject))]
        out["can_edit"] = await _may_edit(s, user, plan)
    return web.json_response({"plan": out})


class ItemBody(BaseModel):
    node_id: int
    lessons: int = Field(ge=1, le=40)
    week: int = Field(ge=1, le=30)


class ItemsBody(BaseModel):
    items: list[ItemBody] = Field(min_length=1, max_length=500)


async def _editable(request: web.Request, s: AsyncSession) -> tuple[User, ProgressPlan, list[Section]]:
    user = await current_user(request)
    plan = await _plan(request, s)
    if not await _may_edit(s, user, plan):
        raise ApiError(403, "forbidden", "a plan is edited by its teacher or a coordinator")
    return user, plan, await plan_sections(s, plan)


async def put_items(request: web.Request) -> web.Response:
    """Reorder sections and change their lesson counts and weeks."""
    await current_user(request)  # who asks before what is asked: anonymous gets 401, not a body error
    body = await parse_body(request, ItemsBody)
    async with request.app[DB].session() as s:
        user, plan, sections = await _editable(request, s)
        by_id = {sec.node_id: sec for sec in sections}
        items = []
        for i, it in enumerate(body.items):
            if it.node_id not in by_id:
                raise ApiError(400, "invalid_field", f"section {it.node_id} is not in this volume", f"items[{i}].node_id")
            items.append(PlanItem(by_id[it.node_id], it.lessons, it.week))
        if len({i.section.node_id for i in items}) != len(items):
            raise ApiError(400, "invalid_field", "a section is listed twice", "items")
        await progress_store.replace_items(s, plan, items, user.username)
        audit(s, user.username, "progress.edit", f"plan:{plan.id}", items=len(items))
        await s.commit()
        out = await _summary(s, await _context(s), plan, detail=True)
    return web.json_response({"plan": out})


class VolumeBody(BaseModel):
    volume_node_id: int


async def put_volume(request: web.Request) -> web.Response:
    """Choose the edition and 册 the group teaches: the plan is laid afresh from it over the term's lessons
    (what was taught stays taught: corrections and held lessons are kept by lesson)."""
    await current_user(request)
    body = await parse_body(request, VolumeBody)
    async with request.app[DB].session() as s:
        user, plan, _ = await _editable(request, s)
        allowed = dict(await volumes(s, plan.grade, subject_label(plan.subject)))
        if body.volume_node_id not in allowed:
            raise ApiError(400, "invalid_field", "choose a volume of this grade and subject (请选择本年级本学科的册次)",
                           "volume_node_id")
        label, vid, rows = await volume_by_id(s, body.volume_node_id)
        ctx = await _context(s)
        assert ctx.county.term is not None
        dates = sorted({o.date for o in progress_store.group_occurrences(ctx, plan)})
        sections = [Section(n, ch, sec, tuple(kps)) for n, ch, sec, kps in rows]
        plan.volume_node_id, plan.volume_label = vid, label
        await progress_store.replace_items(s, plan, default_plan(sections, dates, ctx.county.term), user.username)
        audit(s, user.username, "progress.volume", f"plan:{plan.id}", volume=label)
        await s.commit()
        out = await _summary(s, ctx, plan, detail=True)
        out["catalogue"] = [section_json(PlanItem(sec, 0, 0)) for sec in sections]
        out["volume_node_id"], out["volumes"] = vid, [{"id": k, "label": v} for k, v in allowed.items()]
        out["can_edit"] = True
    return web.json_response({"plan": out})


def _format(request: web.Request) -> str:
    fmt = request.query.get("format", "csv")
    if fmt not in progress_io.FORMATS:
        raise ApiError(400, "invalid_field", "format must be csv, xlsx or json", "format")
    return fmt


async def export_plan(request: web.Request) -> web.Response:
    fmt = _format(request)
    template = request.path.endswith("/template")
    async with request.app[DB].session() as s:
        await current_user(request)
        plan = await _plan(request, s)
        if template:  # the volume's sections with the catalogue's default counts, to fill in
            ctx = await _context(s)
            sections = await plan_sections(s, plan)
            assert ctx.county.term is not None
            dates = sorted({o.date for o in progress_store.group_occurrences(ctx, plan)})
            items = default_plan(sections, dates, ctx.county.term)
        else:
            items = progress_store.plan_items(await progress_store.items_of(s, plan.id))
    name = f"progress-{plan.id}{'-template' if template else ''}.{fmt}"
    return web.Response(body=progress_io.export(items, fmt), headers={
        "Content-Type": MIME[fmt], "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


async def import_plan(request: web.Request) -> web.Response:
    fmt = _format(request)
    try:
        blob = await read_upload_body(request, f"plan.{fmt}")
    except UploadRefused as e:
        raise upload_refused(e) from e
    if len(blob) > 2 * 1024 * 1024:
        raise ApiError(413, "too_large", "a plan file is at most 2 MB")
    async with request.app[DB].session() as s:
        user, plan, sections = await _editable(request, s)
        ctx = await _context(s)
        assert ctx.county.term is not None
        try:
            items = await parse_in_worker(  # off the event loop, within the upload limits (core.uploads)
                progress_io.parse, blob, fmt, sections, max(teaching_weeks(ctx.county.term) or [30]),
                file=f"plan.{fmt}")
        except UploadRefused as e:
            raise upload_refused(e) from e
        except progress_io.PlanFileError as e:
            first = e.problems[0]
            return web.json_response({
                "error": {"code": "invalid_rows", "message": f"第 {first.row} 行: {first.message}",
                          "field": first.field},
                "problems": [p.to_json() for p in e.problems],
            }, status=400)  # fmt: skip
        await progress_store.replace_items(s, plan, items, user.username)
        audit(s, user.username, "progress.import", f"plan:{plan.id}", items=len(items), format=fmt)
        await s.commit()
    return web.json_response({"imported": len(items)})


def setup(app: web.Application) -> None:
    from web.api import progress_lesson, progress_push

    tag = "progress"
    route(app, "GET", "/api/progress/plans", list_plans, "Teaching groups' plans with ahead/on track/behind", tag=tag)
    route(app, "GET", "/api/progress/plans/{id}", get_plan, "A plan: items, lessons with sections, catalogue", tag=tag)
    route(app, "PUT", "/api/progress/plans/{id}/items", put_items, "Reorder sections, change counts and weeks",
          ItemsBody, tag)  # fmt: skip
    route(app, "PUT", "/api/progress/plans/{id}/volume", put_volume, "Choose the edition and 册 (lays the plan afresh)",
          VolumeBody, tag)
    route(app, "GET", "/api/progress/plans/{id}/export", export_plan, "Export (?format=csv|xlsx|json)", tag=tag)
    route(app, "GET", "/api/progress/plans/{id}/template", export_plan, "Template from the catalogue", tag=tag)
    route(app, "POST", "/api/progress/plans/{id}/import", import_plan, "Import (?format=…); errors by row", tag=tag)
    progress_lesson.setup(app)
    progress_push.setup(app)
