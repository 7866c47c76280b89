"""County administration beyond the directory's basics: a classroom's printable join card (QR code), editing a
classroom (a teacher only her own school's), one-time password resets, the live device board with 缺课预警
and its reasons, and the reasons counted for supervision."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta

import qrcode
import qrcode.image.svg
from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from core.audit import audit
from core.directory import Classroom, School, User
from core.sessions import revoke_user
from rooms.device_checks import DeviceCheck, check_quality, save_check
from rooms.devices import REASONS, absences, device_board, set_reason
from rooms.records import RoomMember
from web.api.directory import classroom_json
from web.auth import require_role, user_json
from web.errors import ApiError, parse_body
from web.keys import DB, HUB, ROOMS
from web.limits import CODE_LIMIT, CodeLimiter
from web.openapi import route
from web.password_resets import issue, redeem
from web.passwords import hash_password_async

SHANGHAI = timedelta(hours=8)


class ClassroomPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    grade: int | None = Field(default=None, ge=0, le=12)
    students: int | None = Field(default=None, ge=0, le=200)


class RedeemBody(BaseModel):
    code: str = Field(min_length=8, max_length=20)
    password: str = Field(min_length=8, max_length=256)


class AbsenceBody(BaseModel):
    room_id: str = Field(min_length=1, max_length=40)
    classroom_id: int
    reason: str = Field(pattern="^(" + "|".join(REASONS) + ")$")
    note: str = Field(default="", max_length=200)


class CheckBody(BaseModel):
    code: str = Field(min_length=4, max_length=32)  # the classroom PC's join code: the device check has no login
    rtt_ms: float = Field(ge=0, le=60_000)
    loss: float = Field(ge=0, le=1)
    uplink_kbps: int = Field(ge=0, le=10_000_000)
    camera_ok: bool
    mic_ok: bool


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as e:
        raise ApiError(400, "invalid_field", "must be a whole number", "id") from e


def join_url(request: web.Request, code: str) -> str:
    return f"{request.scheme}://{request.host}/classroom?code={code}&auto"


async def join_card(request: web.Request) -> web.Response:
    """The QR code a classroom PC opens to join by its code (printed on the join card)."""
    await require_role(request, "coordinator")
    async with request.app[DB].session() as s:
        c = await s.get(Classroom, _id(request))
    if c is None:
        raise ApiError(404, "not_found", "no such classroom", "id")
    img = qrcode.make(join_url(request, c.join_code), image_factory=qrcode.image.svg.SvgPathImage, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return web.Response(body=buf.getvalue(), content_type="image/svg+xml", headers={"Cache-Control": "no-store"})


async def card_info(request: web.Request) -> web.Response:
    await require_role(request, "coordinator")
    async with request.app[DB].session() as s:
        c = await s.get(Classroom, _id(request))
        school = await s.get(School, c.school_id) if c else None
    if c is None:
        raise ApiError(404, "not_found", "no such classroom", "id")
    return web.json_response({"classroom": classroom_json(c, True), "school": school.name if school else "",
                              "join_url": join_url(request, c.join_code)})


async def patch_classroom(request: web.Request) -> web.Response:
    """Coordinators edit any classroom; a teacher only her own school's (e.g. this term's student count)."""
    user = await require_role(request, "coordinator", "teacher")
    body = await parse_body(request, ClassroomPatch)
    async with request.app[DB].session() as s:
        c = await s.get(Classroom, _id(request))
        if c is None:
            raise ApiError(404, "not_found", "no such classroom", "id")
        if user.role == "teacher" and c.school_id != user.school_id:
            raise ApiError(403, "forbidden", "a teacher edits only her own school's classrooms", "id")
        for key, value in body.model_dump(exclude_none=True).items():
            setattr(c, key, value)
        audit(s, user.username, "classroom.edit", str(c.id), **body.model_dump(exclude_none=True))
        await s.commit()
        return web.json_response({"classroom": classroom_json(c, user.role == "coordinator")})


async def reset_code(request: web.Request) -> web.Response:
    actor = await require_role(request, "coordinator")
    uid = _id(request)
    async with request.app[DB].session() as s:
        u = await s.get(User, uid)
        if u is None:
            raise ApiError(404, "not_found", "no such user", "id")
        audit(s, actor.username, "user.reset_password", u.username)
        await s.commit()
    code = await issue(request.app[DB], uid, actor.username)
    return web.json_response({"code": code, "url": f"{request.scheme}://{request.host}/reset?code={code}",
                              "valid_hours": 24})


async def redeem_code(request: web.Request) -> web.Response:
    body = await parse_body(request, RedeemBody)
    limiter, client = request.app[RESET_LIMIT], request.remote or "?"
    if not limiter.begin(client, body.code):  # counted before any await: guessing codes costs no Argon2
        raise ApiError(429, "too_many_attempts", "too many wrong reset codes; wait a minute", "code")
    user = await redeem(request.app[DB], body.code, await hash_password_async(body.password))  # off the loop
    limiter.succeeded(client, body.code)
    async with request.app[DB].session() as s:
        await revoke_user(s, user.id, "password_reset")  # whoever held the old password is logged out
        audit(s, user.username, "user.password_reset_used", user.username)
        await s.commit()
    return web.json_response({"user": user_json(user)})


async def devices(request: web.Request) -> web.Response:
    await require_role(request, "coordinator", "observer")
    board = await device_board(request.app[DB], request.app[ROOMS].rooms, request.app[HUB].track_stats)
    return web.json_response({"devices": [d.to_dict() for d in board],
                              "missing": sum(1 for d in board if d.missing),
                              "online": sum(1 for d in board if d.state == "online")})


async def device_check(request: web.Request) -> web.Response:
    """A classroom PC reports its device check (it names itself by its join code, like joining a lesson)."""
    body = await parse_body(request, CheckBody)
    limiter, client, code = request.app[CODE_LIMIT], request.remote or "?", body.code.strip().upper()
    if not limiter.begin(client, code):  # counted before any await (web.limits.CodeLimiter)
        raise ApiError(429, "too_many_attempts", "too many wrong codes; wait a minute", "code")
    async with request.app[DB].session() as s:
        classroom_id = (await s.execute(select(Classroom.id).where(Classroom.join_code == code))).scalar()
    if classroom_id is None:
        raise ApiError(404, "bad_code", "no classroom has this code (加入码无效)", "code")
    limiter.succeeded(client, code)
    check = DeviceCheck(body.rtt_ms, body.loss, body.uplink_kbps, body.camera_ok, body.mic_ok)
    at = await save_check(request.app[DB], classroom_id, check)
    return web.json_response({"classroom_id": classroom_id, "quality": check_quality(check), "at": at.isoformat()})


async def put_absence(request: web.Request) -> web.Response:
    user = await require_role(request, "coordinator")
    body = await parse_body(request, AbsenceBody)
    async with request.app[DB].session() as s:
        member = (await s.execute(select(RoomMember).where(
            RoomMember.room_id == body.room_id, RoomMember.classroom_id == body.classroom_id))).first()
    if member is None:
        raise ApiError(400, "not_found", "this classroom is not expected in this lesson", "classroom_id")
    await set_reason(request.app[DB], body.room_id, body.classroom_id, body.reason, body.note, user.username)
    return web.json_response({"ok": True})


async def absence_report(request: web.Request) -> web.Response:
    await require_role(request, "coordinator", "observer")
    today = (datetime.now(UTC) + SHANGHAI).date()
    try:
        first = date.fromisoformat(request.query.get("from") or (today - timedelta(days=30)).isoformat())
        last = date.fromisoformat(request.query.get("to") or today.isoformat())
    except ValueError as e:
        raise ApiError(400, "invalid_field", "a date is YYYY-MM-DD", "from") from e
    start = datetime.combine(first, time(), UTC) - SHANGHAI
    end = datetime.combine(last + timedelta(days=1), time(), UTC) - SHANGHAI
    return web.json_response(await absences(request.app[DB], start, end))


RESET_LIMIT = web.AppKey("reset_limit", CodeLimiter)


def setup(app: web.Application) -> None:
    app[RESET_LIMIT] = CodeLimiter(limit=10, window=60.0)
    tag = "admin"
    route(app, "GET", "/api/classrooms/{id}/join-card", card_info, "A classroom's join card data", tag=tag)
    route(app, "GET", "/api/classrooms/{id}/qr.svg", join_card, "The join card's QR code (SVG)", tag=tag)
    route(app, "PATCH", "/api/classrooms/{id}", patch_classroom, "Edit a classroom", ClassroomPatch, tag)
    route(app, "POST", "/api/users/{id}/reset-code", reset_code, "A one-time password reset code", tag=tag)
    route(app, "POST", "/api/password-reset", redeem_code, "Set a new password with a reset code", RedeemBody, tag,
          auth=False)
    route(app, "GET", "/api/devices", devices, "Live device board with 缺课预警", tag=tag)
    route(app, "POST", "/api/devices/check", device_check, "A classroom PC's device check result (by join code)",
          CheckBody, tag, auth=False)
    route(app, "PUT", "/api/absences", put_absence, "The reason a classroom missed a lesson", AbsenceBody, tag)
    route(app, "GET", "/api/supervision/absences", absence_report, "Missed lessons by reason (?from=&to=)", tag=tag)
