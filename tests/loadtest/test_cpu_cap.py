"""The bench's CPU cap (loadtest.cpu_cap): a process held to a quarter of a core gets no more than that."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from loadtest import cpu_cap
from loadtest.media_cpu import process_cpu


@pytest.fixture
def busy():
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_capped_process_gets_its_share_and_no_more(busy):
    if cpu_cap.root() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no writable cgroup with CPU bandwidth control: `sanke bench media` needs one")
        pytest.skip("no writable cgroup with CPU bandwidth control here")
    cap = cpu_cap.CpuCap(f"sanke-test-{os.getpid()}", 0.25)
    try:
        cap.add(busy.pid)
        time.sleep(0.3)
        cpu0, t0 = process_cpu(busy.pid), time.monotonic()
        time.sleep(2.0)
        share = (process_cpu(busy.pid) - cpu0) / (time.monotonic() - t0)
        assert share <= 0.32, share
        assert cap.throttled_s() > 0.5  # it wanted a whole core and was held back
    finally:
        cap.close()
    assert not cap.path.exists()
    assert busy.poll() is None  # moved back out, still running
