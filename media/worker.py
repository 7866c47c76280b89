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
import contextlib
import importlib
import logging
import os
import resource
import socket
import threading
import time
from dataclasses import asdict
from typing import Any

from core.contracts import MediaTrack, PublishedTrackSpec, QualityChange, TapEvent
from core.errors import SankeError
from media.channel import Channel, ChannelClosed
from media.pipe import Pipes
from media.service import MediaService
from media.taps import Tap, load_factory

log = logging.getLogger(__name__)


class _Listener:
    """MediaListener that forwards each call to the main process as a notification (dropped once the main
    process is gone: the worker is closing its media then)."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self.channel = self

    async def notify(self, event: str, data: dict[str, Any]) -> None:
        with contextlib.suppress(ChannelClosed):
            await self._channel.notify(event, data)

    async def on_track_published(self, room_id: str, track: MediaTrack) -> None:
        await self.channel.notify("track_published", {"room_id": room_id, "track": _track(track)})

    async def on_track_unpublished(self, room_id: str, track: MediaTrack) -> None:
        await self.channel.notify("track_unpublished", {"room_id": room_id, "track": _track(track)})

    async def on_subscriber_offer(self, room_id: str, participant_id: str, sdp: str, offer_id: int) -> None:
        body = {"room_id": room_id, "participant_id": participant_id, "sdp": sdp, "offer_id": offer_id}
        await self.channel.notify("subscriber_offer", body)

    async def on_audio_levels(self, room_id: str, levels: dict[str, float]) -> None:
        await self.channel.notify("audio_levels", {"room_id": room_id, "levels": levels})

    async def on_track_stats(self, room_id: str, stats: list[dict[str, Any]]) -> None:
        await self.channel.notify("track_stats", {"room_id": room_id, "stats": stats})

    async def on_media_lost(self, room_id: str, participants: list[str], tracks: list[MediaTrack]) -> None:
        """Only the pool (main process) sees a worker die; inside a worker nothing is lost this way."""

    async def on_quality_changed(self, room_id: str, participant_id: str, change: QualityChange) -> None:
        change_data = asdict(change) | {"tracks": list(change.tracks)}
        await self.channel.notify("quality_changed", {"room_id": room_id, "participant_id": participant_id, "change": change_data})


def _track(track: MediaTrack) -> dict[str, Any]:
    return {
        "track_id": track.track_id, "participant_id": track.participant_id, "kind": track.kind,
        "source": track.source, "quality": track.quality, "codec": track.codec,
    }  # fmt: skip


# What aiortc raises on input it cannot use, by request: the field the client's error names.
_INPUT_FIELD = {"publish_offer": "sdp", "subscriber_answer": "sdp", "ice_candidate": "candidate"}
_STATE_ERRORS = ("InvalidStateError", "InvalidAccessError")


class WorkerHandler:
    """Serves the channel's requests with the worker's MediaService, and the taps (recordings) opened here."""

    def __init__(self, service: MediaService, channel: Channel | None = None) -> None:
        self.service = service
        self.channel = channel
        self.taps: dict[str, Tap] = {}
        self.pipes = Pipes(service.router)
        self._cpu0 = (time.process_time(), time.monotonic())
        self._packets0 = (0, 0)  # (received, forwarded) at the last load report
        self.loop_lag = 0.0
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, method: str, data: dict[str, Any]) -> Any:
        try:
            return await self._serve(method, data)
        except SankeError:
            raise
        except Exception as e:  # as `signaling.session` names what aiortc raises in one process
            if type(e).__name__ in _STATE_ERRORS or isinstance(e, KeyError):
                raise SankeError("invalid_state", f"not possible now: {str(e)[:160]}", "type") from e
            if isinstance(e, ValueError | IndexError | TypeError | AssertionError) and method in _INPUT_FIELD:
                field = _INPUT_FIELD[method]
                raise SankeError(f"invalid_{field}", f"the SFU could not use this {field}: {str(e)[:160]}",
                                 field) from e  # fmt: skip
            raise

    async def _serve(self, method: str, data: dict[str, Any]) -> Any:
        s = self.service
        match method:
            case "publish_offer":
                specs = [PublishedTrackSpec(**t) for t in data["tracks"]]
                return await s.publish_offer(data["room_id"], data["participant_id"], data["sdp"], specs)
            case "subscriber_answer":
                answer = (data["room_id"], data["participant_id"], data["sdp"], data.get("offer_id"))
                return await s.subscriber_answer(*answer)
            case "ice_candidate":
                return await s.ice_candidate(data["room_id"], data["participant_id"], data["target"], data["candidate"])
            case "set_subscriptions":
                return await s.set_subscriptions(data["room_id"], data["participant_id"], data["plan"])
            case "leave":
                return await s.leave(data["room_id"], data["participant_id"])
            case "close_room":
                self.pipes.close(data["room_id"])
                return await s.close_room(data["room_id"])
            case "pipe_in":
                track = MediaTrack(**data["track"])
                return await self.pipes.pipe_in(data["room_id"], track, int(data["clock_rate"]))
            case "pipe_out":
                return await self.pipes.pipe_out(data["room_id"], data["track_id"], int(data["to"]), int(data["port"]))
            case "pipe_close":
                return self.pipes.close(data["room_id"], data.get("track_id"))
            case "tap_open":
                return await self.open_tap(data["tap_id"], data["room_id"], data["factory"], data["config"])
            case "tap_call":
                tap = self.taps.get(data["tap_id"])
                if tap is None:
                    raise KeyError(f"no tap {data['tap_id']} on this worker")
                return await tap.call(data["method"], data["data"])
            case "tap_close":
                closing = self.taps.pop(data["tap_id"], None)
                if closing is not None:
                    await closing.close()
                return None
            case "request_keyframe":
                return s.request_keyframe(data["room_id"], data["track_id"])
            case "load":
                return self.load()
            case "track_stats":
                return [asdict(x) for x in s.track_stats()]
            case "ping":
                return os.getpid()
        raise KeyError(f"unknown method {method}")

    async def open_tap(self, tap_id: str, room_id: str, factory: str, config: dict[str, Any]) -> None:
        if tap_id in self.taps:
            return
        self.taps[tap_id] = load_factory(factory)(self.service, room_id, config, self._emitter(tap_id))

    def _emitter(self, tap_id: str) -> TapEvent:
        """A tap's events go to the main process as `tap_event` notifications, from any thread, in order."""
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()

        async def send(event: str, data: dict[str, Any]) -> None:
            if self.channel is not None:
                with contextlib.suppress(ChannelClosed):
                    await self.channel.notify("tap_event", {"tap_id": tap_id, "event": event, "data": data})

        def start(event: str, data: dict[str, Any]) -> None:
            task = loop.create_task(send(event, data))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

        def emit(event: str, data: dict[str, Any]) -> None:
            if threading.get_ident() == loop_thread:
                start(event, data)
            else:
                loop.call_soon_threadsafe(start, event, data)

        return emit

    async def close_taps(self) -> None:
        """The main process is gone: stop every tap (a recording's journal lets the next start finalise it)."""
        while self.taps:
            _, tap = self.taps.popitem()
            try:
                await tap.close()
            except Exception:
                log.exception("closing a tap failed")

    def load(self) -> dict[str, Any]:
        """What placement and /metrics need: rooms, consumers, packets in and forwarded (totals and per
        second since last asked), CPU share since last asked, loop lag."""
        cpu, at = time.process_time(), time.monotonic()
        cpu0, at0 = self._cpu0
        self._cpu0 = (cpu, at)
        routers = list(self.service.routers.values())
        received = sum(p.counters.packets for r in routers for p in r.producers.values())
        forwarded = sum(s.packets_forwarded for s in self.service.track_stats())
        received0, forwarded0 = self._packets0
        self._packets0 = (received, forwarded)
        wall = max(at - at0, 1e-6)
        return {
            "pid": os.getpid(),
            "rooms": len(routers),
            "consumers": sum(len(t.slots) for r in routers for t in r.subscribers.values()),
            "taps": len(self.taps),
            "packets": received,
            "forwarded": forwarded,
            # producers and consumers that closed take their counts with them: never a negative rate
            "packets_per_s": round(max(0, received - received0) / wall, 1),
            "forwarded_per_s": round(max(0, forwarded - forwarded0) / wall, 1),
            "cpu": round((cpu - cpu0) / wall, 4),
            "loop_lag": round(self.loop_lag, 4),
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }


async def serve(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    channel = Channel(reader, writer, name=f"worker {os.getpid()}")
    service = MediaService()
    service.set_listener(_Listener(channel))
    handler = WorkerHandler(service, channel)
    lag = asyncio.get_running_loop().create_task(_measure_lag(handler))
    try:
        await channel.run(handler=handler)
    finally:
        lag.cancel()
        await handler.close_taps()
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
    parser.add_argument("--preload", action="append", default=[], metavar="MODULE",
                        help="import before serving (tap factories: an import later would stall forwarding)")
    args = parser.parse_args(argv)
    for name in args.preload:
        importlib.import_module(name)
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s media-worker[{os.getpid()}] %(levelname)s %(message)s")
    for name in filter(None, os.environ.get("SANKE_MEDIA_DEBUG", "").split(",")):  # e.g. media.bandwidth: why a
        # subscriber's quality changed, step by step, in a test or a bench run (the worker's logs go to its stderr)
        logging.getLogger(name).setLevel(logging.DEBUG)
    asyncio.run(serve(args.fd))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
