"""An SFU worker process: one `MediaService` on its own event loop (and its own core), driven over a Channel.

Started by `media.workers.WorkerPool` as `python -m media.worker --fd N` with one end of a socket pair.
It owns its routers, transports, producers and consumers; the main process keeps HTTP, signaling, rooms
and the database. Requests are the `MediaSeam` calls as plain data; the `MediaListener` calls come back as
notifications. When the channel closes (the main process stopped or died) the worker closes its media
and exits, so a worker never outlives its node.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import socket
import time
from dataclasses import asdict
from typing import Any

from core.contracts import MediaTrack, PublishedTrackSpec, QualityChange
from media.channel import Channel
from media.service import MediaService

log = logging.getLogger(__name__)


class _Listener:
    """MediaListener that forwards each call to the main process as a notification."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def on_track_published(self, room_id: str, track: MediaTrack) -> None:
        await self.channel.notify("track_published", {"room_id": room_id, "track": _track(track)})

    async def on_track_unpublished(self, room_id: str, track: MediaTrack) -> None:
        await self.channel.notify("track_unpublished", {"room_id": room_id, "track": _track(track)})

    async def on_subscriber_offer(self, room_id: str, participant_id: str, sdp: str) -> None:
        await self.channel.notify("subscriber_offer", {"room_id": room_id, "participant_id": participant_id, "sdp": sdp})

    async def on_audio_levels(self, room_id: str, levels: dict[str, float]) -> None:
        await self.channel.notify("audio_levels", {"room_id": room_id, "levels": levels})

    async def on_track_stats(self, room_id: str, stats: list[dict[str, Any]]) -> None:
        await self.channel.notify("track_stats", {"room_id": room_id, "stats": stats})

    async def on_quality_changed(self, room_id: str, participant_id: str, change: QualityChange) -> None:
        change_data = asdict(change) | {"tracks": list(change.tracks)}
        await self.channel.notify("quality_changed", {"room_id": room_id, "participant_id": participant_id, "change": change_data})


def _track(track: MediaTrack) -> dict[str, Any]:
    return {
        "track_id": track.track_id, "participant_id": track.participant_id, "kind": track.kind,
        "source": track.source, "quality": track.quality, "codec": track.codec,
    }  # fmt: skip


class WorkerHandler:
    """Serves the channel's requests with the worker's MediaService."""

    def __init__(self, service: MediaService) -> None:
        self.service = service
        self._cpu0 = (time.process_time(), time.monotonic())
        self.loop_lag = 0.0

    async def __call__(self, method: str, data: dict[str, Any]) -> Any:
        s = self.service
        match method:
            case "publish_offer":
                specs = [PublishedTrackSpec(**t) for t in data["tracks"]]
                return await s.publish_offer(data["room_id"], data["participant_id"], data["sdp"], specs)
            case "subscriber_answer":
                return await s.subscriber_answer(data["room_id"], data["participant_id"], data["sdp"])
            case "ice_candidate":
                return await s.ice_candidate(data["room_id"], data["participant_id"], data["target"], data["candidate"])
            case "set_subscriptions":
                return await s.set_subscriptions(data["room_id"], data["participant_id"], data["plan"])
            case "leave":
                return await s.leave(data["room_id"], data["participant_id"])
            case "close_room":
                return await s.close_room(data["room_id"])
            case "load":
                return self.load()
            case "track_stats":
                return [asdict(x) for x in s.track_stats()]
            case "ping":
                return os.getpid()
        raise KeyError(f"unknown method {method}")

    def load(self) -> dict[str, Any]:
        """What placement and /metrics need: rooms, consumers, forwarded packets, CPU share since last asked."""
        cpu, at = time.process_time(), time.monotonic()
        cpu0, at0 = self._cpu0
        self._cpu0 = (cpu, at)
        routers = list(self.service.routers.values())
        return {
            "pid": os.getpid(),
            "rooms": len(routers),
            "consumers": sum(len(t.slots) for r in routers for t in r.subscribers.values()),
            "packets": sum(p.counters.packets for r in routers for p in r.producers.values()),
            "cpu": round((cpu - cpu0) / max(at - at0, 1e-6), 4),
            "loop_lag": round(self.loop_lag, 4),
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }


async def serve(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    channel = Channel(reader, writer, name=f"worker {os.getpid()}")
    service = MediaService()
    service.set_listener(_Listener(channel))
    handler = WorkerHandler(service)
    lag = asyncio.get_running_loop().create_task(_measure_lag(handler))
    try:
        await channel.run(handler=handler)
    finally:
        lag.cancel()
        await service.close()


async def _measure_lag(handler: WorkerHandler, interval: float = 0.5) -> None:
    """How late the loop wakes up (a busy worker forwards late): the worst of the last few seconds."""
    loop = asyncio.get_running_loop()
    worst: list[float] = []
    while True:
        due = loop.time() + interval
        await asyncio.sleep(interval)
        worst = [*worst[-9:], max(0.0, loop.time() - due)]
        handler.loop_lag = max(worst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m media.worker")
    parser.add_argument("--fd", type=int, required=True, help="this worker's end of the channel socket pair")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s media-worker[{os.getpid()}] %(levelname)s %(message)s")
    asyncio.run(serve(args.fd))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
