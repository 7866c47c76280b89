"""Login and the logged-in user: a session JWT in an HttpOnly cookie (or a Bearer header for scripts),
naming a server-side session row so that logout and deactivation take effect at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from core import sessions
from core.directory import User
from core.tokens import TokenError
from signaling.session import CloseCode
from web.errors import ApiError, parse_body
from web.failed_logins import FAILED_LOGINS
from web.keys import BUS, DB, HUB, SETTINGS, TOKENS
from web.limits import LOGIN_LIMIT, LoginLimiter, Refusal
from web.openapi import route
from web.passwords import verify_password_async

COOKIE = "sanke_session"
USER_KEY = web.RequestKey("sanke_user", User)
SESSION_KEY = web.RequestKey("sanke_session_id", str)
log = logging.getLogger(__name__)


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def user_json(u: User) -> dict[str, object]:
    return {
        "id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
        "school_id": u.school_id, "subject": u.subject, "active": u.active,
    }


def session_token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:]
    return request.cookies.get(COOKIE)


async def current_user(request: web.Request) -> User:
    cached = request.get(USER_KEY)
    if cached is not None:
        return cached
    token = session_token_of(request)
    if not token:
        raise ApiError(401, "not_logged_in", "log in first")
    try:
        user_id, sid = request.app[TOKENS].verify_session(token)
    except TokenError as e:
        raise ApiError(401, e.code, e.message) from e
    async with request.app[DB].session() as s:
        live = await sessions.is_live(s, sid, user_id)
        user = await s.get(User, user_id) if live else None
    if not live:
        raise ApiError(401, "session_revoked", "this session has ended; log in again")
    if user is None or not user.active:
        raise ApiError(401, "not_logged_in", "account is not active")
    request[USER_KEY] = user
    request[SESSION_KEY] = sid
    return user


async def require_role(request: web.Request, *roles: str) -> User:
    user = await current_user(request)
    if roles and user.role not in roles:
        raise ApiError(403, "forbidden", f"this needs the role {' or '.join(roles)}")
    return user


def _refused(refusal: Refusal) -> ApiError:
    err = ApiError(429, refusal.code, refusal.message, "username")
    err.headers["Retry-After"] = str(max(1, round(refusal.retry_after)))
    return err


async def login(request: web.Request) -> web.Response:
    body = await parse_body(request, LoginBody)
    address = request.remote or "?"
    failed = request.app[FAILED_LOGINS]
    attempt = request.app[LOGIN_LIMIT].begin(address, body.username)  # counted before any await
    if isinstance(attempt, Refusal):
        failed.note(address, body.username)
        raise _refused(attempt)
    ok = False
    try:
        async with request.app[DB].session() as s:
            user = (await s.execute(select(User).where(User.username == body.username))).scalar_one_or_none()
            # an unknown name verifies against a dummy hash: it costs the same as a known one
            ok = await verify_password_async(user.password_hash if user else None, body.password)
            ok = ok and user is not None and user.active
            if ok:
                assert user is not None
                settings = request.app[SETTINGS]
                row = await sessions.open_session(s, user.id, settings.session_ttl, address)
                await s.commit()
    finally:
        request.app[LOGIN_LIMIT].end(attempt, ok)
    if not ok:
        failed.note(address, body.username)
        await failed.flush()
        raise ApiError(401, "bad_credentials", "wrong username or password", "password")
    assert user is not None
    token = request.app[TOKENS].issue_session(user.id, settings.session_ttl, row.id)
    resp = web.json_response({"user": user_json(user)})  # the token travels only in the HttpOnly cookie
    resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", max_age=settings.session_ttl, path="/",
                    secure=settings.secure_cookies)
    return resp


async def logout(request: web.Request) -> web.Response:
    token = session_token_of(request)
    if token:
        try:
            _, sid = request.app[TOKENS].verify_session(token)
        except TokenError:
            sid = ""
        if sid:
            async with request.app[DB].session() as s:
                await sessions.revoke(s, sid, "logout")
                await s.commit()
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE, path="/")
    return resp


async def me(request: web.Request) -> web.Response:
    return web.json_response({"user": user_json(await current_user(request))})


REVOKED_CHANNEL = "auth:revoked"


async def revoke_join_tokens(app: web.Application, identity: str) -> None:
    """Refuse the identity's join tokens here and, over the bus, on every other node; close its live
    connections on each (a token refused at the next join is not enough for someone already in a lesson)."""
    at = time.time()
    app[TOKENS].revoke_identity(identity, at)
    # Behind the caller's transaction (it still holds the account row): the seat's presence span is
    # written when the kick runs, which on SQLite must wait for that commit.
    task = asyncio.create_task(kick(app, identity), name=f"kick-{identity}")
    _kicks.add(task)
    task.add_done_callback(_kicks.discard)
    with contextlib.suppress(Exception):  # the bus down: this node refuses them; others learn at their start
        await app[BUS].publish(REVOKED_CHANNEL, {"identity": identity, "at": at})


_kicks: set[asyncio.Task[None]] = set()


async def kick(app: web.Application, identity: str) -> None:
    """Close the identity's connections on this node with 4005 (the seat is taken back, not kept)."""
    closed = await app[HUB].kick(identity, CloseCode.REVOKED, "account deactivated / 账号已停用")
    if closed:
        log.info("closed %d connection(s) of deactivated %s", closed, identity)


async def revocations_ctx(app: web.Application) -> AsyncIterator[None]:
    """At start, refuse join tokens of accounts deactivated before a restart (tokens outlive a process);
    while running, apply revocations other nodes publish."""
    async with app[DB].session() as s:
        inactive = (await s.execute(select(User.id).where(User.active.is_(False)))).scalars()
        for uid in inactive:
            app[TOKENS].revoke_identity(f"user:{uid}")
    sub = await app[BUS].subscribe(REVOKED_CHANNEL)

    async def listen() -> None:
        async for env in sub:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                app[TOKENS].revoke_identity(str(env.data["identity"]), float(env.data["at"]))
                await kick(app, str(env.data["identity"]))

    task = asyncio.create_task(listen())
    yield
    task.cancel()
    with contextlib.suppress(BaseException):
        await sub.close()
        await task


def setup(app: web.Application) -> None:
    app[LOGIN_LIMIT] = LoginLimiter()
    route(app, "POST", "/api/login", login, "Log in; sets the session cookie", LoginBody, "auth", auth=False)
    route(app, "POST", "/api/logout", logout, "Log out (revokes the session)", tag="auth", auth=False)
    route(app, "GET", "/api/me", me, "The logged-in user", tag="auth")
