"""What the SFU itself counted, per subscriber, for `sanke bench media`: a tap (media.taps) opened in each
SFU process that holds the bench's room, read by plain-data calls.

The bench's sink subscribers (loadtest.sink) drop their media in the kernel, so what they were sent is
known only to the SFU: each consumer's packets and frames (marker packets) forwarded, and the room's
producers' packets and frames received. A tap runs where the consumers are (in a worker process when the
SFU has workers) and needs no request of its own in the worker's channel: the bench names this factory.
"""

from __future__ import annotations

import os
import time
from typing import Any

FACTORY = "loadtest.sfu_counts:SfuCounts"


class SfuCounts:
    def __init__(self, source: Any, room_id: str, config: dict[str, Any], emit: Any) -> None:
        self.service = source  # the process's MediaService (the tap's FrameSource)
        self.room_id = room_id

    async def call(self, method: str, data: dict[str, Any]) -> Any:
        if method != "counts":
            raise KeyError(f"sfu counts: unknown call {method}")
        return self.counts()

    def counts(self) -> dict[str, Any]:
        """{pid, at (this process's monotonic clock: the window of its counts is its own, not the time a
        request took to reach it), cpu (this process's CPU seconds), consumers: {participant: [packets, frames]} of video,
        producers: {track: [packets, frames]}, paced: {participant: bits/s}}."""
        router = self.service.routers.get(self.room_id)
        consumers: dict[str, list[int]] = {}
        producers: dict[str, list[int]] = {}
        paced: dict[str, float] = {}  # subscribers whose line the SFU paces (media.pacer): bits/s
        if router is not None:
            for participant_id, transport in router.subscribers.items():
                if transport.pacer.rate is not None:
                    paced[participant_id] = transport.pacer.rate
                for slot in transport.slots.values():
                    c = slot.consumer
                    if c.kind == "video" and not c.closed:
                        consumers[participant_id] = [c.counters.packets, c.counters.frames]
            for track_id, producer in router.producers.items():
                producers[track_id] = [producer.counters.packets, producer.counters.frames]
        return {"pid": os.getpid(), "at": time.monotonic(), "cpu": time.process_time(), "consumers": consumers,
                "producers": producers, "paced": paced}

    async def close(self) -> None:
        return None
