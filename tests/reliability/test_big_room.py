"""One broadcast room, a school's worth of viewers joining at once.

Runs the issue's 1,000 joins at once against a real `sanke serve` in CI (SANKE_BIG_ROOM to change it). The
joiners run in a process of their own, as in `sanke bench signaling`, not in the test process, whose heap
and threads after hundreds of tests are not a classroom's. The issue's p99 ≤ 2 s is a figure for a quiet
machine and is taken with that bench (the notes give it); here, on a shared CI machine, p99 is held to twice
that, and the server's CPU per join (its media workers' included), which holds under load, to its measure.
On the Redis bus, a burst of more calls in flight than redis-py's pool holds must not read as Redis lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loadtest.bench_signaling import Round, run
from rooms.roles import Role, RoomKind, grants_for
from tests.conftest import County, Server, connect, seed_county, start_server, user_token
from web.keys import DB, HUB, TOKENS

BIG_ROOM = int(os.environ.get("SANKE_BIG_ROOM", "1000"))
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
async def test_a_thousand_join_at_once_and_all_succeed_promptly() -> None:
    bench = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loadtest.bench_signaling", "--sizes", str(BIG_ROOM), "--json",
        stdout=asyncio.subprocess.PIPE, cwd=ROOT)
    out, _ = await bench.communicate()
    assert bench.returncode == 0
    (r,) = [Round(**fields) for fields in json.loads(out)]
    print(f"\n  {r.joins} joins: failed={r.failed} p50={r.join_p50_ms:.0f} ms p99={r.join_p99_ms:.0f} ms "
          f"ping p99={r.ping_p99_ms:.0f} ms RSS={r.rss_mib:.0f} MiB server CPU={r.server_cpu_s:.2f} s")
    assert r.failed == 0
    assert r.server_cpu_s <= 0.0015 * BIG_ROOM  # measured 0.9–1.6 ms per join under load 17–37 (was 2.5–3.1)
    assert r.join_p99_ms <= 4000  # 2 s on a quiet machine (the bench); the CI machine's neighbours vary


@pytest.mark.timeout(300)
async def test_joins_at_once_on_redis_all_succeed(redis_url: str) -> None:
    (r,) = await run([300], redis_url=redis_url)  # 300 joins: three times redis-py's default pool
    print(f"\n  {r.joins} joins on Redis: failed={r.failed} p99={r.join_p99_ms:.0f} ms "
          f"server CPU={r.server_cpu_s:.2f} s")
    assert r.failed == 0  # was 201 of 300 refused `unavailable`: the bus took "Too many connections" for lost


@pytest.fixture
async def broadcast(tmp_path: Path) -> AsyncIterator[tuple[Server, County]]:
    srv, runner = await start_server(tmp_path)
    try:
        yield srv, await seed_county(srv.app[DB], kind=RoomKind.BROADCAST, remotes=1)
    finally:
        await runner.cleanup()


async def test_viewer_events_wake_only_their_audience(broadcast: tuple[Server, County]) -> None:
    server, county = broadcast
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    signer = server.app[TOKENS]
    grants = grants_for(Role.VIEWER, RoomKind.BROADCAST, county.room_id)
    n = 60
    viewers = await asyncio.gather(*(
        connect(server, signer.issue_join(f"viewer:{i}", f"观众{i}", "viewer", grants)) for i in range(n)))
    for _ in range(n):
        await teacher.next("participant.joined")
    fanout = server.app[HUB].fanouts.rooms[county.room_id]
    # Each viewer's join went to the hub side only (and to itself): about 2n deliveries, not n²/2.
    assert fanout.delivered <= 3 * n
    # A viewer's snapshot names the teacher, not the other viewers; it counts them.
    last = viewers[-1].seen[0]
    assert last["type"] == "joined"
    names = {p["id"] for p in last["room"]["participants"]}
    assert names <= {teacher.participant_id, viewers[-1].participant_id} and 2 <= last["room"]["audience"] <= n + 1
    # A room-wide event reaches every one of them.
    before = fanout.delivered
    await teacher.send({"type": "room.start", "id": "go"})
    await teacher.next("ok", id="go")
    for v in viewers:
        assert (await v.next("room.state"))["state"] == "live"
    assert n + 1 <= fanout.delivered - before <= n + 4  # (+ the recorder taking its seat, to the hub side)
    for c in (teacher, *viewers):
        await c.close()
