"""Login and the logged-in user: a session JWT in an HttpOnly cookie (or a Bearer header for scripts)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from core.audit import audit
from core.directory import User
from core.tokens import TokenError
from web.errors import ApiError, parse_body
from web.keys import DB, SETTINGS, TOKENS
from web.limits import LOGIN_LIMIT, AttemptLimiter
from web.openapi import route
from web.passwords import verify_password

COOKIE = "sanke_session"
USER_KEY = web.RequestKey("sanke_user", User)


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def user_json(u: User) -> dict[str, object]:
    return {
        "id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
        "school_id": u.school_id, "subject": u.subject,
    }


async def current_user(request: web.Request) -> User:
    cached = request.get(USER_KEY)
    if cached is not None:
        return cached
    token = request.cookies.get(COOKIE)
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:]
    if not token:
        raise ApiError(401, "not_logged_in", "log in first")
    try:
        user_id = request.app[TOKENS].verify_session(token)
    except TokenError as e:
        raise ApiError(401, e.code, e.message) from e
    async with request.app[DB].session() as s:
        user = await s.get(User, user_id)
    if user is None or not user.active:
        raise ApiError(401, "not_logged_in", "account is not active")
    request[USER_KEY] = user
    return user


async def require_role(request: web.Request, *roles: str) -> User:
    user = await current_user(request)
    if roles and user.role not in roles:
        raise ApiError(403, "forbidden", f"this needs the role {' or '.join(roles)}")
    return user


async def login(request: web.Request) -> web.Response:
    body = await parse_body(request, LoginBody)
    limiter = request.app[LOGIN_LIMIT]
    if limiter.blocked(body.username):
        raise ApiError(429, "too_many_attempts", "too many failed logins; wait a minute", "username")
    async with request.app[DB].session() as s:
        user = (await s.execute(select(User).where(User.username == body.username))).scalar_one_or_none()
        ok = user is not None and user.active and verify_password(user.password_hash, body.password)
        if not ok:
            limiter.fail(body.username)
            audit(s, body.username, "login.failed", request.remote or "")
            await s.commit()
            raise ApiError(401, "bad_credentials", "wrong username or password", "password")
    limiter.clear(body.username)
    settings = request.app[SETTINGS]
    token = request.app[TOKENS].issue_session(user.id, settings.session_ttl)
    resp = web.json_response({"user": user_json(user), "session_token": token})
    resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", max_age=settings.session_ttl, path="/")
    return resp


async def logout(request: web.Request) -> web.Response:
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE, path="/")
    return resp


async def me(request: web.Request) -> web.Response:
    return web.json_response({"user": user_json(await current_user(request))})


def setup(app: web.Application) -> None:
    app[LOGIN_LIMIT] = AttemptLimiter(limit=5, window=60.0)  # per username
    route(app, "POST", "/api/login", login, "Log in; sets the session cookie", LoginBody, "auth", auth=False)
    route(app, "POST", "/api/logout", logout, "Log out", tag="auth", auth=False)
    route(app, "GET", "/api/me", me, "The logged-in user", tag="auth")
