"""Twenty joins and leaves leave no peer connection, task, thread or file descriptor behind."""

from __future__ import annotations

import asyncio
import gc
import os
import threading

from aiortc import RTCPeerConnection

from loadtest.bots import Bot, DirectSignal, wait_for
from media.service import MediaService

ROOM = "leaks"


def _census() -> dict[str, int]:
    gc.collect()
    return {
        "peer_connections": sum(1 for o in gc.get_objects() if isinstance(o, RTCPeerConnection)),
        "tasks": len(asyncio.all_tasks()),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": sum(1 for t in threading.enumerate() if not t.name.startswith(("asyncio_", "ThreadPool"))),
    }


async def _join_and_leave(service: MediaService, signal: DirectSignal, name: str, clip) -> None:
    bot = signal.add(Bot(name, signal, clip=clip, tone_hz=500, subscribe_mode="decode"))
    await bot.publish()
    await service.set_subscriptions(ROOM, name, {"host:0": "high", "host:1": "high"})
    assert await wait_for(lambda: "host:0" in bot.video and bot.video["host:0"].frames >= 3, 10), name
    await bot.close()
    await service.leave(ROOM, name)
    signal.bots.pop(name)


async def test_twenty_joins_and_leaves_leak_nothing(low_clip):
    service = MediaService()
    signal = DirectSignal(service, ROOM)
    host = signal.add(Bot("host", signal, clip=low_clip, tone_hz=440))
    await host.publish()
    assert await wait_for(lambda: len(signal.published) == 2, 5)
    try:
        await _join_and_leave(service, signal, "warmup", low_clip)  # executors, codecs, caches
        await asyncio.sleep(0.5)
        before = _census()
        for i in range(20):
            await _join_and_leave(service, signal, f"guest{i}", low_clip)
        for _ in range(30):  # closing finishes in background tasks: let them run out
            await asyncio.sleep(0.1)
            after = _census()
            if all(after[k] <= before[k] for k in before):
                break
        router = service.routers[ROOM]
        assert list(router.publishers) == ["host"] and not router.subscribers
        assert set(router.producers) == {"host:0", "host:1"}
        assert all(not p.consumers for p in router.producers.values())
        assert after["peer_connections"] <= before["peer_connections"], (before, after)
        assert after["tasks"] <= before["tasks"], (before, after)
        assert after["fds"] <= before["fds"], (before, after)
        assert after["threads"] <= before["threads"], (before, after)
    finally:
        await host.close()
        await service.close()
    assert not service.routers
