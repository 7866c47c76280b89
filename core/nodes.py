"""The node registry: which nodes are alive and where they listen (as LiveKit's `nodes` hash, refreshed
every 2 s). A room is pinned to the node that activated it; other nodes relay its connections there."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from core.bus import Bus

REFRESH = 2.0
ALIVE_TTL = 6.0


class NodeRegistry:
    def __init__(self, bus: Bus, node_id: str, address: str) -> None:
        self.bus = bus
        self.node_id = node_id
        self.address = address
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._beat()
        self._task = asyncio.create_task(self._loop(), name="node-registry")

    async def _beat(self) -> None:
        await self.bus.set(f"node-alive:{self.node_id}", "1", ttl=ALIVE_TTL)
        await self.bus.hset("nodes", self.node_id, json.dumps({"address": self.address, "at": time.time()}))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH)
            with contextlib.suppress(Exception):
                await self._beat()

    async def alive(self, node_id: str) -> bool:
        return await self.bus.get(f"node-alive:{node_id}") is not None

    async def address_of(self, node_id: str) -> str | None:
        if not await self.alive(node_id):
            return None
        entry = (await self.bus.hgetall("nodes")).get(node_id)
        return json.loads(entry)["address"] if entry else None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.bus.delete(f"node-alive:{self.node_id}")
        await self.bus.hdel("nodes", self.node_id)
