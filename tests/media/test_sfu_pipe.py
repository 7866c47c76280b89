"""pipeToRouter: a room that outgrows its worker places further subscribers on the other worker and pipes
the publisher's tracks there; subscribers on both workers decode the one publisher's frames, a keyframe
request from the far side reaches the publisher, and an unpublished track ends on both workers."""

from __future__ import annotations

import asyncio

from loadtest.bots import Bot, DirectSignal, wait_for
from media.workers import WorkerPool

ROOM = "pipe-room"


def _numbers(bot: Bot, track_id: str) -> int:
    check = bot.video.get(track_id)
    return len(check.numbers) if check else 0


async def test_subscribers_on_two_workers_decode_one_publisher(high_clip):
    pool = WorkerPool(2, pipe_after=2)  # the room's worker holds two participants, then it spreads
    await pool.start()
    signal = DirectSignal(pool, ROOM)
    bots: list[Bot] = []
    try:
        host = signal.add(Bot("host", signal, clip=high_clip, tone_hz=440))
        bots.append(host)
        await host.publish()
        assert await wait_for(lambda: len(signal.published) == 2, 10)
        plan = {"host:0": "high", "host:1": "high"}
        viewers = [signal.add(Bot(f"v{i}", signal, subscribe_mode="decode")) for i in range(4)]
        bots += viewers
        for viewer in viewers:
            await pool.set_subscriptions(ROOM, viewer.name, plan)  # type: ignore[arg-type]
        home = pool.worker_of(ROOM)
        (other,) = [w for w in pool.workers if w is not home]
        placed = {v.name: pool.subscriber_at.get((ROOM, v.name), home) for v in viewers}
        assert placed == {"v0": home, "v1": other, "v2": other, "v3": home}  # least-loaded, ties stay home
        # every viewer decodes the publisher's numbered frames and hears its tone, on either worker
        assert await wait_for(lambda: all(_numbers(v, "host:0") >= 20 for v in viewers), 20)
        assert await wait_for(lambda: all(v.audio.get("host:1") and v.audio["host:1"].pitch_hz for v in viewers), 10)
        for viewer in viewers:
            check = viewer.video["host:0"]
            assert check.broken == 0 and check.backwards == 0, viewer.name
            assert abs(viewer.audio["host:1"].pitch_hz - 440) < 25, viewer.name
        loads = {x["worker"]: x for x in await pool.refresh_load()}
        assert loads[home.index]["consumers"] == 4 and loads[other.index]["consumers"] == 4
        assert loads[other.index]["forwarded"] > 0

        # a late viewer on the far worker gets a keyframe (its PLI crosses the pipe to the publisher)
        late = signal.add(Bot("v4", signal, subscribe_mode="decode"))
        bots.append(late)
        await pool.set_subscriptions(ROOM, late.name, plan)  # type: ignore[arg-type]
        assert pool.subscriber_at[(ROOM, "v4")] is other
        assert await wait_for(lambda: _numbers(late, "host:0") >= 5, 10)

        # the publisher leaves: its tracks end on both workers
        await pool.leave(ROOM, "host")
        assert await wait_for(lambda: not signal.published, 10)
        await pool.refresh_load()
        await asyncio.sleep(1)
        loads = {x["worker"]: x for x in await pool.refresh_load()}
        assert loads[other.index]["packets_per_s"] == 0 and loads[other.index]["packets"] == 0  # piped copies gone
    finally:
        for bot in bots:
            await bot.close()
        await pool.close()
