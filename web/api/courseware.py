"""Courseware over HTTP: a teacher uploads a file filed under a textbook section with knowledge points (a
draft resource; the library's review flow then applies), and anyone who may view it opens the file — a
classroom screen by its join code, as it reads its push list.

The upload is read off the wire within its limit, checked cheaply on the loop (`recorder.courseware`), parsed
for pages and text in the upload worker (`core.uploads.parse_in_worker`) and stored through the node's
Storage (local directory or S3)."""

from __future__ import annotations

from typing import cast
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from sqlalchemy import select

from core.audit import audit
from core.directory import Classroom, School
from core.storage import Storage, StorageError
from core.uploads import UploadRefused, parse_in_worker
from recorder.access import can_view
from recorder.courseware import (
    IMAGES,
    MAX_BYTES,
    MEDIA_TYPES,
    Upload,
    check_courseware,
    create_courseware,
    inspect,
    storage_key,
)
from recorder.filing import section_points
from recorder.models import Resource
from recorder.resources import resource_json
from recorder.review import Actor
from web.api.curriculum import ensure_curriculum
from web.api.library_request import actor_of
from web.auth import require_role
from web.errors import ApiError, upload_refused
from web.keys import DB, STORAGE
from web.limits import CODE_LIMIT
from web.openapi import route

FIELD_BYTES = 4096  # a form field (title, ids, description)
FIELDS = ("title", "textbook_node_id", "knowledge_point_ids", "description")


def _storage(request: web.Request) -> Storage:
    return cast(Storage, request.app[STORAGE])  # web.keys types it loosely (core.storage.Storage)


async def _read_form(request: web.Request) -> tuple[str, bytes, dict[str, str]]:
    """The one file (name, bytes) and the text fields, each read in chunks and refused past its limit."""
    if not request.content_type.startswith("multipart/"):
        raise ApiError(415, "unsupported_media_type", "send the file as multipart/form-data (请以表单上传文件)", "file")
    if request.content_length is not None and request.content_length > MAX_BYTES + 64 * 1024:
        raise upload_refused(UploadRefused(413, "too_large", "file", f"max_bytes={MAX_BYTES}",
                                           f"课件超过 {MAX_BYTES >> 20} MiB 的上限",
                                           f"courseware is over the {MAX_BYTES >> 20} MiB limit"))
    name, blob, fields = "", b"", {}
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        limit = MAX_BYTES if part.filename else FIELD_BYTES
        chunks, size = [], 0
        while chunk := await part.read_chunk(64 * 1024):
            size += len(chunk)
            if size > limit:
                file = part.filename or part.name or "field"
                raise upload_refused(UploadRefused(413, "too_large", file, f"max_bytes={limit}",
                                                   f"{file} 超过 {limit} 字节的上限", f"{file} is over {limit} bytes"))
            chunks.append(chunk)
        if part.filename:
            if name:
                raise ApiError(400, "invalid_field", "upload one file at a time (每次上传一个文件)", "file")
            name, blob = part.filename, b"".join(chunks)
        elif part.name in FIELDS:
            fields[part.name] = b"".join(chunks).decode("utf-8", "replace").strip()
    if not name or not blob:
        raise ApiError(400, "invalid_field", "choose a file (请选择课件文件)", "file")
    return name, blob, fields


def _ids(raw: str, field: str) -> list[int]:
    try:
        return [int(x) for x in raw.replace("，", ",").split(",") if x.strip()]
    except ValueError:
        raise ApiError(400, "invalid_field", f"{field} are whole numbers, comma-separated", field) from None


async def upload(request: web.Request) -> web.Response:
    user = await require_role(request, "teacher", "coordinator")
    await ensure_curriculum(request.app)
    name, blob, fields = await _read_form(request)
    node = _ids(fields.get("textbook_node_id", ""), "textbook_node_id")
    if len(node) != 1:
        raise ApiError(400, "invalid_field", "choose the section this courseware is for (请选择章节)", "textbook_node_id")
    points = _ids(fields.get("knowledge_point_ids", ""), "knowledge_point_ids")
    if len(points) > 50:
        raise ApiError(400, "invalid_field", "at most 50 knowledge points", "knowledge_point_ids")
    title = fields.get("title", "")[:200] or name.rsplit(".", 1)[0][:200]
    try:
        check_courseware(blob, name)  # size, type, zip directory: milliseconds, before any worker
        info = await parse_in_worker(inspect, blob, name, file=name)
    except UploadRefused as e:
        raise upload_refused(e) from e
    async with request.app[DB].session() as s:
        school = await s.get(School, user.school_id) if user.school_id is not None else None
        if not points:  # none chosen: the section's own knowledge points, as a filed recording gets them
            points = await section_points(s, node[0])
        r = await create_courseware(s, Upload(
            title=title, file_name=name, textbook_node_id=node[0], knowledge_point_ids=points,
            teacher_user_id=user.id, teacher_name=user.display_name, school_id=user.school_id,
            school_name=school.name if school else "", description=fields.get("description", "")[:4000],
        ), info, len(blob))  # fmt: skip
        r.file_key = storage_key(r.id, info.file_type)
        try:
            store = _storage(request)
            await store.put_bytes(r.file_key, blob)
        except StorageError as e:
            raise ApiError(503, "storage_unavailable", "the file store is unreachable; try again", "file") from e
        audit(s, user.username, "library.courseware_upload", f"resource:{r.id}", title=r.title,
              type=info.file_type, size=len(blob))
        await s.commit()
        out = await resource_json(s, r, detail=True)
    return web.json_response({"resource": out}, status=201)


async def _viewer(request: web.Request) -> Actor:
    """The logged-in person, or a classroom screen naming itself by its join code (?code=)."""
    code = request.query.get("code", "").strip().upper()[:32]
    if not code:
        return await actor_of(request)
    limiter, client = request.app[CODE_LIMIT], request.remote or "?"
    if not limiter.begin(client, code):  # counted before any await (web.limits.CodeLimiter)
        raise ApiError(429, "too_many_attempts", "too many wrong codes; wait a minute", "code")
    async with request.app[DB].session() as s:
        c = (await s.execute(select(Classroom).where(Classroom.join_code == code))).scalar_one_or_none()
    if c is None:
        raise ApiError(404, "bad_code", "no classroom has this code (加入码无效)", "code")
    limiter.succeeded(client, code)
    return Actor(None, f"classroom:{c.id}", "teacher", c.school_id)  # as progress_push: its school's view


async def courseware_file(request: web.Request) -> web.StreamResponse:
    actor = await _viewer(request)
    try:
        rid = int(request.match_info["id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such resource", "id") from None
    async with request.app[DB].session() as s:
        r = await s.get(Resource, rid)
        if r is None or r.kind != "courseware" or not r.file_key or not can_view(actor, r):
            raise ApiError(404, "not_found", "no such courseware", "id")  # never confirm what one may not see
        audit(s, actor.username or request.remote or "?", "library.courseware_open", f"resource:{r.id}")
        await s.commit()
    inline = r.file_type == "pdf" or r.file_type in IMAGES
    headers = {
        "Content-Type": MEDIA_TYPES.get(r.file_type, "application/octet-stream"),
        "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename=\"courseware-{r.id}.{r.file_type}\"; "
                               f"filename*=UTF-8''{quote(r.file_name)}",
        "Cache-Control": "private",
    }
    storage = _storage(request)
    path = storage.local_path(r.file_key)
    if path is not None:
        if not path.is_file():
            raise ApiError(404, "not_found", "the file is missing from the store", "id")
        return web.FileResponse(path, headers=headers)
    try:
        info = await storage.head(r.file_key)
        if info is None:
            raise ApiError(404, "not_found", "the file is missing from the store", "id")
        response = web.StreamResponse(headers=headers | {"Content-Length": str(info.size)})
        await response.prepare(request)
        async for chunk in storage.stream(r.file_key):
            await response.write(chunk)
    except StorageError as e:
        raise ApiError(503, "storage_unavailable", "the file store is unreachable; try again", "id") from e
    await response.write_eof()
    return response


def setup(app: web.Application) -> None:
    tag = "library"
    route(app, "POST", "/api/library/courseware", upload,
          "Upload courseware (multipart: file, title, textbook_node_id, knowledge_point_ids, description)", tag=tag)
    route(app, "GET", "/api/library/resources/{id}/file", courseware_file,
          "Open a courseware file (?code= for a classroom screen)", tag=tag, auth=False)
