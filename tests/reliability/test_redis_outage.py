"""Redis lost mid-run, through a TCP proxy that stops listening and resets every connection: participants
stay connected and their pings are answered, what needs the bus answers `unavailable` with a retry hint,
/api/health says the bus is down; within 5 s of Redis returning a room event crosses the bus again.
Redis unreachable at start: `sanke serve` says so in one line and exits non-zero, without a traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import (
    WsClient,
    classroom_token,
    connect,
    free_port,
    login,
    seed_county,
    start_server,
    user_token,
)
from tests.s3server import FaultProxy
from web.keys import DB

REPO = Path(__file__).resolve().parents[2]


async def _health(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{url}/api/health") as r:
        return r.status, await r.json()


async def _ask(ws: WsClient, message: dict[str, Any]) -> dict[str, Any]:
    """Send a request and return its answer (`ok` or `error`, matched by id)."""
    await ws.send(message)
    async with asyncio.timeout(5):
        while True:
            for kind in ("ok", "error"):
                for i, m in enumerate(ws._pending):
                    if m.get("type") == kind and m.get("id") == message["id"]:
                        return ws._pending.pop(i)
            ws._pending.append(await ws._read())


async def test_redis_outage_keeps_participants_and_recovers(tmp_path: Path, redis_url: str) -> None:
    proxy = FaultProxy(target_port=int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    await proxy.up()
    server, runner = await start_server(tmp_path, redis_url=f"redis://127.0.0.1:{proxy.port}/1")
    http = aiohttp.ClientSession()
    teacher = classroom = None
    try:
        county = await seed_county(server.app[DB])
        coord = await login(server, "coord")
        teacher = await connect(server, await user_token(server, "wang", county.room_id))
        classroom = await connect(server, await classroom_token(server, county.codes["c1"]))
        assert (await _ask(classroom, {"type": "hand.raise", "id": "h1"}))["type"] == "ok"
        await teacher.next("hand.raised", participant_id=classroom.participant_id)
        assert (await _ask(classroom, {"type": "hand.lower", "id": "l1"}))["type"] == "ok"
        assert (await _health(http, server.url))[1]["bus"] == "up"

        await proxy.down()  # Redis is gone
        for _ in range(50):
            if (health := await _health(http, server.url))[0] == 503:
                break
            await asyncio.sleep(0.1)
        assert health[1]["bus"] == "down" and health[1]["ok"] is False
        for ws in (teacher, classroom):  # still connected, pings answered
            await ws.send({"type": "ping", "id": "p1"})
            assert (await ws.next("pong", id="p1"))["id"] == "p1"
        refused = await _ask(classroom, {"type": "hand.raise", "id": "h2"})
        assert refused["type"] == "error" and refused["code"] == "unavailable" and refused["retry_after"] > 0
        async with coord.get(f"{server.url}/api/rooms") as r:  # the listing reads presence from Redis
            assert r.status == 503 and (await r.json())["error"]["code"] == "unavailable"
        await asyncio.sleep(1.0)
        assert not teacher.ws.closed and not classroom.ws.closed

        await proxy.up()  # Redis is back: the classroom retries as told until its hand crosses the bus
        back, attempt = time.perf_counter(), 0
        while (answer := await _ask(classroom, {"type": "hand.raise", "id": f"retry-{attempt}"}))["type"] != "ok":
            attempt += 1
            assert answer["code"] == "unavailable" and time.perf_counter() - back < 5, answer
            await asyncio.sleep(0.2)
        event = await teacher.next("hand.raised", participant_id=classroom.participant_id, timeout=5)
        took = time.perf_counter() - back
        print(f"\nroom event crossed the bus {took * 1000:.0f} ms after Redis returned")
        assert took < 5 and event["hands"]
        assert (await _health(http, server.url))[0] == 200
        async with coord.get(f"{server.url}/api/rooms") as r:
            assert r.status == 200
        await coord.close()
    finally:
        for ws in (teacher, classroom):
            if ws is not None:
                await ws.close()
        await http.close()
        await runner.cleanup()
        await proxy.down()


def test_redis_unreachable_at_start_is_one_line_and_non_zero(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens here
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", "serve", "--redis-url", f"redis://127.0.0.1:{closed}/1",
         "--data-dir", str(tmp_path / "data"), "--port", str(free_port())],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=30,
    )
    assert time.perf_counter() - began < 20
    assert done.returncode != 0
    err = done.stderr.strip()
    assert "Traceback" not in done.stderr + done.stdout
    assert len(err.splitlines()) == 1, err
    assert err.startswith("sanke serve: --redis-url: cannot reach Redis") and str(closed) in err
