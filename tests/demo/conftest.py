"""The demo county as a newcomer starts it: `sanke serve --demo` in a process of its own on a fresh data dir,
the accounts it printed, and one Chromium. Shared by the journey, translation and navigation tests."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.required import missing

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
READY_TIMEOUT = float(os.environ.get("SANKE_DEMO_READY_TIMEOUT", "300"))


@dataclass
class Demo:
    url: str
    data_dir: Path
    log: Path
    passwords: dict[str, str]
    codes: dict[str, str]  # "school classroom" → join code
    seconds_to_ready: float

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo(data_dir: Path, *extra: str) -> tuple[subprocess.Popen, Path, str]:
    port = _free_port()
    log = data_dir.parent / f"{data_dir.name}-{port}.log"
    out = log.open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--demo", "--port", str(port), "--data-dir", str(data_dir), *extra],
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    return proc, log, f"http://127.0.0.1:{port}"


def stop_demo(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # aiohttp's graceful stop: cleanup contexts run, the bots stop
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def wait_for_line(proc: subprocess.Popen, log: Path, pattern: str, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        found = re.search(pattern, text)
        if found:
            return found
        if proc.poll() is not None:
            raise AssertionError(f"sanke serve --demo exited ({proc.returncode}):\n{text[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"no {pattern!r} within {timeout:.0f}s:\n{log.read_text(encoding='utf-8', errors='replace')[-3000:]}")


@pytest.fixture(scope="package")
def demo() -> Iterator[Demo]:
    tmp = Path(tempfile.mkdtemp(prefix="sanke-demo-"))
    data_dir = tmp / "var"
    began = time.monotonic()
    proc, log, url = start_demo(data_dir)
    try:
        wait_for_line(proc, log, r"demo: recordings filed", READY_TIMEOUT)
        ready = time.monotonic() - began
        text = log.read_text(encoding="utf-8")
        passwords = {u: p for u, p in re.findall(r"^  ([a-z.]+)\s{2,}(\S+)\s{2,}\S", text, re.M)}
        codes = {f"{school} {name}": code for code, school, name in re.findall(r"^  ([A-Z0-9]{8})  (\S+) (\S+)$", text, re.M)}
        yield Demo(url, data_dir, log, passwords, codes, ready)
    finally:
        stop_demo(proc)
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
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="package")
def shots() -> Path:
    path = ARTIFACTS / "screens"
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_as(browser: Any, demo: Demo, username: str | None, lang: str = "zh-CN", size: tuple[int, int] = (1366, 768)) -> Any:
    """A page in its own context, logged in as `username` (None: nobody), in `lang`."""
    ctx = browser.new_context(base_url=demo.url, viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    ctx.set_default_timeout(30_000)
    ctx.add_init_script(f"localStorage.setItem('sanke.lang', '{lang}')")
    page = ctx.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    if username:
        page.goto("/login")
        page.fill("#username", username)
        page.fill("#password", demo.passwords[username])
        page.click("#login-submit")
        page.wait_for_url(lambda u: "/login" not in u)
    return page


def settle(page: Any, longest_ms: int = 3000, then_ms: int = 300) -> None:
    """Let the page finish what it loads after its title shows: until no request has been in flight for
    0.5 s (Playwright's "networkidle"; WebSockets and WebRTC do not count), at most `longest_ms`, then
    `then_ms` for the rendering that follows the last answer. Replaces a fixed 1.2–1.5 s wait per page: most
    pages settle sooner, and a slow one (a loaded machine) is waited for instead of being read half-drawn."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_load_state("networkidle", timeout=longest_ms)
    except PlaywrightTimeout:  # a page that polls more often than every 0.5 s never idles: read it as it is
        pass
    page.wait_for_timeout(then_ms)


def wait_title(page: Any, timeout: float = 30.0) -> str:
    """Wait until the header shows the page's title. Polled from here: the pages' CSP forbids eval, which
    Playwright's wait_for_function needs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        title = page.evaluate("() => document.getElementById('page-title')?.textContent.trim() || ''")
        if title:
            return title
        page.wait_for_timeout(200)
    raise AssertionError(f"{page.url}: no page title within {timeout:.0f}s")
