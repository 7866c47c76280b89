"""The audit log, for coordinators."""

from __future__ import annotations

import json

from aiohttp import web
from sqlalchemy import select

from core.audit import AuditEntry
from web.auth import require_role
from web.keys import DB
from web.openapi import route


async def list_audit(request: web.Request) -> web.Response:
    await require_role(request, "coordinator")
    action = request.query.get("action")
    async with request.app[DB].session() as s:
        q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(500)
        if action:
            q = q.where(AuditEntry.action == action)
        rows = (await s.execute(q)).scalars()
        return web.json_response({"entries": [
            {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
             "detail": json.loads(e.detail)} for e in rows
        ]})


def setup(app: web.Application) -> None:
    route(app, "GET", "/api/audit", list_audit, "The audit log (?action=…)", tag="audit")
