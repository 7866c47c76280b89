"""`sanke serve` as a real process on a data dir the test seeded: for SIGTERM, kill -9 and restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import psutil

from core.db import Database
from core.settings import Settings
from tests.conftest import County, Server, free_port, seed_county
from tests.databases import sqlite_at_head

REPO = Path(__file__).resolve().parents[2]


async def seed(data_dir: Path) -> County:
    """Migrate the data dir's database and seed the small county (its delivery room records)."""
    settings = Settings(data_dir=data_dir)
    settings.prepare()
    sqlite_at_head(data_dir / "sanke.db")
    db = Database(settings.db_url)
    try:
        await db.migrate()
        return await seed_county(db)
    finally:
        await db.close()


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` every 0.1 s until it holds; fail naming `what` after `timeout` s."""
    for _ in range(int(timeout / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


@dataclass
class Proc:
    process: subprocess.Popen[Any]
    server: Server
    log: Path
    _out: IO[Any]
    # A killed server's helper processes (SFU workers, the upload fork server, worker and resource tracker):
    # remembered before a SIGKILL, to check that they end with it, and killed in `stop()` should one not.
    _helpers: list[psutil.Process] = field(default_factory=list)

    def _descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []

    def text(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        if sig == signal.SIGKILL:
            self._helpers += self._descendants()
        self.process.send_signal(sig)

    async def leftovers(self, timeout: float) -> list[str]:
        """The command lines of the killed server's helpers still running after `timeout` s."""
        _, alive = await asyncio.to_thread(psutil.wait_procs, self._helpers, timeout)
        lines = []
        for p in alive:
            with contextlib.suppress(psutil.Error):
                lines.append(" ".join(p.cmdline())[:200])
        return lines

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._out.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.signal(signal.SIGKILL)
            self.process.wait(10)
        for helper in self._helpers:
            with contextlib.suppress(psutil.Error):
                helper.kill()
        self._out.close()


async def start(data_dir: Path, port: int | None = None, name: str = "serve", timeout: float = 90.0) -> Proc:
    """Start `sanke serve` and wait until /api/health answers."""
    port = port or free_port()
    log = data_dir.parent / f"{name}.log"
    out = log.open("ab")
    process = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "web.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
        stdout=out, stderr=subprocess.STDOUT,
    )
    proc = Proc(process, Server(f"http://127.0.0.1:{port}", None, Settings(data_dir=data_dir, port=port)), log, out)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"sanke serve exited with {process.returncode}:\n{proc.text()[-3000:]}")
            try:
                async with http.get(f"{proc.server.url}/api/health") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                proc.stop()
                raise AssertionError(f"sanke serve did not answer within {timeout} s:\n{proc.text()[-3000:]}")
            await asyncio.sleep(0.2)
