"""The library's first use imports the sample curriculum (thousands of rows) without stalling the event loop:
a bystander pinging /api/health every 20 ms is answered within 100 ms throughout."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.conftest import Server
from tests.reliability.test_upload_bombs import bystander

# measures /api/health latency or a verification's time: runs alone, after the parallel part (Makefile)
pytestmark = [pytest.mark.parametrize("server", ["inprocess"], indirect=True), pytest.mark.solo]


async def test_first_library_use_keeps_health_answering(server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        async with bystander(server.url) as latencies:
            began = time.perf_counter()
            async with http.get(f"{server.url}/api/library/knowledge") as r:
                assert r.status == 200, await r.text()
                frameworks = (await r.json())["frameworks"]
            took = time.perf_counter() - began
        assert frameworks, "the sample knowledge frameworks were imported on first use"
        async with http.get(f"{server.url}/api/library/textbooks") as r:
            assert r.status == 200 and (await r.json())["nodes"], "the sample textbooks were imported too"
    worst = max(latencies)
    print(f"\nfirst library use {took * 1000:.0f} ms; bystander worst {worst * 1000:.0f} ms "
          f"over {len(latencies)} pings")
    assert worst < 0.1, f"/api/health stalled during the curriculum import: {latencies}"
