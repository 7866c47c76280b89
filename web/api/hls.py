"""HTTP Live Streaming of a broadcast: signed playlist per viewer, cacheable segments, the audience count.

| route | what | cache |
|---|---|---|
| `POST /api/hls/{room}/url` | a join token for the room → the viewer's signed playlist URL and the stream state | no-store |
| `GET /hls/{room}/live.m3u8?v=&e=&s=` | the live playlist (counts the viewer) | `max-age=1` |
| `GET /hls/{room}/{token}/init-N.mp4`, `…/seg-N-M.m4s` | fMP4, from memory or the store | a year, immutable |
| `GET /api/hls/{room}/audience` | viewers who fetched the playlist in the last 15 s (staff only) | no-store |
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlencode

from aiohttp import web
from pydantic import BaseModel, Field

from core.storage import Storage
from core.tokens import TokenError
from media.hls_live import HlsService, RoomTrack
from rooms.roles import RoomKind
from rooms.room import Room
from web.api.library import LIBRARY
from web.auth import require_role
from web.errors import ApiError, parse_body
from web.hls_links import HlsLinks
from web.keys import MEDIA, ROOMS, SETTINGS, SPOOL, STORAGE, TOKENS
from web.openapi import route

log = logging.getLogger(__name__)
HLS = web.AppKey("hls", HlsService)
LINKS = web.AppKey("hls_links", HlsLinks)
AUDIENCE = web.AppKey("hls_audience", dict)  # room → viewer → last playlist fetch (monotonic)
PLAYLISTS = web.AppKey("hls_playlists", dict)  # (room, stream, version, token) → rendered text
HLS_KINDS = (RoomKind.BROADCAST.value,)
AUDIENCE_WINDOW_S = 15.0
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
NAME_RE = re.compile(r"^(init-\d{1,6}\.mp4|seg-\d{1,6}-\d{1,9}\.m4s)$")
IMMUTABLE = "public, max-age=31536000, immutable"
STAFF = ("teacher", "coordinator", "admin", "observer")


class UrlBody(BaseModel):
    token: str = Field(min_length=10, max_length=4096)


def _forbidden(message: str, field: str = "s") -> ApiError:
    return ApiError(403, "forbidden", message, field)


async def hls_url(request: web.Request) -> web.Response:
    """Anyone holding a join token for the room (a guest by the watch link, a teacher, a classroom)."""
    room_id = request.match_info["room"]
    body = await parse_body(request, UrlBody)
    try:
        claims = request.app[TOKENS].verify_join(body.token)
    except TokenError as e:
        raise ApiError(401, e.code, e.message, "token") from e
    if claims.grants.room != room_id or not (claims.grants.can_subscribe or claims.grants.room_join):
        raise _forbidden("this token is for another room / 此令牌不属于该课堂", "token")
    query = request.app[LINKS].viewer_query(room_id, claims.identity)
    status = request.app[HLS].status(room_id)
    room = request.app[ROOMS].get(room_id)
    return web.json_response(
        {"url": f"/hls/{room_id}/live.m3u8?{urlencode(query)}", "expires_at": int(query["e"]),
         "title": room.title if room is not None else "", **status},
        headers={"Cache-Control": "no-store"},
    )


async def playlist(request: web.Request) -> web.Response:
    room_id = request.match_info["room"]
    q = request.query
    viewer = q.get("v", "")
    if not request.app[LINKS].check_viewer(room_id, viewer, q.get("e", ""), q.get("s", "")):
        raise _forbidden("this link is forged or has expired / 链接无效或已过期")
    stream = request.app[HLS].stream(room_id)
    if stream is None or not stream.segments:
        raise ApiError(404, "not_live", "no HLS stream in this room yet / 该课堂暂无直播流", "room")
    audience = request.app[AUDIENCE].setdefault(room_id, {})
    audience[viewer] = time.monotonic()
    token = request.app[LINKS].room_token(room_id)
    cache = request.app[PLAYLISTS]
    key = (room_id, stream.id, stream.version, token)
    text = cache.get(key)
    if text is None:  # one render per new segment and hour, whatever the audience
        text = stream.playlist(lambda name: f"{token}/{name}")
        for old in [k for k in cache if k[0] == room_id]:
            del cache[old]
        cache[key] = text
    return web.Response(
        body=text.encode(), content_type=PLAYLIST_TYPE, headers={"Cache-Control": "max-age=1"}
    )


async def segment(request: web.Request) -> web.StreamResponse:
    room_id, token, name = (request.match_info[k] for k in ("room", "token", "name"))
    if not request.app[LINKS].check_room_token(room_id, token):
        raise _forbidden("this link is forged or has expired / 链接无效或已过期", "token")
    if not NAME_RE.match(name):
        raise ApiError(404, "not_found", "no such segment", "name")
    ctype = "video/mp4" if name.endswith(".mp4") else "video/iso.segment"
    headers = {"Cache-Control": IMMUTABLE}
    service = request.app[HLS]
    stream = service.stream(room_id)
    data = stream.get(name) if stream is not None else None
    if data is not None:
        return web.Response(body=data, content_type=ctype, headers=headers)
    key = service.storage_key(room_id, name)
    storage = cast("Storage | None", request.app.get(STORAGE))
    if key is None or storage is None:
        raise ApiError(404, "not_found", "no such segment", "name")
    local = request.app[SETTINGS].media_dir / key  # this node's copy (the spool uploads it from there)
    if local.is_file():
        return web.FileResponse(local, headers={**headers, "Content-Type": ctype})
    data = await storage.get_bytes(key)
    if data is None:
        raise ApiError(404, "not_found", "no such segment", "name")
    return web.Response(body=data, content_type=ctype, headers=headers)


def audience_count(app: web.Application, room_id: str) -> int:
    seen = app[AUDIENCE].get(room_id, {})
    horizon = time.monotonic() - AUDIENCE_WINDOW_S
    for viewer in [v for v, at in seen.items() if at < horizon]:
        del seen[viewer]
    return len(seen)


async def audience(request: web.Request) -> web.Response:
    await require_role(request, *STAFF)
    room_id = request.match_info["room"]
    body = {"viewers": audience_count(request.app, room_id), **request.app[HLS].status(room_id)}
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def room_tracks(room: Room) -> list[RoomTrack]:
    """O(tracks), not O(participants): it runs on every room change, each of a thousand joins included."""
    people = room.participants
    return [
        RoomTrack(t.track_id, t.participant_id, t.kind, t.source, t.quality, t.codec,
                  people[t.participant_id].role.value if t.participant_id in people else "")
        for t in room.tracks.values()
    ]


async def _hls(app: web.Application) -> AsyncIterator[None]:
    """The packager follows every broadcast room on this node (rooms observer), for the app's lifetime."""
    media = app[MEDIA]
    settings = app[SETTINGS]
    rooms = app[ROOMS]

    def tracks_of(room_id: str) -> list[RoomTrack] | None:
        room = rooms.get(room_id)
        return room_tracks(room) if room is not None and room.kind.value in HLS_KINDS else None

    service = HlsService(media, app.get(STORAGE), settings.hls_segment_seconds,
                         spool=app.get(SPOOL), local_root=settings.media_dir, tracks_of=tracks_of)  # fmt: skip
    app[HLS] = service
    library = app.get(LIBRARY)
    if library is not None:  # an H.264 teacher's recording is taken from these segments (recorder.broadcast)
        library.recorder.broadcasts = service

    async def observe(room: Room) -> None:
        if room.kind.value not in HLS_KINDS:
            return
        try:
            await service.reconcile(room.id, room.state.value == "ended", room_tracks(room), keep=room.record)
        except Exception:  # the packager must never break the room it follows
            log.exception("hls: following room %s failed", room.id)

    rooms.add_observer(observe)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await service.close()


def setup(app: web.Application) -> None:
    app[LINKS] = HlsLinks.from_secret(list(app[SETTINGS].secret_keys().values())[-1])
    app[AUDIENCE] = {}
    app[PLAYLISTS] = {}
    tag = "hls"
    route(app, "POST", "/api/hls/{room}/url", hls_url, "A viewer's signed HLS playlist URL (join token)", UrlBody,
          tag, auth=False)  # fmt: skip
    route(app, "GET", "/api/hls/{room}/audience", audience, "HLS viewers in the last 15 s", tag=tag)
    route(app, "GET", "/hls/{room}/live.m3u8", playlist, "Live playlist (signed per viewer)", tag=tag, auth=False)
    route(app, "GET", "/hls/{room}/{token}/{name}", segment, "Init segment or media segment", tag=tag, auth=False)
    app.cleanup_ctx.append(_hls)
