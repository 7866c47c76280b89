"""Every page works under the Content-Security-Policy in Chromium (no violation reported), and the login
page's `next=` only ever leads to a path on this site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.conftest import LiveServer, login

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
WATCH = """() => { window.__csp = []; document.addEventListener('securitypolicyviolation',
    (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); }"""


def test_pages_run_under_the_csp(new_page: Any, live_server: LiveServer) -> None:
    page = new_page()
    console: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and console.append(m.text))
    page.add_init_script(WATCH)
    login(page, "coord")
    pages = sorted(p.stem for p in STATIC.glob("*.html") if p.stem not in ("index",))
    for name in pages:
        page.goto(f"/{name}")
        page.wait_for_load_state("networkidle")
        violations = page.evaluate("() => window.__csp || []")
        assert violations == [], f"/{name}: {violations}"
    assert console == [], console


def test_next_only_leads_to_a_path_on_this_site(new_page: Any, live_server: LiveServer) -> None:
    for evil in ("//evil.example/x", "/\\\\evil.example", "https://evil.example/", "javascript:alert(1)"):
        page = new_page()
        login(page, "wang", next_path=evil)
        assert page.url.startswith(live_server.url), f"next={evil} left for {page.url}"
    page = new_page()
    login(page, "wang", next_path="/library?q=weather")
    assert page.url == f"{live_server.url}/library?q=weather"
