"""The school's browser journeys share the web package's live server, Chromium and page helpers; a failing
journey leaves a screenshot of every page it opened in test-artifacts/ (to see why, not to guess)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rooms.roles import RoomKind
from tests.conftest import seed_county, start_server
from tests.web.conftest import LiveServer, artifacts, browser
from web.keys import DB

__all__ = ["artifacts", "browser", "live_server", "new_page"]


@pytest.fixture(scope="package")
def live_server() -> Iterator[LiveServer]:
    """The platform without the SFU (these journeys test the school's pages, not video, and the machine is
    shared): a hub school and two remote classrooms with a delivery lesson."""
    tmp = Path(tempfile.mkdtemp(prefix="sanke-school-"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sanke-school-server", daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    server, runner = run(start_server(tmp, with_media=False))
    try:
        county = run(seed_county(server.app[DB], RoomKind.DELIVERY, remotes=2))
        yield LiveServer(server.url, server.app, county, loop)
    finally:
        run(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        shutil.rmtree(tmp, ignore_errors=True)



@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def new_page(request: pytest.FixtureRequest, browser: Any, live_server: Any, artifacts: Path) -> Iterator[Callable[..., Any]]:
    pages: list[Any] = []
    contexts: list[Any] = []

    def make(width: int = 1280, height: int = 720) -> Any:
        ctx = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height}, locale="zh-CN")
        ctx.set_default_timeout(20_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: print(f"[pageerror] {e}"))
        page.on("console", lambda m: m.type == "error" and print(f"[console] {m.text}"))
        pages.append(page)
        return page

    yield make
    if request.node.stash.get(_FAILED, False):
        for i, page in enumerate(pages):
            try:
                page.screenshot(path=str(artifacts / f"failed-{request.node.name[:40]}-{i}.png"))
            except Exception as e:  # noqa: BLE001 - a closed page has nothing to show
                print(f"no screenshot of page {i}: {e}")
    for ctx in contexts:
        ctx.close()
