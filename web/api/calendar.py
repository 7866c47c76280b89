"""A person's calendar and today's invitations.

The personal iCal feed holds the person's own lessons of the published timetable as weekly series (RRULE
with EXDATE for holidays, one-off events for 调休 and moved dates: `scheduler.ical`) and the rooms planned by
hand they host or are invited to (`rooms.planning`). Calendar apps send no cookie, so each link carries a
key derived from the server secret. Today's invitations (名师课堂 for a teacher, 名校网络课堂 for a classroom PC)
come with a link to that one room's calendar entry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
from typing import Any

from aiohttp import web
from icalendar import Calendar
from sqlalchemy import select

from core.db import utcnow
from core.directory import Classroom
from rooms.planning import (
    CHINA,
    PRODID,
    classroom_invitations,
    feed_key,
    invitations,
    room_calendar,
    room_events,
    room_key,
)
from scheduler import store
from scheduler.ical import export, lessons_for
from web.auth import current_user
from web.errors import ApiError
from web.keys import DB, SETTINGS
from web.limits import CODE_LIMIT
from web.openapi import route


def _secret(request: web.Request) -> bytes:
    return list(request.app[SETTINGS].secret_keys().values())[-1]


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"  # the address this person reached us by


def feed_url(request: web.Request, user_id: int) -> str:
    return f"{_base(request)}/api/calendar/{user_id}.ics?key={feed_key(_secret(request), user_id)}"


def room_ics_url(request: web.Request, room_id: str) -> str:
    return f"{_base(request)}/api/calendar/rooms/{room_id}.ics?key={room_key(_secret(request), room_id)}"


async def _timetable_calendar(request: web.Request, user_id: int) -> Calendar:
    """The person's weekly series from the published timetable (an empty calendar when there is none)."""
    async with request.app[DB].session() as s:
        plan = await store.published(s)
        if plan is None:
            return Calendar()
        county, tt, moves = plan.county, plan.timetable, plan.moves
        links = await store.links(s)
    ref = next((r for (kind, r), did in links.items() if kind == "teacher" and did == user_id), None)
    if ref is None:
        return Calendar()
    lessons = lessons_for(county, tt, teacher=ref)
    # expanding a term of occurrences and serialising is CPU work: off the event loop
    body = await asyncio.to_thread(export, county, tt, lessons, "三课 · 我的课程", moves)
    return Calendar.from_ical(body)


async def my_calendar_link(request: web.Request) -> web.Response:
    user = await current_user(request)
    return web.json_response({"ics_url": feed_url(request, user.id)})


async def calendar_feed(request: web.Request) -> web.Response:
    """A person's lessons for a calendar app: the timetable's weekly series and the one-off rooms."""
    try:
        uid = int(request.match_info["user"])
    except ValueError as e:
        raise ApiError(404, "not_found", "no such calendar", "user") from e
    if not hmac.compare_digest(request.query.get("key", ""), feed_key(_secret(request), uid)):
        raise ApiError(403, "forbidden", "this calendar link is not valid", "key")
    cal = await _timetable_calendar(request, uid)
    if "prodid" not in cal:
        cal.add("prodid", PRODID)
        cal.add("version", "2.0")
    cal["x-wr-calname"] = "三课 · 我的课程"
    for ev in await room_events(request.app[DB], uid, _base(request)):
        cal.add_component(ev)
    return web.Response(body=cal.to_ical(), content_type="text/calendar", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="sanke-{uid}.ics"'})


async def room_feed(request: web.Request) -> web.Response:
    """One room's calendar entry, for the iCal link beside an invitation."""
    room_id = request.match_info["room"]
    if not hmac.compare_digest(request.query.get("key", ""), room_key(_secret(request), room_id)):
        raise ApiError(403, "forbidden", "this calendar link is not valid", "key")
    body = await room_calendar(request.app[DB], room_id, f"{_base(request)}/coteach?room={room_id}")
    if body is None:
        raise ApiError(404, "not_found", "this room has no scheduled time", "room")
    return web.Response(body=body, content_type="text/calendar", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{room_id}.ics"'})


async def today_invitations(request: web.Request) -> web.Response:
    """Invitations for today's list: a teacher's 名师课堂 rooms, and the 名校网络课堂 rooms whose audience
    holds ?classroom= (a logged-in user) or the classroom whose join ?code= a classroom PC shows."""
    code = request.query.get("code", "").strip().upper()[:32]
    classroom_id: int | None = None
    user_id: int | None = None
    if code:
        limiter, client = request.app[CODE_LIMIT], request.remote or "?"
        if not limiter.begin(client, code):  # counted before any await (web.limits.CodeLimiter)
            raise ApiError(429, "too_many_attempts", "too many wrong codes; wait a minute", "code")
        async with request.app[DB].session() as s:
            classroom_id = (await s.execute(select(Classroom.id).where(Classroom.join_code == code))).scalar()
        if classroom_id is None:
            raise ApiError(404, "bad_code", "no classroom has this code", "code")
        limiter.succeeded(client, code)
    else:
        user = await current_user(request)
        user_id = user.id
        if request.query.get("classroom"):
            try:
                classroom_id = int(request.query["classroom"])
            except ValueError as e:
                raise ApiError(400, "invalid_field", "classroom is a number", "classroom") from e
    try:
        day = dt.date.fromisoformat(request.query["date"]) if request.query.get("date") else (
            utcnow().astimezone(CHINA).date())
    except ValueError as e:
        raise ApiError(400, "invalid_field", "date is YYYY-MM-DD", "date") from e
    found: list[dict[str, Any]] = []
    if user_id is not None:
        found += await invitations(request.app[DB], user_id, day)
    if classroom_id is not None:
        found += await classroom_invitations(request.app[DB], classroom_id, day)
    for inv in found:
        inv["ics_url"] = room_ics_url(request, inv["room_id"]) if inv["scheduled_start"] else None
    out: dict[str, Any] = {"date": day.isoformat(), "invitations": found}
    if user_id is not None:
        out["ics_url"] = feed_url(request, user_id)
    return web.json_response(out)


def setup(app: web.Application) -> None:
    tag = "calendar"
    route(app, "GET", "/api/me/calendar", my_calendar_link, "My iCal link", tag=tag)
    route(app, "GET", "/api/calendar/{user}.ics", calendar_feed,
          "My lessons as iCalendar: timetable series and planned rooms (?key=)", tag=tag, auth=False)
    route(app, "GET", "/api/calendar/rooms/{room}.ics", room_feed, "One room as iCalendar (?key=)", tag=tag,
          auth=False)
    route(app, "GET", "/api/invitations/today", today_invitations,
          "Today's invitations: mine, ?classroom= or ?code= (a classroom PC)", tag=tag, auth=False)
