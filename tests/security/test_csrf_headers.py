"""CSRF and security headers: a state change needs a JSON body and our own Origin/Referer when the browser's
cookie is what authenticates it; every response carries the CSP and its companions."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.conftest import County, Server, login

inproc = pytest.mark.parametrize("server", ["inprocess"], indirect=True)
STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


async def _cookie(server: Server, username: str) -> str:
    http = await login(server, username)
    token = http.headers["Authorization"][7:]
    await http.close()
    return token


@inproc
async def test_cookie_requests_need_our_origin(server: Server, county: County) -> None:
    token = await _cookie(server, "coord")
    url = f"{server.url}/api/schools"
    cases = [  # (extra headers, expected status)
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),  # a sandboxed frame or a data: page
        ({"Referer": "https://evil.example/page"}, 403),
        ({}, 403),  # a cookie but no provenance at all
        ({"Origin": server.url}, 201),
        ({"Referer": f"{server.url}/coordinator"}, 201),
    ]
    async with aiohttp.ClientSession() as http:
        for i, (extra, expected) in enumerate(cases):
            headers = {"Cookie": f"sanke_session={token}", **extra}
            async with http.post(url, json={"name": f"学校{i}", "kind": "remote"}, headers=headers) as r:
                body = await r.json()
                assert r.status == expected, (extra, body)
                if expected == 403:
                    assert body["error"]["code"] == "cross_origin" and body["error"]["field"] == "Origin"


@inproc
async def test_only_json_bodies_change_state(server: Server, county: County) -> None:
    """text/plain and form bodies are what a cross-site <form> can send without a preflight: refused,
    with a Bearer token too (the rule is simple and the same for everyone)."""
    coord = await login(server, "coord")
    try:
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "text/plain; charset=utf-8"):
            async with coord.post(f"{server.url}/api/schools", data=b'{"name": "x", "kind": "remote"}',
                                  headers={"Content-Type": ctype, "Origin": server.url}) as r:
                assert r.status == 415 and (await r.json())["error"]["field"] == "Content-Type"
        async with aiohttp.ClientSession() as anon:
            async with anon.post(f"{server.url}/api/login", data=b'{"username":"coord","password":"x"}',
                                 headers={"Content-Type": "text/plain"}) as r:
                assert r.status == 415
        async with coord.get(f"{server.url}/api/audit?action=school.create") as r:
            assert (await r.json())["entries"] == []  # nothing was created by the refused requests
    finally:
        await coord.close()


@inproc
async def test_security_headers_on_every_page_file_and_error(server: Server, county: County) -> None:
    paths = ["/", "/api/health", "/api/openapi.json", "/static/css/sanke.css", "/no-such-page", "/api/me"]
    paths += [f"/{p.stem}" for p in STATIC.glob("*.html") if p.stem != "index"]
    async with aiohttp.ClientSession() as http:
        for path in paths:
            async with http.get(f"{server.url}{path}") as r:
                h = r.headers
                csp = h.get("Content-Security-Policy", "")
                assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
                assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp, path
                assert h.get("X-Content-Type-Options") == "nosniff", path
                assert h.get("X-Frame-Options") == "DENY", path
                assert h.get("Referrer-Policy") == "same-origin", path


def test_pages_have_no_inline_script_or_style() -> None:
    """The CSP allows scripts and styles from files only; an inline one would silently not run."""
    for page in STATIC.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "style=" not in html, page.name
        for chunk in html.split("<script")[1:]:
            assert "src=" in chunk.split(">", 1)[0], f"inline script in {page.name}"
