"""The library's catalogue over HTTP: textbook tree, knowledge-point frameworks and their import, the MP4
queue and the "录制中" badge. Split from `web/api/library.py` (resources, review, files)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from core.audit import audit
from core.uploads import UploadRefused, parse_in_worker
from recorder import catalogue, knowledge
from recorder.models import KnowledgeFramework
from web.api.curriculum import LIBRARY, ensure_curriculum
from web.api.library_request import actor_of, query_int
from web.errors import ApiError, upload_refused
from web.keys import DB
from web.openapi import route


async def textbooks(request: web.Request) -> web.Response:
    await ensure_curriculum(request.app)
    parent = query_int(request, "parent")
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
    try:  # parsed in the upload worker: limits on size, depth and items, off the event loop
        fw = await parse_in_worker(knowledge.parse_framework, raw, file="knowledge.json")
    except UploadRefused as e:
        raise upload_refused(e) from e
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
