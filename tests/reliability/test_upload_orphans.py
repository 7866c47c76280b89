"""The upload parser's helper processes (fork server, worker, resource tracker) end with the server, even
when the server is killed with SIGKILL and runs none of its cleanup: a supervisor restarting a crashed node
must not collect a family of orphans at every crash."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time

import psutil

from tests.reliability.procserver import REPO

SERVER = """
import asyncio, sys
from core import uploads

asyncio.run(uploads.start_worker())
print("ready", flush=True)
sys.stdin.read()
"""


def test_upload_helpers_die_with_a_killed_server() -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=REPO, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    family: list[psutil.Process] = []
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        family = psutil.Process(server.pid).children(recursive=True)
        names = [" ".join(p.cmdline()) for p in family]
        assert any("forkserver" in n for n in names) and any("resource_tracker" in n for n in names), names
        assert any(p.ppid() in {q.pid for q in family} for p in family), names  # the worker the fork server forked
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        began = time.monotonic()
        gone, alive = psutil.wait_procs(family, 10)
        print(f"\n{len(gone)} helper(s) gone {time.monotonic() - began:.2f} s after the kill -9; {len(alive)} left")
        assert not alive, [" ".join(p.cmdline()) for p in alive]
    finally:
        server.kill()
        server.wait(10)
        for p in family:
            with contextlib.suppress(psutil.Error):
                p.kill()
