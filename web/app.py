"""The aiohttp application: database, bus, rooms, signaling and (when present) the SFU, in one process."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from core import uploads
from core.bus import Bus, RedisBus, create_bus
from core.contracts import Sfu
from core.db import Database
from core.nodes import NodeRegistry
from core.settings import Settings
from core.tokens import TokenSigner
from core.turn import turn_from_settings
from media.workers import open_sfu
from rooms.presence_beat import PresenceBeat
from rooms.service import RoomService
from rooms.store import RoomStore
from signaling.hub import SignalingHub
from web import auth, guards
from web.errors import error_middleware
from web.failed_logins import failed_logins_ctx
from web.heap import settled_heap
from web.keys import BUS, DB, HUB, MEDIA, NODES, OPENAPI, ROOMS, SETTINGS, TOKENS
from web.openapi import new_spec
from web.ws import SOCKETS, close_all, websocket

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
API_MODULES = [
    "web.api.directory", "web.api.rooms", "web.api.audit", "web.metrics", "web.api.netcheck", "web.api.scheduler",
    "web.api.library", "web.api.progress", "web.api.classwork", "web.api.evaluation", "web.api.planning",
    "web.api.calendar", "web.api.courseware", "web.api.admin", "web.demo.api", "web.api.hls",
]


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


async def health(request: web.Request) -> web.Response:
    """Up, and whether the bus answers: 503 with `bus: down` while Redis is away (the node still serves
    its connected participants; a load balancer should send no new ones here)."""
    bus = "up" if await request.app[BUS].check() else "down"
    return web.json_response({"ok": bus == "up", "node": request.app[SETTINGS].node_id, "bus": bus},
                             status=200 if bus == "up" else 503)


async def page(request: web.Request) -> web.FileResponse:
    name = request.match_info.get("page") or "index"
    path = STATIC / f"{name}.html"
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


async def upload_worker_ctx(app: web.Application) -> AsyncIterator[None]:
    """Warm the upload parser's worker process in the background, so the first upload does not wait."""
    task = asyncio.create_task(uploads.start_worker())
    yield
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        await task


SFU_TAPS = ("recorder.tap",)  # what runs inside the SFU's worker processes besides forwarding


async def going_away(app: web.Application) -> None:
    """SIGTERM (aiohttp's on_shutdown, before it waits for handlers): tell every participant the server is
    restarting (1012, so clients reconnect to the next process or node), and stop running solves (CP-SAT
    included) while the sockets close. Recordings are finalised and filed when the library's context exits."""
    from signaling.session import CloseCode
    from web.api.scheduler import JOBS

    if (hub := app.get(HUB)) is not None:
        hub.closing = True  # a media worker that does not answer must not hold each connection's close
    jobs = app.get(JOBS)
    solves = asyncio.create_task(jobs.cancel_all()) if jobs is not None else None
    closed = await close_all(app, CloseCode.SERVICE_RESTART, "server restarting / 服务器重启")
    cancelled = await solves if solves is not None else 0
    log.info("shutdown: closed %d connection(s) with 1012, cancelled %d running solve(s)", closed, cancelled)


def create_app(settings: Settings, media: Sfu | None = None, with_media: bool = True) -> web.Application:
    settings.prepare()
    app = web.Application(middlewares=[error_middleware, guards.csrf_middleware], client_max_size=1024 * 1024)
    app[SETTINGS] = settings
    app[OPENAPI] = new_spec()
    app[TOKENS] = TokenSigner(settings.secret_keys())
    app[SOCKETS] = {}
    app.on_shutdown.append(going_away)
    guards.setup(app)
    auth.setup(app)
    app.router.add_get("/api/openapi.json", openapi)
    app.router.add_get("/api/health", health)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/", page)
    app.router.add_get("/{page:[a-z0-9-]+}", page)
    app.router.add_static("/static/", STATIC, append_version=False)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        db = Database(settings.db_url)
        await db.migrate()
        bus: Bus = create_bus(settings.redis_url)
        nodes = None
        if isinstance(bus, RedisBus):
            await bus.ping()
            nodes = NodeRegistry(bus, settings.node_id, settings.address)
            await nodes.start()
        app[NODES] = nodes
        rooms = RoomService(bus, RoomStore(db), settings.node_id, settings.resume_grace)
        beat = PresenceBeat(rooms, db)
        await beat.recover()  # spans a crashed process left open end at their last beat
        beat.start()
        app[DB], app[BUS], app[ROOMS] = db, bus, rooms
        sfu = await open_sfu(settings, taps=SFU_TAPS) if with_media and media is None else None
        app[MEDIA] = media if media is not None else sfu
        turn = turn_from_settings(settings.turn_urls, settings.data_dir, settings.turn_ttl)
        app[HUB] = SignalingHub(rooms, app[TOKENS], app[MEDIA], turn.ice_servers if turn else None)
        yield
        if (sfu := app[MEDIA]) is not None:
            await sfu.close()
        await beat.stop()
        await rooms.close()
        if nodes is not None:
            await nodes.stop()
        await bus.close()
        await db.close()

    app.cleanup_ctx.append(lifecycle)
    app.cleanup_ctx.append(failed_logins_ctx)
    app.cleanup_ctx.append(auth.revocations_ctx)
    app.cleanup_ctx.append(upload_worker_ctx)
    # after the lifecycle: a module's own cleanup context starts once the database is up and ends before it closes
    for name in API_MODULES:
        importlib.import_module(name).setup(app)
    app.cleanup_ctx.append(settled_heap)  # last: what the contexts above started is frozen with the rest
    return app
