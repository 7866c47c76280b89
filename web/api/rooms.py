"""Rooms over HTTP: create and list lessons, mint join tokens, join a classroom by its code, attendance."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from core.db import utcnow
from core.directory import Classroom, School, User
from core.tokens import Grants
from rooms.records import PresenceRecord, RoomMember, RoomRecord
from rooms.roles import Role, RoomKind, grants_for
from rooms.store import RoomSpec, create_room
from rooms.visibility import Sight, full_view, listed, sight
from scheduler import store as county_store
from web.auth import current_user, require_role
from web.errors import ApiError, parse_body
from web.keys import BUS, DB, ROOMS, SETTINGS, TOKENS
from web.limits import CODE_LIMIT, CodeLimiter
from web.openapi import route


class RoomBody(BaseModel):
    kind: RoomKind
    title: str = Field(min_length=1, max_length=200)
    subject: str = Field(default="", max_length=32)
    grade: int = Field(default=0, ge=0, le=12)
    host_user_id: int | None = None
    hub_classroom_ids: list[int] = Field(default_factory=list, max_length=20)
    remote_classroom_ids: list[int] = Field(default_factory=list, max_length=200)
    coteacher_ids: list[int] = Field(default_factory=list, max_length=50)
    scheduled_start: datetime | None = None
    scheduled_end: datetime | None = None
    record: bool | None = None  # default: delivery and broadcast record, coteach on request
    stage_seats: int = Field(default=6, ge=1, le=12)


class RoomPatch(BaseModel):
    record: bool | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)


class ClassroomJoinBody(BaseModel):
    code: str = Field(min_length=4, max_length=16)
    room: str | None = Field(default=None, max_length=40)


def room_json(r: RoomRecord, members: list[RoomMember] | None = None) -> dict[str, object]:
    out: dict[str, object] = {
        "id": r.id, "kind": r.kind, "title": r.title, "state": r.state, "subject": r.subject, "grade": r.grade,
        "host_user_id": r.host_user_id, "record": r.record, "stage_seats": r.stage_seats,
        "timetable_ref": r.timetable_ref,
        "scheduled_start": r.scheduled_start.isoformat() if r.scheduled_start else None,
        "scheduled_end": r.scheduled_end.isoformat() if r.scheduled_end else None,
        "opened_at": r.opened_at.isoformat() if r.opened_at else None,
        "live_at": r.live_at.isoformat() if r.live_at else None,
        "ended_at": r.ended_at.isoformat() if r.ended_at else None,
    }
    if members is not None:
        out["members"] = [
            {"role": m.role, "user_id": m.user_id, "classroom_id": m.classroom_id} for m in members
        ]
    return out


async def _room_and_members(request: web.Request, room_id: str) -> tuple[RoomRecord, list[RoomMember]]:
    async with request.app[DB].session() as s:
        r = await s.get(RoomRecord, room_id)
        if r is None:
            raise ApiError(404, "not_found", "no such room", "id")
        members = list((await s.execute(select(RoomMember).where(RoomMember.room_id == room_id))).scalars())
        return r, members


async def list_rooms(request: web.Request) -> web.Response:
    """The lessons the user may see (rooms.visibility): in full with members and who is present, or (a
    broadcast of another school) only what joining needs."""
    user = await current_user(request)
    state = request.query.get("state")
    async with request.app[DB].session() as s:
        q = (select(RoomRecord, full_view(user).label("seen_full")).where(listed(user))
             .order_by(RoomRecord.scheduled_start, RoomRecord.created_at))
        if state:
            q = q.where(RoomRecord.state.in_(state.split(",")))
        rows = [(r, bool(full)) for r, full in (await s.execute(q.limit(500))).all()]
        shown = [r.id for r, full in rows if full]
        members = list((await s.execute(select(RoomMember).where(RoomMember.room_id.in_(shown)))).scalars())
    by_room: dict[str, list[RoomMember]] = defaultdict(list)
    for m in members:
        by_room[m.room_id].append(m)
    out = []
    for r, full in rows:
        if not full:
            out.append(room_json(r))
            continue
        d = room_json(r, by_room[r.id])
        if r.state in ("open", "live"):
            seen = [json.loads(v) for v in (await request.app[BUS].hgetall(f"room:{r.id}:participants")).values()]
            # the recorder is not a person: a recording flag for the row's badge, not a name in who is present
            d["recording"] = any(p.get("role") == Role.RECORDER.value for p in seen)
            d["present"] = [p for p in seen if not p.get("hidden") and p.get("role") != Role.RECORDER.value]
        out.append(d)
    return web.json_response({"rooms": out})


async def create_room_handler(request: web.Request) -> web.Response:
    user = await require_role(request, "coordinator", "teacher")
    body = await parse_body(request, RoomBody)
    host = body.host_user_id if user.role == "coordinator" else user.id
    record = body.record if body.record is not None else body.kind != RoomKind.COTEACH
    spec = RoomSpec(**body.model_dump(exclude={"host_user_id", "record"}), host_user_id=host, record=record)
    async with request.app[DB].session() as s:
        allowed = None if user.role == "coordinator" else await _pairable_schools(s, user)
        for field, ids in (("hub_classroom_ids", spec.hub_classroom_ids), ("remote_classroom_ids", spec.remote_classroom_ids)):
            rows = await s.execute(select(Classroom.id, Classroom.school_id).where(Classroom.id.in_(ids)))
            found: dict[int, int] = {cid: sid for cid, sid in rows.all()}
            if missing := [i for i in ids if i not in found]:
                raise ApiError(400, "not_found", f"no classroom {missing[0]}", field)
            if allowed is not None and (foreign := [i for i in ids if found[i] not in allowed]):
                raise ApiError(403, "not_paired", f"classroom {foreign[0]} is not in a school paired with yours "
                               f"(教室 {foreign[0]} 不属于与本校结对的学校)", field)
        record = await create_room(s, spec)
        audit(s, user.username, "room.create", record.id, title=spec.title, kind=spec.kind.value)
        await s.commit()
    r, members = await _room_and_members(request, record.id)
    return web.json_response({"room": room_json(r, members)}, status=201)


async def _pairable_schools(s: AsyncSession, user: User) -> set[int]:
    """The schools whose classrooms a teacher may put in her lesson: her own, and the remote schools paired
    with it in the county data (no pairings imported: every remote school, as the county format says)."""
    own = {user.school_id} if user.school_id is not None else set()
    remote = set((await s.execute(select(School.id).where(School.kind == "remote"))).scalars())
    current = await county_store.current_county(s)
    if current is None or not current[1].pairings or user.school_id is None:
        return own | remote
    ids = await county_store.links(s)
    mine = {ref for (kind, ref), did in ids.items() if kind == "school" and did == user.school_id}
    paired = {ids.get(("school", p.remote)) for p in current[1].pairings if p.hub in mine}
    return own | {i for i in paired if i is not None}


async def get_room(request: web.Request) -> web.Response:
    user = await current_user(request)
    room_id = request.match_info["id"]
    async with request.app[DB].session() as s:
        row = (await s.execute(
            select(RoomRecord, full_view(user).label("seen_full")).where(RoomRecord.id == room_id)
        )).first()
    seen = sight(bool(row[1]), row[0].kind) if row is not None else Sight.NONE
    if row is None or seen == Sight.NONE:
        raise ApiError(404, "not_found", "no such room", "id")  # never confirm what one may not see
    if seen == Sight.JOIN:
        return web.json_response({"room": room_json(row[0])})
    r, members = await _room_and_members(request, room_id)
    out = room_json(r, members)
    live = request.app[ROOMS].get(r.id)
    if live is not None:
        out["live"] = live.snapshot()
    return web.json_response({"room": out})


async def patch_room(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = await parse_body(request, RoomPatch)
    async with request.app[DB].session() as s:
        r = await s.get(RoomRecord, request.match_info["id"])
        if r is None:
            raise ApiError(404, "not_found", "no such room", "id")
        if not (user.role == "coordinator" or r.host_user_id == user.id):
            raise ApiError(403, "forbidden", "only the host or a coordinator may change the lesson")
        if body.record is not None:
            if r.state in ("live", "ended"):
                raise ApiError(409, "too_late", "recording is chosen before the lesson starts", "record")
            r.record = body.record
        if body.title is not None:
            r.title = body.title
        await s.commit()
        return web.json_response({"room": room_json(r)})


def _user_role_in(user: User, r: RoomRecord, members: list[RoomMember]) -> Role:
    if user.role == "coordinator":
        return Role.COORDINATOR
    if user.role == "observer":
        return Role.OBSERVER
    if user.role == "teacher":
        if r.host_user_id == user.id:
            return Role.HUB_TEACHER
        if any(m.user_id == user.id and m.role == "coteacher" for m in members):
            return Role.COTEACHER
        if r.kind == RoomKind.BROADCAST:
            return Role.VIEWER
        # watching unseen is a grant of coordinators and observers, not of any teacher
        raise ApiError(403, "forbidden", "only the lesson's teachers join it; ask the host to invite you")
    if r.kind == RoomKind.BROADCAST:
        return Role.VIEWER
    raise ApiError(403, "forbidden", "this lesson is not open to viewers")


async def user_token(request: web.Request) -> web.Response:
    user = await current_user(request)
    r, members = await _room_and_members(request, request.match_info["id"])
    if r.state == "ended":
        raise ApiError(409, "room_ended", "this lesson has ended", "id")
    role = _user_role_in(user, r, members)
    school = ""
    if user.school_id is not None:
        async with request.app[DB].session() as s:
            sch = await s.get(School, user.school_id)
            school = sch.name if sch else ""
    meta = {"user_id": user.id, "school": school, "side": "hub" if role == Role.HUB_TEACHER else ""}
    resp = _token_response(request, r, f"user:{user.id}", user.display_name, role, meta)
    if grants_for(role, RoomKind(r.kind), r.id).hidden:
        async with request.app[DB].session() as s:  # every hidden join is on the record: who, when, where
            audit(s, user.username, "room.hidden_join", r.id, role=role.value, title=r.title)
            await s.commit()
    return resp


def _token_response(
    request: web.Request, r: RoomRecord, identity: str, name: str, role: Role, meta: dict[str, object]
) -> web.Response:
    grants: Grants = grants_for(role, RoomKind(r.kind), r.id)
    ttl = request.app[SETTINGS].join_token_ttl
    token = request.app[TOKENS].issue_join(identity, name, role.value, grants, ttl=ttl, meta=meta)
    return web.json_response({
        "token": token, "room": room_json(r), "identity": identity, "role": role.value,
        "grants": grants.to_claim(), "expires_in": min(ttl, 600),
    })


async def classroom_join(request: web.Request) -> web.Response:
    """A classroom PC joins by its code: into the room named, or the classroom's current lesson."""
    body = await parse_body(request, ClassroomJoinBody)
    limiter, client, code = request.app[CODE_LIMIT], request.remote or "?", body.code.upper()
    if not limiter.begin(client, code):  # counted before any await; refunded when the code is right
        raise ApiError(429, "too_many_attempts", "too many wrong codes; wait a minute", "code")
    async with request.app[DB].session() as s:
        c = (await s.execute(select(Classroom).where(Classroom.join_code == code))).scalar_one_or_none()
        if c is None:
            raise ApiError(404, "bad_code", "no classroom has this code", "code")
        limiter.succeeded(client, code)
        school = await s.get(School, c.school_id)
        live_first = case((RoomRecord.state == "live", 0), (RoomRecord.state == "open", 1), else_=2)
        q = (
            select(RoomRecord, RoomMember)
            .join(RoomMember, RoomMember.room_id == RoomRecord.id)
            .where(RoomMember.classroom_id == c.id, RoomRecord.state != "ended")
            .order_by(live_first, RoomRecord.scheduled_start.is_(None), RoomRecord.scheduled_start,
                      RoomRecord.created_at)
        )
        if body.room:
            q = q.where(RoomRecord.id == body.room)
        row = (await s.execute(q.limit(1))).first()
    if row is None:
        raise ApiError(404, "no_lesson", "this classroom has no lesson open now", "room")
    r, member = row
    role = Role.VIEWER if r.kind == RoomKind.BROADCAST else Role.CLASSROOM
    meta = {
        "classroom_id": c.id, "classroom": c.name, "school": school.name if school else "",
        "side": "hub" if member.role == "hub_classroom" else "remote",
    }
    label = f"{school.name if school else ''} {c.name}".strip()
    return _token_response(request, r, f"classroom:{c.id}", label, role, meta)


async def presence(request: web.Request) -> web.Response:
    user = await current_user(request)
    r, _ = await _room_and_members(request, request.match_info["id"])
    if not (user.role == "coordinator" or r.host_user_id == user.id):
        raise ApiError(403, "forbidden", "attendance is for the host and coordinators")
    async with request.app[DB].session() as s:
        rows = (await s.execute(
            select(PresenceRecord).where(PresenceRecord.room_id == r.id).order_by(PresenceRecord.id)
        )).scalars()
        return web.json_response({"presence": [
            {"identity": p.identity, "role": p.role, "classroom_id": p.classroom_id, "user_id": p.user_id,
             "joined_at": p.joined_at.isoformat(), "left_at": p.left_at.isoformat() if p.left_at else None}
            for p in rows
        ]})


async def end_room(request: web.Request) -> web.Response:
    user = await current_user(request)
    r, _ = await _room_and_members(request, request.match_info["id"])
    if not (user.role == "coordinator" or r.host_user_id == user.id):
        raise ApiError(403, "forbidden", "only the host or a coordinator may end the lesson")
    rooms = request.app[ROOMS]
    if rooms.get(r.id) is not None:
        await rooms.end(r.id, f"user:{user.id}", authorised=True)
    elif r.state != "ended":
        async with request.app[DB].session() as s:
            rec = await s.get(RoomRecord, r.id)
            assert rec is not None
            rec.state = "ended"
            rec.ended_at = utcnow()
            audit(s, user.username, "room.end", r.id, title=r.title)
            await s.commit()
    return web.json_response({"ok": True})


def setup(app: web.Application) -> None:
    app[CODE_LIMIT] = CodeLimiter(limit=10, window=60.0)  # per client address: join codes are short
    route(app, "GET", "/api/rooms", list_rooms, "List rooms (?state=open,live)", tag="rooms")
    route(app, "POST", "/api/rooms", create_room_handler, "Create a room", RoomBody, "rooms")
    route(app, "GET", "/api/rooms/{id}", get_room, "A room with its members and live state", tag="rooms")
    route(app, "PATCH", "/api/rooms/{id}", patch_room, "Change title or recording before start", RoomPatch, "rooms")
    route(app, "POST", "/api/rooms/{id}/token", user_token, "A join token for the logged-in user", tag="rooms")
    route(app, "GET", "/api/rooms/{id}/presence", presence, "Attendance: join and leave times", tag="rooms")
    route(app, "POST", "/api/rooms/{id}/end", end_room, "End the lesson", tag="rooms")
    route(app, "POST", "/api/classroom/join", classroom_join, "A classroom PC joins by its code",
          ClassroomJoinBody, "rooms", auth=False)
