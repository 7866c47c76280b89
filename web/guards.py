"""Browser-facing guards: CSRF checks on state-changing requests and security headers on every response.

A cookie is sent by the browser on its own, so a request that changes state must prove it came from one
of our pages: a body type a cross-site form cannot send (JSON, or a file; never text/plain or a urlencoded
form), and an `Origin` or `Referer` naming this site. Scripts that authenticate with a Bearer header carry no ambient credential
and need no such proof.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from web.errors import ApiError
from web.keys import SETTINGS

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a cross-site <form> or a fetch without a CORS preflight can send, besides multipart uploads (which the
# Origin check covers): never accepted. Other types (JSON, a CSV or XLSX file) need a preflight we never grant.
REFUSED_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded"})
COOKIE = "sanke_session"

CSP = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
    "media-src 'self' blob:", "connect-src 'self'", "font-src 'self'", "object-src 'none'", "base-uri 'self'",
    "form-action 'self'", "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self), geolocation=()",
}


def same_origin(request: web.Request, url: str) -> bool:
    """`url`'s host is the one this request reached, or the configured public URL's."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    hosts = {request.host.lower()}
    public = request.app[SETTINGS].public_url
    if public:
        hosts.add(urlsplit(public).netloc.lower())
    return parts.netloc.lower() in hosts


def check_csrf(request: web.Request) -> None:
    if request.method in SAFE_METHODS or not request.path.startswith("/api/"):
        return
    has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if has_body and request.content_type in REFUSED_TYPES:
        raise ApiError(415, "unsupported_media_type",
                       f"send application/json, not {request.content_type} (请以 JSON 提交)", "Content-Type")
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return  # a script's own credential: nothing the browser adds by itself
    origin = request.headers.get("Origin")
    referer = request.headers.get("Referer")
    if origin is not None and origin != "null":
        ok = same_origin(request, origin)
    elif referer:
        ok = same_origin(request, referer)
    else:
        ok = COOKIE not in request.cookies  # no provenance: only a request without our cookie may pass
    if not ok:
        raise ApiError(403, "cross_origin", "this request did not come from a Sanke page (跨站请求被拒绝)",
                       "Origin")


@web.middleware
async def csrf_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    check_csrf(request)
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, pages, files and errors alike, carries the same headers."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
