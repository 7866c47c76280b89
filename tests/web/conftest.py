"""Browser fixtures: the whole server (with the SFU) in a background thread, one Chromium, helpers for pages.

The server runs in its own event loop so that Playwright's sync API can drive pages from the test thread.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rooms.roles import RoomKind
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD, County, seed_county, start_server
from tests.required import missing
from web.keys import DB, MEDIA

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class LiveServer:
    url: str
    app: Any
    county: County
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@pytest.fixture(scope="package")
def live_server() -> Iterator[LiveServer]:
    """The platform with media on 127.0.0.1, a county of one hub school and two remote classrooms."""
    tmp = Path(tempfile.mkdtemp(prefix="sanke-web-"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sanke-server", daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    server, runner = run(start_server(tmp, with_media=True))
    try:
        county = run(seed_county(server.app[DB], RoomKind.DELIVERY, remotes=2))
        yield LiveServer(server.url, server.app, county, loop)
    finally:
        run(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing("Chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        missing("Playwright", str(e))
    with sync_playwright() as pw:
        # Playwright's launch gives every run a fresh, temporary user-data dir of its own.
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """Pages, each in its own browser context (own cookies, own fake camera), closed after the test."""
    contexts: list[Any] = []

    def make(width: int = 1280, height: int = 720) -> Any:
        ctx = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height},
                                  locale="zh-CN")
        ctx.set_default_timeout(20_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: print(f"[pageerror] {e}"))
        page.on("console", lambda m: m.type == "error" and print(f"[console] {m.text}"))
        return page

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def with_media(live_server: LiveServer) -> LiveServer:
    """The tests that play video need the SFU."""
    if live_server.app[MEDIA] is None:
        missing("the SFU (media.service)", "the server started without media")
    return live_server


@pytest.fixture(scope="package")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def api(page: Any, method: str, path: str, body: dict | None = None) -> dict:
    """Call the API from inside the page (so it carries the page's session cookie)."""
    result = page.evaluate(
        """async ([method, path, body]) => {
            const r = await fetch(path, {method, headers: {'Content-Type': 'application/json'},
                                         body: body ? JSON.stringify(body) : undefined});
            return {status: r.status, body: await r.json()};
        }""",
        [method, path, body],
    )
    assert result["status"] < 300, f"{method} {path}: {json.dumps(result, ensure_ascii=False)}"
    return result["body"]


def login(page: Any, username: str, password: str = PASSWORD, next_path: str = "") -> None:
    page.goto(f"/login{'?next=' + next_path if next_path else ''}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(lambda url: "/login" not in url)


def frames(page: Any) -> dict[str, dict]:
    """Inbound video per participant as the page's subscriber connection reports it (getStats)."""
    stats = page.evaluate("async () => window.sanke ? await window.sanke.inboundVideo() : []")
    out: dict[str, dict] = {}
    for s in stats:
        key = s["participant_id"] if s["source"] == "camera" else f"{s['participant_id']}#{s['source']}"
        if key not in out or s["framesDecoded"] > out[key]["framesDecoded"]:
            out[key] = s
    return out


def wait_playing(page: Any, participant_id: str, timeout: float = 20.0, rise: int = 5) -> int:
    """Wait until the video of `participant_id` decodes frames and keeps decoding (framesDecoded rises)."""
    deadline = time.monotonic() + timeout
    first: int | None = None
    last: dict[str, dict] = {}
    while time.monotonic() < deadline:
        last = frames(page)
        got = last.get(participant_id, {}).get("framesDecoded", 0)
        if got > 0 and first is None:
            first = got
        if first is not None and got >= first + rise:
            return got
        page.wait_for_timeout(250)
    raise AssertionError(f"{participant_id} not playing within {timeout}s; inbound video: {last}")


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
