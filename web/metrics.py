"""`/metrics`: Prometheus text of the SFU's per-track stats (bitrate, packets, loss, NACKs, keyframes,
transit time). Empty when the server runs without media."""

from __future__ import annotations

from aiohttp import web

from web.keys import MEDIA


async def metrics(request: web.Request) -> web.Response:
    media = request.app.get(MEDIA)
    body = await media.metrics_text() if media is not None else ""
    return web.Response(text=body, content_type="text/plain", charset="utf-8", headers={"Cache-Control": "no-cache"})


def setup(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
