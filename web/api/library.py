"""The resource library over HTTP, and the wiring of the recorder into the running node.

Wiring: the recorder follows every room that records (a room observer hands it the room; events come
over the bus), sits in the room as "录制中", and when a lesson ends its recording is filed as a draft
resource with the lesson's facts (room, host, school, classrooms, timetable entry) and queued for its MP4.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from core.audit import audit
from core.storage import StorageError
from recorder import wiring
from recorder.access import can_download, can_edit, can_view
from recorder.archive import Archive
from recorder.composite import MP4_NAME
from recorder.index import RecordingIndex
from recorder.models import KnowledgePoint, Resource, ReviewStep, TextbookNode
from recorder.related import related
from recorder.resources import LessonFacts, ResourceError, resource_json, set_catalogue
from recorder.review import SCOPES, Actor, ReviewError, allowed_actions, apply_review, step_json
from recorder.search import Query, search
from web.api.curriculum import LIBRARY, ensure_curriculum
from web.api.library_request import actor_of, query_date, query_int
from web.api.progress_sections import ProgressTaught
from web.errors import ApiError, api_error, parse_body
from web.keys import BUS, DB, MEDIA, ROOMS, SETTINGS, SPOOL, STORAGE
from web.limits import SeenOnce
from web.openapi import route

PLAYABLE = {".webm": "video/webm", ".mkv": "video/x-matroska", ".mp4": "video/mp4"}




# -- wiring --------------------------------------------------------------------------------------------


async def lesson_facts(app: web.Application, room_id: str, index: RecordingIndex) -> LessonFacts:
    return await wiring.lesson_facts(app[DB], room_id, index)


class _Library(contextlib.AbstractAsyncContextManager[None]):
    """The recorder and its library as one cleanup context (recorder.wiring.running).

    Not an async generator: when a stop was cut short (a test's bound, a second signal), the loop's closing
    closed such a generator and the `running` generator inside it at the same time ("athrow(): asynchronous
    generator is already running"). Its exit runs once, however often or concurrently it is called."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._running: contextlib.AbstractAsyncContextManager[wiring.Library] | None = None
        self._exit: asyncio.Task[bool | None] | None = None

    async def __aenter__(self) -> None:
        app = self._app
        running = wiring.running(app[SETTINGS], app[DB], app[BUS], app[MEDIA], app[ROOMS], ProgressTaught(app[DB]))
        lib = await running.__aenter__()
        self._running = running
        app[LIBRARY], app[STORAGE], app[SPOOL] = lib, lib.storage, lib.spool

    async def __aexit__(self, *exc: Any) -> None:
        if self._running is None:
            return
        if self._exit is None:  # the first call runs the exit; any other waits for that one
            self._exit = asyncio.ensure_future(self._running.__aexit__(None, None, None))
        await asyncio.shield(self._exit)


# -- helpers -------------------------------------------------------------------------------------------


async def _resource(request: web.Request, s: Any, actor: Actor) -> Resource:
    try:
        rid = int(request.match_info["id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such resource", "id") from None
    r = await s.get(Resource, rid)
    if r is None or not can_view(actor, r):
        raise ApiError(404, "not_found", "no such resource", "id")  # never confirm what one may not see
    return r


async def _media_state(library: wiring.Library, r: Resource) -> dict[str, Any]:
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
        grade=query_int(request, "grade"),
        school_id=query_int(request, "school_id"),
        teacher_user_id=query_int(request, "teacher_id"),
        knowledge_point_id=query_int(request, "kp"),
        textbook_node_id=query_int(request, "node"),
        date_from=query_date(request, "from"),
        date_to=query_date(request, "to"),
        status=request.query.get("status") or None,
        limit=query_int(request, "limit") or 20,
        offset=query_int(request, "offset") or 0,
    )
    async with request.app[DB].session() as s:
        result = await search(s, q, actor)
        items = [await resource_json(s, r) for r in result.resources]
    return web.json_response({
        "total": result.total, "resources": items, "relaxed": result.relaxed, "terms": result.terms,
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
    if r.kind == "courseware":  # a file, not tracks: opened through web.api.courseware
        out["media"] = {"mp4": False, "tracks": [], "markers": [], "job": None}
        out["file"]["url"] = f"/api/library/resources/{r.id}/file"
        return web.json_response({"resource": out})
    out["media"] = await _media_state(request.app[LIBRARY], r)
    if out["media"]["mp4"] and not out["can_download"]:  # the MP4 is for those who may download; others play tracks
        out["media"].update(mp4=False, job=None, mp4_for_download_only=True)
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
    """The MP4 leaves with the download grant on every route (it is one file to copy); tracks stream for
    playback with the view grant. Both are audited (playback once per person, resource and hour)."""
    actor = await actor_of(request)
    name = MP4_NAME if download else request.match_info["file"]
    async with request.app[DB].session() as s:
        r = await _resource(request, s, actor)
        if name == MP4_NAME and not can_download(actor, r):
            raise ApiError(
                403, "forbidden", "downloading the lesson is for its school's and the county's teachers"
            )
        archive: Archive = request.app[LIBRARY].archive
        rid = r.recording_id or ""
        index = await archive.index(rid)
        allowed = {MP4_NAME} | ({t.file for t in index.tracks} if index is not None else set())
        size = await archive.size(rid, name) if name in allowed else None
        if size is None:
            raise ApiError(404, "not_found", "this file is not ready", "file")
        who = actor.username or request.remote or "?"
        if name == MP4_NAME:
            audit(s, who, "library.download", f"resource:{r.id}", title=r.title,
                  route="download" if download else "media")
            await s.commit()
        elif request.app[PLAYBACK_SEEN].first(f"{who}|{r.id}"):
            audit(s, who, "library.play", f"resource:{r.id}", title=r.title)
            await s.commit()
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
    start, end, status = 0, size, 200
    if await archive.joined(rid, name) is not None:  # the broadcast's segments, joined: seekable by range
        headers["Accept-Ranges"] = "bytes"
        try:
            asked = request.http_range
        except ValueError:  # a malformed Range header: the whole file, as if none was sent
            asked = slice(None, None)
        if asked.start is not None or asked.stop is not None:
            start, end, _ = asked.indices(size)
            if start >= end:
                raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response = web.StreamResponse(status=status, headers=headers | {"Content-Length": str(end - start)})
    await response.prepare(request)
    async for chunk in archive.stream(rid, name, start, end):  # the download keeps its name and its audit line
        await response.write(chunk)
    await response.write_eof()
    return response


async def media_file(request: web.Request) -> web.StreamResponse:
    return await _file(request, download=False)


async def download(request: web.Request) -> web.StreamResponse:
    return await _file(request, download=True)


PLAYBACK_SEEN = web.AppKey("playback_seen", SeenOnce)


def setup(app: web.Application) -> None:
    app[PLAYBACK_SEEN] = SeenOnce()
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
    from web.api import library_catalogue

    library_catalogue.setup(app)
    app.cleanup_ctx.append(_Library)
