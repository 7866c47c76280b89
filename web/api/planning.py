"""Rooms of every kind from the browser: the teacher directory to invite from, a co-teaching or broadcast
room with its invitees or audience, invitations, each person's calendar link, and watching by link."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from core.audit import audit
from core.directory import School, User
from rooms.planning import Plan, RoomPlan, create_planned_room, invitations
from rooms.records import RoomRecord
from rooms.roles import Role, RoomKind
from web.api.rooms import _token_response, room_json
from web.auth import current_user, require_role
from web.errors import ApiError, parse_body
from web.keys import DB
from web.limits import CodeLimiter
from web.openapi import route

GUEST_LIMIT = web.AppKey("guest_limit", CodeLimiter)


class PlanBody(BaseModel):
    kind: RoomKind
    title: str = Field(min_length=1, max_length=200)
    subject: str = Field(default="", max_length=32)
    grade: int = Field(default=0, ge=0, le=12)
    purpose: str = Field(default="", max_length=16)
    scheduled_start: datetime | None = None
    scheduled_end: datetime | None = None
    host_user_id: int | None = None  # a coordinator plans for a teacher; a teacher plans for herself
    invite_user_ids: list[int] = Field(default_factory=list, max_length=100)
    invite_school_ids: list[int] = Field(default_factory=list, max_length=50)
    audience_school_ids: list[int] = Field(default_factory=list, max_length=300)
    audience_grades: list[int] = Field(default_factory=list, max_length=12)
    public: bool = False


class GuestBody(BaseModel):
    key: str = Field(min_length=8, max_length=40)
    name: str = Field(default="", max_length=40)


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"  # the address this person reached us by


async def teachers(request: web.Request) -> web.Response:
    """Teachers to invite, by name or school (?q=, ?school_id=); at most 50."""
    await require_role(request, "teacher", "coordinator")
    q = (request.query.get("q") or "").strip()[:40]
    query = (select(User, School.name).outerjoin(School, School.id == User.school_id)
             .where(User.role == "teacher", User.active.is_(True)).order_by(User.display_name).limit(50))
    if q:
        like = f"%{q}%"
        query = query.where(or_(User.display_name.ilike(like), User.username.ilike(like), School.name.ilike(like)))
    if request.query.get("school_id", "").isdigit():
        query = query.where(User.school_id == int(request.query["school_id"]))
    async with request.app[DB].session() as s:
        rows = (await s.execute(query)).all()
    return web.json_response({"teachers": [
        {"id": u.id, "display_name": u.display_name, "school_id": u.school_id, "school": school or "",
         "subject": u.subject} for u, school in rows]})


async def plan_room(request: web.Request) -> web.Response:
    user = await require_role(request, "teacher", "coordinator")
    body = await parse_body(request, PlanBody)
    host = user.id
    if user.role == "coordinator":
        if body.host_user_id is None:
            raise ApiError(400, "invalid_field", "choose the teacher who leads it", "host_user_id")
        host = body.host_user_id
    plan = Plan(kind=body.kind, title=body.title, host_user_id=host, subject=body.subject, grade=body.grade,
                purpose=body.purpose, start=body.scheduled_start, end=body.scheduled_end,
                invite_user_ids=body.invite_user_ids, invite_school_ids=body.invite_school_ids,
                audience_school_ids=body.audience_school_ids, audience_grades=body.audience_grades,
                public=body.public)
    room, row, invited = await create_planned_room(request.app[DB], plan, user.username)
    async with request.app[DB].session() as s:
        audit(s, user.username, "room.plan", room.id, kind=body.kind.value, invited=invited)
        await s.commit()
    out = {"room": room_json(room), "invited": invited, "purpose": row.purpose}
    if row.link_key:
        out["watch_url"] = f"{_base(request)}/watch?room={room.id}&key={row.link_key}"
    return web.json_response(out, status=201)


async def my_invitations(request: web.Request) -> web.Response:
    user = await current_user(request)
    return web.json_response({"invitations": await invitations(request.app[DB], user.id)})


async def guest_token(request: web.Request) -> web.Response:
    """名校网络课堂 opened to anyone with the link: a watch-only token, no account."""
    body = await parse_body(request, GuestBody)
    limiter, client = request.app[GUEST_LIMIT], request.remote or "?"
    if not limiter.begin(client, body.key):  # counted before any await (web.limits.CodeLimiter)
        raise ApiError(429, "too_many_attempts", "too many wrong links; wait a minute", "key")
    async with request.app[DB].session() as s:
        r = await s.get(RoomRecord, request.match_info["id"])
        plan = await s.get(RoomPlan, request.match_info["id"])
    if r is None or plan is None or not plan.link_key or not hmac.compare_digest(plan.link_key, body.key):
        raise ApiError(404, "bad_link", "this watch link is not valid", "key")
    limiter.succeeded(client, body.key)
    if r.state == "ended":
        raise ApiError(409, "room_ended", "this lesson has ended", "id")
    name = body.name.strip() or "观众"
    return _token_response(request, r, f"guest:{secrets.token_hex(6)}", name, Role.VIEWER, {"side": ""})


def setup(app: web.Application) -> None:
    app[GUEST_LIMIT] = CodeLimiter(limit=10, window=60.0)
    tag = "planning"
    route(app, "GET", "/api/people/teachers", teachers, "Teachers to invite (?q=, ?school_id=)", tag=tag)
    route(app, "POST", "/api/rooms/plan", plan_room, "Create a co-teaching or broadcast room", PlanBody, tag)
    route(app, "GET", "/api/me/invitations", my_invitations, "Rooms I am invited to", tag=tag)
    route(app, "POST", "/api/rooms/{id}/guest-token", guest_token, "Watch by link (broadcast)", GuestBody, tag,
          auth=False)
