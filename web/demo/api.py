"""GET /api/demo: whether this server holds demo data and which, so that the pages can say so."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from web.demo.models import DemoMark
from web.keys import DB, SETTINGS
from web.openapi import route


async def demo_status(request: web.Request) -> web.Response:
    async with request.app[DB].session() as s:
        counts = dict((await s.execute(select(DemoMark.kind, func.count()).group_by(DemoMark.kind))).all())
        resources = list((await s.execute(select(DemoMark.ref).where(DemoMark.kind == "lib_resources"))).scalars())
    plan_file = request.app[SETTINGS].data_dir / "demo.json"
    return web.json_response({
        "demo": bool(counts), "rooms": counts.get("rooms", 0), "resources": [int(r) for r in resources],
        "seeded": plan_file.exists(),
    })


def setup(app: web.Application) -> None:
    route(app, "GET", "/api/demo", demo_status, "Whether this server holds demo data (seeded rooms, resources)",
          tag="demo", auth=False)
