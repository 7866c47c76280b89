"""Network check before class: a round trip and a short upload, so a school sees its link is good enough."""

from __future__ import annotations

import time

from aiohttp import web

from web.errors import ApiError
from web.openapi import route

MAX_UPLOAD = 512 * 1024  # enough to estimate an uplink without loading the server


async def ping(request: web.Request) -> web.Response:
    """Answer at once; the browser times the round trip."""
    return web.json_response({"ok": True, "at": time.time()}, headers={"Cache-Control": "no-store"})


async def upload(request: web.Request) -> web.Response:
    """Read a short body and say how long it took to arrive, so the page can compute kbit/s."""
    if request.content_length is not None and request.content_length > MAX_UPLOAD:
        raise ApiError(413, "too_large", f"upload exceeds {MAX_UPLOAD} bytes")
    start = time.perf_counter()
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_UPLOAD:
            raise ApiError(413, "too_large", f"upload exceeds {MAX_UPLOAD} bytes")
    elapsed = time.perf_counter() - start
    return web.json_response({"bytes": size, "server_ms": round(elapsed * 1000, 1)})


def setup(app: web.Application) -> None:
    route(app, "GET", "/api/netcheck/ping", ping, "Network check: round trip", tag="netcheck", auth=False)
    route(app, "POST", "/api/netcheck/upload", upload, "Network check: short upload", tag="netcheck", auth=False)
