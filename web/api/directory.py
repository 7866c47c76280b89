"""Schools, classrooms (with their join codes) and user accounts: the coordinator's directory."""

from __future__ import annotations

import secrets

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.audit import audit
from core.db import utcnow
from core.directory import Classroom, School, SchoolKind, User, UserRole
from core.sessions import revoke_user
from web.auth import current_user, require_role, revoke_join_tokens, user_json
from web.errors import ApiError, parse_body
from web.keys import DB
from web.openapi import route
from web.passwords import hash_password_async

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read off a big screen


def new_join_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


class SchoolBody(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    kind: SchoolKind
    county: str = Field(default="", max_length=120)


class ClassroomBody(BaseModel):
    school_id: int
    name: str = Field(min_length=1, max_length=120)
    grade: int = Field(default=0, ge=0, le=12)
    students: int = Field(default=0, ge=0, le=200)


class UserBody(BaseModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=8, max_length=256)
    role: UserRole
    school_id: int | None = None
    subject: str = Field(default="", max_length=32)


class UserPatch(BaseModel):
    role: UserRole | None = None
    active: bool | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=120)


def school_json(s: School) -> dict[str, object]:
    return {"id": s.id, "name": s.name, "kind": s.kind, "county": s.county}


def classroom_json(c: Classroom, with_code: bool) -> dict[str, object]:
    out: dict[str, object] = {"id": c.id, "school_id": c.school_id, "name": c.name, "grade": c.grade,
                              "students": c.students}
    if with_code:
        out["join_code"] = c.join_code
    return out


async def list_schools(request: web.Request) -> web.Response:
    await current_user(request)
    async with request.app[DB].session() as s:
        rows = (await s.execute(select(School).order_by(School.id))).scalars()
        return web.json_response({"schools": [school_json(x) for x in rows]})


async def create_school(request: web.Request) -> web.Response:
    user = await require_role(request, "coordinator")
    body = await parse_body(request, SchoolBody)
    async with request.app[DB].session() as s:
        school = School(name=body.name, kind=body.kind.value, county=body.county)
        s.add(school)
        try:
            await s.flush()
        except IntegrityError as e:
            raise ApiError(409, "exists", "a school with this name exists", "name") from e
        audit(s, user.username, "school.create", str(school.id), name=body.name)
        await s.commit()
        return web.json_response({"school": school_json(school)}, status=201)


async def list_classrooms(request: web.Request) -> web.Response:
    user = await current_user(request)
    async with request.app[DB].session() as s:
        rows = (await s.execute(select(Classroom).order_by(Classroom.id))).scalars()
        return web.json_response(
            {"classrooms": [classroom_json(c, user.role == "coordinator") for c in rows]}
        )


async def create_classroom(request: web.Request) -> web.Response:
    user = await require_role(request, "coordinator")
    body = await parse_body(request, ClassroomBody)
    async with request.app[DB].session() as s:
        if await s.get(School, body.school_id) is None:
            raise ApiError(400, "not_found", "no such school", "school_id")
        c = Classroom(school_id=body.school_id, name=body.name, grade=body.grade, students=body.students,
                      join_code=new_join_code())
        s.add(c)
        await s.flush()
        audit(s, user.username, "classroom.create", str(c.id), name=body.name)
        await s.commit()
        return web.json_response({"classroom": classroom_json(c, True)}, status=201)


async def rotate_code(request: web.Request) -> web.Response:
    user = await require_role(request, "coordinator")
    cid = _int(request.match_info["id"], "id")
    async with request.app[DB].session() as s:
        c = await s.get(Classroom, cid)
        if c is None:
            raise ApiError(404, "not_found", "no such classroom", "id")
        c.join_code = new_join_code()
        c.code_rotated_at = utcnow()
        audit(s, user.username, "classroom.rotate_code", str(cid))
        await s.commit()
        return web.json_response({"classroom": classroom_json(c, True)})


async def list_users(request: web.Request) -> web.Response:
    await require_role(request, "coordinator")
    async with request.app[DB].session() as s:
        rows = (await s.execute(select(User).order_by(User.id))).scalars()
        return web.json_response({"users": [user_json(u) for u in rows]})


async def create_user(request: web.Request) -> web.Response:
    actor = await require_role(request, "coordinator")
    body = await parse_body(request, UserBody)
    password_hash = await hash_password_async(body.password)
    async with request.app[DB].session() as s:
        u = User(username=body.username, display_name=body.display_name, password_hash=password_hash,
                 role=body.role.value, school_id=body.school_id, subject=body.subject)
        s.add(u)
        try:
            await s.flush()
        except IntegrityError as e:
            raise ApiError(409, "exists", "this username is taken", "username") from e
        audit(s, actor.username, "user.create", body.username, role=body.role.value)
        await s.commit()
        return web.json_response({"user": user_json(u)}, status=201)


async def patch_user(request: web.Request) -> web.Response:
    actor = await require_role(request, "coordinator")
    uid = _int(request.match_info["id"], "id")
    body = await parse_body(request, UserPatch)
    async with request.app[DB].session() as s:
        u = await s.get(User, uid)
        if u is None:
            raise ApiError(404, "not_found", "no such user", "id")
        if body.role is not None and body.role.value != u.role:
            audit(s, actor.username, "user.role_change", u.username, old=u.role, new=body.role.value)
            u.role = body.role.value
        if body.active is not None and body.active != u.active:
            u.active = body.active
            revoked = 0
            if not body.active:  # every session and join token of the account stops working now
                revoked = await revoke_user(s, u.id, "deactivated")
                await revoke_join_tokens(request.app, f"user:{u.id}")
            audit(s, actor.username, "user.active", u.username, active=body.active, sessions_revoked=revoked)
        if body.display_name is not None:
            u.display_name = body.display_name
        await s.commit()
        return web.json_response({"user": user_json(u)})


def _int(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError as e:
        raise ApiError(400, "invalid_field", "must be a whole number", field) from e


def setup(app: web.Application) -> None:
    route(app, "GET", "/api/schools", list_schools, "List schools", tag="directory")
    route(app, "POST", "/api/schools", create_school, "Create a school", SchoolBody, "directory")
    route(app, "GET", "/api/classrooms", list_classrooms, "List classrooms (codes for coordinators)", tag="directory")
    route(app, "POST", "/api/classrooms", create_classroom, "Create a classroom", ClassroomBody, "directory")
    route(app, "POST", "/api/classrooms/{id}/rotate-code", rotate_code, "Rotate a classroom's join code", tag="directory")
    route(app, "GET", "/api/users", list_users, "List users", tag="directory")
    route(app, "POST", "/api/users", create_user, "Create a user", UserBody, "directory")
    route(app, "PATCH", "/api/users/{id}", patch_user, "Change a user's role or status", UserPatch, "directory")
