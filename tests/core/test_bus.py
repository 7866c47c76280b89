"""One behaviour for both buses: ordered pub/sub, keys that expire, a lock that excludes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from core.bus import Bus, InProcessBus, RedisBus


@pytest.fixture(params=["inprocess", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "inprocess":
        b: Bus = InProcessBus()
    else:
        b = RedisBus(request.getfixturevalue("redis_url"), prefix=f"t{uuid.uuid4().hex[:8]}:")
    try:
        yield b
    finally:
        await b.close()


async def test_pubsub_in_order_to_every_subscriber(bus: Bus) -> None:
    a = await bus.subscribe("room:r1")
    b = await bus.subscribe("room:r1")
    other = await bus.subscribe("room:r2")
    for i in range(50):
        await bus.publish("room:r1", {"n": i, "text": "上台"})
    assert [(await a.get(2))["n"] for _ in range(50)] == list(range(50))
    assert [(await b.get(2))["n"] for _ in range(50)] == list(range(50))
    with pytest.raises(TimeoutError):
        await other.get(0.2)
    await a.close()
    await bus.publish("room:r1", {"n": 99})
    assert (await b.get(2))["n"] == 99
    await b.close()
    await other.close()


async def test_keys_expire_and_hashes(bus: Bus) -> None:
    await bus.set("presence:x", "node-1", ttl=0.3)
    assert await bus.get("presence:x") == "node-1"
    assert not await bus.set_if_absent("presence:x", "node-2", ttl=1)
    await asyncio.sleep(0.45)
    assert await bus.get("presence:x") is None
    assert await bus.set_if_absent("presence:x", "node-2", ttl=1)
    await bus.hset("h", "a", "1")
    await bus.hset("h", "b", "2")
    await bus.hdel("h", "a")
    assert await bus.hgetall("h") == {"b": "2"}
    await bus.delete("presence:x")
    await bus.delete("h")


async def test_lock_excludes(bus: Bus) -> None:
    inside = 0
    most = 0

    async def worker() -> None:
        nonlocal inside, most
        async with bus.lock("room-create:r1", timeout=5):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(worker() for _ in range(8)))
    assert most == 1
