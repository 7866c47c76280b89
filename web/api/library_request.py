"""Reading a library request: who is asking (as the library's `Actor`) and the numeric and date query
fields, each a clear 400 when malformed. Shared by the library, catalogue, courseware and push routes."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from recorder.review import ANONYMOUS, Actor
from web.auth import current_user
from web.errors import ApiError


async def actor_of(request: web.Request, *, required: bool = False) -> Actor:
    try:
        user = await current_user(request)
    except ApiError:
        if required:
            raise
        return ANONYMOUS
    return Actor(user.id, user.username, user.role, user.school_id)


def query_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "invalid_field", f"{name} must be a whole number", name) from None


def query_date(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_field", f"{name} must be a date like 2026-09-01", name) from None
