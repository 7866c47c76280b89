"""The resource library over HTTP, and the wiring of the recorder into the running node.

Wiring: the recorder follows every room that records (a room observer hands it the room; events come
over the bus), sits in the room as "录制中", and when a lesson ends its recording is filed as a draft
resource with the lesson's facts (room, host, school, classrooms, timetable entry) and queued for its MP4.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from core.audit import audit
from core.directory import Classroom, School, User
from core.spool import Spool
from core.storage import StorageError, open_storage
from core.tokens import Claims
from recorder import catalogue, knowledge
from recorder.access import can_download, can_edit, can_view
from recorder.archive import Archive
from recorder.composite import MP4_NAME
from recorder.index import RecordingIndex
from recorder.jobs import CompositeJob, CompositeQueue
from recorder.models import KnowledgeFramework, KnowledgePoint, Resource, ReviewStep, TextbookNode
from recorder.related import related
from recorder.resources import LessonFacts, ResourceError, create_from_recording, resource_json, set_catalogue
from recorder.review import ANONYMOUS, SCOPES, Actor, ReviewError, allowed_actions, apply_review, step_json
from recorder.search import Query, search
from recorder.service import RECORDER_IDENTITY, RECORDER_NAME, RecorderService
from rooms.records import PresenceRecord, RoomMember, RoomRecord
from rooms.roles import Role, RoomKind, grants_for
from rooms.room import Room
from rooms.service import RoomService, room_channel
from scheduler.county import subject_label
from web.auth import current_user
from web.errors import ApiError, api_error, parse_body
from web.keys import BUS, DB, MEDIA, ROOMS, SETTINGS, SPOOL, STORAGE
from web.openapi import route

PLAYABLE = {".webm": "video/webm", ".mkv": "video/x-matroska", ".mp4": "video/mp4"}


@dataclass(slots=True)
class Library:
    recorder: RecorderService
    composites: CompositeQueue
    root: Path
    archive: Archive
    curriculum_ready: bool = False
    curriculum_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def ensure_curriculum(app: web.Application) -> None:
    """Import the shipped sample curriculum into an empty library, once, when the library is first used
    (not at start, so servers that never open the library do not pay for it)."""
    library = app[LIBRARY]
    if library.curriculum_ready:
        return
    async with library.curriculum_lock:
        if library.curriculum_ready:
            return
        async with app[DB].session() as s:
            if not (await s.execute(select(func.count()).select_from(TextbookNode))).scalar_one():
                await catalogue.import_sample_textbooks(s)
            if not (await s.execute(select(func.count()).select_from(KnowledgeFramework))).scalar_one():
                await knowledge.import_samples(s)
            await s.commit()
        library.curriculum_ready = True


LIBRARY = web.AppKey("library", Library)


# -- wiring --------------------------------------------------------------------------------------------


class RoomSeat:
    """The recorder as a room participant everyone sees ("录制中"), without a media subscription."""

    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms

    async def take(self, room_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        grants = replace(grants_for(Role.RECORDER, RoomKind(room.kind), room_id), can_subscribe=False)
        claims = Claims(RECORDER_IDENTITY, RECORDER_NAME, Role.RECORDER.value, grants, time.time() + 600, {})
        await self.rooms.join(room_id, claims)

    async def release(self, room_id: str) -> None:
        await self.rooms.leave(room_id, RECORDER_IDENTITY)


async def lesson_facts(app: web.Application, room_id: str, index: RecordingIndex) -> LessonFacts:
    """What the room and its timetable entry say about the lesson: the metadata a resource starts with."""
    async with app[DB].session() as s:
        room = await s.get(RoomRecord, room_id)
        if room is None:
            return LessonFacts(room_id=room_id, title=index.title or room_id, room_kind=index.room_kind)
        host = await s.get(User, room.host_user_id) if room.host_user_id else None
        school = await s.get(School, host.school_id) if host and host.school_id else None
        member_ids = select(RoomMember.classroom_id).where(RoomMember.room_id == room_id)
        present_ids = select(PresenceRecord.classroom_id).where(PresenceRecord.room_id == room_id)
        rows = await s.execute(
            select(School.name, Classroom.name, RoomMember.role)
            .join(Classroom, Classroom.school_id == School.id)
            .outerjoin(
                RoomMember, (RoomMember.classroom_id == Classroom.id) & (RoomMember.room_id == room_id)
            )
            .where(Classroom.id.in_(member_ids) | Classroom.id.in_(present_ids))
            .order_by(RoomMember.role.desc(), School.name)
        )
        classrooms = list(dict.fromkeys(f"{sch} {name}".strip() for sch, name, _ in rows))
        if school is None:
            hub = (
                await s.execute(
                    select(School)
                    .join(Classroom, Classroom.school_id == School.id)
                    .join(RoomMember, RoomMember.classroom_id == Classroom.id)
                    .where(RoomMember.room_id == room_id, RoomMember.role == "hub_classroom")
                    .limit(1)
                )
            ).scalar_one_or_none()
            school = hub
        return LessonFacts(
            room_id=room_id,
            title=room.title,
            room_kind=room.kind,
            subject=subject_label(room.subject),  # timetable rooms carry a key ("english"): file as 英语
            grade=room.grade,
            teacher_user_id=host.id if host else None,
            teacher_name=host.display_name if host else "",
            school_id=school.id if school else None,
            school_name=school.name if school else "",
            classrooms=classrooms,
            started_at=room.live_at or room.scheduled_start,
            timetable_ref=room.timetable_ref or "",
        )


async def _start(app: web.Application) -> None:
    settings = app[SETTINGS]
    root = settings.media_dir / "recordings"
    storage = app[STORAGE] = open_storage(settings.storage_url, settings.media_dir)
    spool = app[SPOOL] = Spool(storage, settings.spool_dir, retry_max=settings.storage_retry_max)
    spool.start()
    archive = Archive(storage, spool, root)
    media = app[MEDIA]
    source = media if media is not None and hasattr(media, "attach_sink") else None

    async def filed(index: RecordingIndex, directory: Path) -> None:
        facts = await lesson_facts(app, index.room_id, index)
        async with app[DB].session() as s:
            resource = await create_from_recording(s, facts, index.recording_id, index)
            audit(s, RECORDER_IDENTITY, "library.record", f"resource:{resource.id}", title=resource.title,
                  recording=index.recording_id, recovered=index.recovered, lost_seconds=index.lost_seconds)  # fmt: skip
            await s.commit()
        if index.tracks:
            app[LIBRARY].composites.submit(directory)

    async def composited(job: CompositeJob) -> None:
        archive.composited(job.directory)

    recorder = RecorderService(root, app[BUS], source, RoomSeat(app[ROOMS]), filed, archive=archive)
    composites = CompositeQueue(on_done=composited)
    app[LIBRARY] = Library(recorder, composites, root, archive)
    rooms: RoomService = app[ROOMS]

    async def observe(room: Room) -> None:
        if room.record and room.state.value in ("open", "live") and not recorder.watching(room.id):
            await recorder.watch(room.id, room_channel(room.id), room.snapshot())

    rooms.add_observer(observe)
    composites.start()
    await recorder.start()
    composites.requeue_missing(root)


async def _stop(app: web.Application) -> None:
    library = app.get(LIBRARY)
    if library is not None:
        await library.recorder.close()
        await library.composites.stop()
        await library.archive.spool.close()  # what is not uploaded yet stays spooled for the next start


# -- helpers -------------------------------------------------------------------------------------------


async def actor_of(request: web.Request, *, required: bool = False) -> Actor:
    try:
        user = await current_user(request)
    except ApiError:
        if required:
            raise
        return ANONYMOUS
    return Actor(user.id, user.username, user.role, user.school_id)


def _int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "invalid_field", f"{name} must be a whole number", name) from None


def _date(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_field", f"{name} must be a date like 2026-09-01", name) from None


async def _resource(request: web.Request, s: Any, actor: Actor) -> Resource:
    try:
        rid = int(request.match_info["id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such resource", "id") from None
    r = await s.get(Resource, rid)
    if r is None or not can_view(actor, r):
        raise ApiError(404, "not_found", "no such resource", "id")  # never confirm what one may not see
    return r


async def _media_state(library: Library, r: Resource) -> dict[str, Any]:
    """Tracks, markers and the MP4's state, from the local copy or the node's Storage."""
    rid = r.recording_id or ""
    try:
        index = await library.archive.index(rid)
        mp4 = await library.archive.size(rid, MP4_NAME) is not None
    except StorageError:
        index, mp4 = None, False  # the store is unreachable: the page shows the lesson without media
    out: dict[str, Any] = {"mp4": mp4, "tracks": [], "markers": [], "job": None}
    if index is not None:
        out["tracks"] = [t.model_dump(mode="json") for t in index.tracks]
        out["markers"] = [m.model_dump(mode="json") for m in index.markers]
        out["duration"] = index.duration
        out["recovered"], out["lost_seconds"] = index.recovered, index.lost_seconds
    job = library.composites.status(rid)
    if job is not None:
        out["job"] = job.as_dict() | {"position": library.composites.position(job.recording_id)}
    return out


# -- handlers ------------------------------------------------------------------------------------------


async def list_resources(request: web.Request) -> web.Response:
    await ensure_curriculum(request.app)
    actor = await actor_of(request)
    q = Query(
        text=request.query.get("q", "")[:200],
        subject=request.query.get("subject") or None,
        grade=_int(request, "grade"),
        school_id=_int(request, "school_id"),
        teacher_user_id=_int(request, "teacher_id"),
        knowledge_point_id=_int(request, "kp"),
        textbook_node_id=_int(request, "node"),
        date_from=_date(request, "from"),
        date_to=_date(request, "to"),
        status=request.query.get("status") or None,
        limit=_int(request, "limit") or 20,
        offset=_int(request, "offset") or 0,
    )
    async with request.app[DB].session() as s:
        result = await search(s, q, actor)
        items = [await resource_json(s, r) for r in result.resources]
    return web.json_response({
        "total": result.total, "resources": items,
        "facets": {k: [{"value": v, "count": n} for v, n in vals] for k, vals in result.facets.items()},
    })  # fmt: skip


async def get_resource(request: web.Request) -> web.Response:
    await ensure_curriculum(request.app)
    actor = await actor_of(request)
    async with request.app[DB].session() as s:
        r = await _resource(request, s, actor)
        out = await resource_json(s, r, detail=True)
        steps = (
            await s.execute(select(ReviewStep).where(ReviewStep.resource_id == r.id).order_by(ReviewStep.id))
        ).scalars()
        out["review"] = [step_json(x) for x in steps]
        near = await related(s, r, actor)
        out["related"] = [
            {
                "id": x.resource.id,
                "title": x.resource.title,
                "teacher": x.resource.teacher_name,
                "reason": x.reason,
                "via": x.via,
            }
            for x in near
        ]
        suggested = []
        if r.textbook_node_id:
            node = await s.get(TextbookNode, r.textbook_node_id)
            idents = json.loads(node.knowledge or "[]") if node else []
            if idents:
                rows = await s.execute(select(KnowledgePoint).where(KnowledgePoint.identifier.in_(idents)))
                suggested = [{"id": kp.id, "name": kp.name} for kp in rows.scalars()]
    out["suggested_knowledge"] = suggested
    out["actions"] = allowed_actions(actor, r)
    out["can_edit"] = can_edit(actor, r)
    out["can_download"] = can_download(actor, r)
    out["media"] = await _media_state(request.app[LIBRARY], r)
    return web.json_response({"resource": out})


class ResourcePatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    textbook_node_id: int | None = None
    knowledge_point_ids: list[int] | None = Field(default=None, max_length=50)


async def patch_resource(request: web.Request) -> web.Response:
    await ensure_curriculum(request.app)
    actor = await actor_of(request, required=True)
    body = await parse_body(request, ResourcePatch)
    async with request.app[DB].session() as s:
        r = await _resource(request, s, actor)
        if not can_edit(actor, r):
            raise ApiError(
                403, "forbidden", "only a coordinator, or the teacher while it is a draft, may edit"
            )
        try:
            await set_catalogue(s, r, **body.model_dump(exclude_unset=True))
        except ResourceError as e:
            raise api_error(e) from e
        audit(s, actor.username, "library.edit", f"resource:{r.id}", fields=sorted(body.model_fields_set))
        await s.commit()
        return web.json_response({"resource": await resource_json(s, r, detail=True)})


class ReviewBody(BaseModel):
    action: str = Field(min_length=1, max_length=16)
    scope: str | None = Field(default=None, max_length=16)
    comment: str = Field(default="", max_length=2000)


async def review_resource(request: web.Request) -> web.Response:
    actor = await actor_of(request, required=True)
    body = await parse_body(request, ReviewBody)
    async with request.app[DB].session() as s:
        r = await _resource(request, s, actor)
        try:
            step = await apply_review(s, actor, r, body.action, body.scope, body.comment)
        except ReviewError as e:
            raise api_error(e) from e
        await s.commit()
        return web.json_response({"status": r.status, "scope": r.scope, "step": step_json(step)})


async def _file(request: web.Request, *, download: bool) -> web.StreamResponse:
    actor = await actor_of(request)
    async with request.app[DB].session() as s:
        r = await _resource(request, s, actor)
        if download and not can_download(actor, r):
            raise ApiError(
                403, "forbidden", "downloading the lesson is for its school's and the county's teachers"
            )
        if download:
            audit(s, actor.username, "library.download", f"resource:{r.id}", title=r.title)
            await s.commit()
    archive: Archive = request.app[LIBRARY].archive
    rid, name = r.recording_id or "", MP4_NAME if download else request.match_info["file"]
    index = await archive.index(rid)
    allowed = {MP4_NAME} | ({t.file for t in index.tracks} if index is not None else set())
    size = await archive.size(rid, name) if name in allowed else None
    if size is None:
        raise ApiError(404, "not_found", "this file is not ready", "file")
    headers = {
        "Content-Type": PLAYABLE.get(Path(name).suffix, "application/octet-stream"),
        "Cache-Control": "private",
    }
    if download:
        headers["Content-Disposition"] = f'attachment; filename="lesson-{r.id}.mp4"'
    path = archive.local(rid, name)
    if path is not None:
        return web.FileResponse(path, headers=headers)
    if not download:  # playback: the browser fetches (and seeks in) the object from the store itself
        url = await archive.url(rid, name)
        if url is not None:
            raise web.HTTPFound(url, headers={"Cache-Control": "private, no-store"})
    response = web.StreamResponse(headers=headers | {"Content-Length": str(size)})
    await response.prepare(request)
    async for chunk in archive.stream(rid, name):  # the download keeps its name and its audit line
        await response.write(chunk)
    await response.write_eof()
    return response


async def media_file(request: web.Request) -> web.StreamResponse:
    return await _file(request, download=False)


async def download(request: web.Request) -> web.StreamResponse:
    return await _file(request, download=True)


async def textbooks(request: web.Request) -> web.Response:
    await ensure_curriculum(request.app)
    parent = _int(request, "parent")
    async with request.app[DB].session() as s:
        nodes = await catalogue.children(s, parent)
        trail = await catalogue.lineage(s, parent) if parent else []
    return web.json_response({
        "nodes": [catalogue.node_json(n) for n in nodes],
        "trail": [catalogue.node_json(n) for n in trail],
    })  # fmt: skip


async def frameworks(request: web.Request) -> web.Response:
    await ensure_curriculum(request.app)
    async with request.app[DB].session() as s:
        rows = (
            await s.execute(
                select(KnowledgeFramework).order_by(KnowledgeFramework.stage, KnowledgeFramework.subject)
            )
        ).scalars()
        return web.json_response({"frameworks": [
            {"id": f.id, "identifier": f.identifier, "title": f.title, "stage": f.stage, "subject": f.subject}
            for f in rows
        ]})  # fmt: skip


async def framework_tree(request: web.Request) -> web.Response:
    await ensure_curriculum(request.app)
    fid = int(request.match_info["id"]) if request.match_info["id"].isdigit() else -1
    async with request.app[DB].session() as s:
        fw = await s.get(KnowledgeFramework, fid)
        if fw is None:
            raise ApiError(404, "not_found", "no such knowledge framework", "id")
        return web.json_response(
            {"framework": {"id": fw.id, "title": fw.title}, "tree": await knowledge.tree(s, fw.id)}
        )


async def import_knowledge(request: web.Request) -> web.Response:
    await ensure_curriculum(request.app)
    actor = await actor_of(request, required=True)
    if actor.role != "coordinator":
        raise ApiError(403, "forbidden", "knowledge frameworks are imported by a coordinator")
    raw = await request.read()
    try:
        fw = knowledge.parse_framework(raw)
    except knowledge.KnowledgeFormatError as e:
        raise ApiError(400, "invalid_field", e.message, e.field) from e
    async with request.app[DB].session() as s:
        try:
            row = await knowledge.import_framework(s, fw)
        except knowledge.KnowledgeFormatError as e:
            raise ApiError(400, "invalid_field", e.message, e.field) from e
        audit(s, actor.username, "library.knowledge_import", fw.CFDocument.identifier, items=len(fw.CFItems))
        await s.commit()
        return web.json_response(
            {"framework": {"id": row.id, "identifier": row.identifier, "items": len(fw.CFItems)}}
        )


async def jobs(request: web.Request) -> web.Response:
    actor = await actor_of(request, required=True)
    if actor.role not in ("coordinator", "teacher"):
        raise ApiError(403, "forbidden", "the MP4 queue is for teachers and coordinators")
    queue = request.app[LIBRARY].composites
    return web.json_response({"jobs": [
        j.as_dict() | {"position": queue.position(j.recording_id)} for j in queue.jobs.values()
    ]})  # fmt: skip


async def recording_status(request: web.Request) -> web.Response:
    """Whether a room is being recorded now (the "录制中" badge)."""
    rec = request.app[LIBRARY].recorder.recording_of(request.match_info["room"])
    return web.json_response({"recording": rec is not None, "elapsed": round(rec.elapsed(), 1) if rec else 0})


def setup(app: web.Application) -> None:
    tag = "library"
    route(
        app,
        "GET",
        "/api/library/resources",
        list_resources,
        "Search resources (?q, subject, grade, school_id, teacher_id, kp, node, from, to, status)",
        tag=tag,
        auth=False,
    )
    route(
        app,
        "GET",
        "/api/library/resources/{id}",
        get_resource,
        "A resource: metadata, review, media, related",
        tag=tag,
        auth=False,
    )
    route(
        app,
        "PATCH",
        "/api/library/resources/{id}",
        patch_resource,
        "File under a chapter, tag, retitle",
        ResourcePatch,
        tag,
    )
    route(
        app,
        "POST",
        "/api/library/resources/{id}/review",
        review_resource,
        f"Review step: submit, return, approve, publish (scope {'/'.join(SCOPES)}), unpublish",
        ReviewBody,
        tag,
    )
    route(
        app,
        "GET",
        "/api/library/resources/{id}/media/{file}",
        media_file,
        "A track or the MP4, for playback",
        tag=tag,
        auth=False,
    )
    route(app, "GET", "/api/library/resources/{id}/download", download, "Download the lesson MP4", tag=tag)
    route(
        app,
        "GET",
        "/api/library/textbooks",
        textbooks,
        "Textbook catalogue: children of ?parent",
        tag=tag,
        auth=False,
    )
    route(app, "GET", "/api/library/knowledge", frameworks, "Knowledge-point frameworks", tag=tag, auth=False)
    route(
        app,
        "GET",
        "/api/library/knowledge/{id}",
        framework_tree,
        "A knowledge-point tree",
        tag=tag,
        auth=False,
    )
    route(
        app,
        "POST",
        "/api/library/knowledge",
        import_knowledge,
        "Import a framework (docs/knowledge-format.md)",
        tag=tag,
    )
    route(app, "GET", "/api/library/jobs", jobs, "The MP4 composite queue with progress", tag=tag)
    route(
        app,
        "GET",
        "/api/library/recording/{room}",
        recording_status,
        "Is this room being recorded now",
        tag=tag,
        auth=False,
    )
    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)
