"""SFU worker processes behind the same `MediaSeam` (mediasoup's `Worker`: one process per core).

`WorkerPool` starts N `media.worker` processes, each with a Channel over a socket pair, and places each
room on the least-loaded worker (fewest consumers, then fewest rooms) the first time the room is used;
every later call for that room goes to the same worker. Listener notifications from a worker come back
as the usual `MediaListener` calls. A worker that dies is restarted; the rooms it held are told to the
`on_worker_lost` callback (naming the room and the affected participants) so signaling can have the
clients renegotiate; calls that were waiting on it fail with `ChannelClosed` (code `media_unavailable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from core.contracts import (
    FrameSink,
    MediaKind,
    MediaListener,
    MediaTrack,
    PcRole,
    PublishedTrackSpec,
    Quality,
    QualityChange,
    Sfu,
    SinkHandle,
)
from core.errors import SankeError
from core.settings import Settings
from media.channel import Channel, ChannelClosed
from media.service import MediaService
from media.stats import TrackStats, render_prometheus, render_workers

log = logging.getLogger(__name__)

WorkerLost = Callable[[str, set[str]], Awaitable[None]]  # (room_id, participants it had) → None


@dataclass(eq=False)
class MediaWorker:
    """One worker process and its channel; `rooms` maps each room placed here to its participants."""

    index: int
    process: asyncio.subprocess.Process
    channel: Channel
    reader: asyncio.Task[None]
    rooms: dict[str, set[str]] = field(default_factory=dict)
    consumers: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid


class WorkerPool:
    def __init__(self, count: int | None = None, on_worker_lost: WorkerLost | None = None) -> None:
        self.count = max(1, count or os.cpu_count() or 1)
        self.workers: list[MediaWorker] = []
        self.placement: dict[str, MediaWorker] = {}
        self.restarts = 0
        self._listener: MediaListener | None = None
        self._on_worker_lost = on_worker_lost
        self._closing = False
        self._watchers: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        for i in range(self.count):
            self.workers.append(await self._spawn(i))

    async def _spawn(self, index: int) -> MediaWorker:
        parent, child = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "media.worker", "--fd", str(child.fileno()), pass_fds=(child.fileno(),)
            )
        finally:
            child.close()
        reader, writer = await asyncio.open_connection(sock=parent)
        channel = Channel(reader, writer, name=f"media worker {index} (pid {process.pid})")
        task = asyncio.get_running_loop().create_task(channel.run(notified=self._notified))
        worker = MediaWorker(index, process, channel, task)
        watcher = asyncio.get_running_loop().create_task(self._watch(worker))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return worker

    async def _watch(self, worker: MediaWorker) -> None:
        """Restart a worker that exits while the pool runs; tell who had rooms on it."""
        await worker.reader  # the channel ends when the process does (or it is closed)
        code = await worker.process.wait()
        if self._closing:
            return
        log.error("media worker %d (pid %d) exited with %s: restarting it", worker.index, worker.pid, code)
        self.restarts += 1
        lost = dict(worker.rooms)
        for room_id in lost:
            self.placement.pop(room_id, None)
        replacement = await self._spawn(worker.index)
        self.workers[self.workers.index(worker)] = replacement
        if self._on_worker_lost is not None:
            for room_id, participants in lost.items():
                try:
                    await self._on_worker_lost(room_id, participants)
                except Exception:
                    log.exception("telling room %s about its lost media worker failed", room_id)

    async def close(self) -> None:
        """Stop every worker (each closes its media when its channel ends) and wait for them."""
        if self._closing:
            return
        self._closing = True
        for worker in self.workers:
            worker.channel.close()
        for worker in self.workers:
            try:
                await asyncio.wait_for(worker.process.wait(), 10)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker.reader
        for watcher in list(self._watchers):
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        self.placement.clear()

    # -- placement --------------------------------------------------------------------------------------

    def worker_of(self, room_id: str) -> MediaWorker:
        """The room's worker; a new room goes to the least-loaded one."""
        worker = self.placement.get(room_id)
        if worker is None:
            if self._closing or not self.workers:
                raise ChannelClosed("the media workers are stopped")
            worker = min(self.workers, key=lambda w: (w.consumers, len(w.rooms), w.index))
            self.placement[room_id] = worker
            worker.rooms[room_id] = set()
        return worker

    async def _call(self, room_id: str, method: str, participant_id: str | None = None, **data: Any) -> Any:
        worker = self.worker_of(room_id)
        if participant_id is not None:
            worker.rooms.setdefault(room_id, set()).add(participant_id)
            data["participant_id"] = participant_id
        return await worker.channel.request(method, {"room_id": room_id, **data})

    async def refresh_load(self) -> list[dict[str, Any]]:
        """Ask each worker for its load (placement uses the consumer counts)."""
        out = []
        for worker in self.workers:
            try:
                load = await worker.channel.request("load", timeout=5)
            except SankeError:
                continue
            worker.consumers = int(load["consumers"])
            out.append({"worker": worker.index, **load})
        return out

    async def metrics_text(self) -> str:
        """Track stats from every worker, rendered once, then each worker's own gauges."""
        loads = await self.refresh_load()
        stats: list[TrackStats] = []
        for worker in self.workers:
            with contextlib.suppress(SankeError):
                stats.extend(TrackStats(**x) for x in await worker.channel.request("track_stats", timeout=5))
        return render_prometheus(stats) + render_workers(loads)

    # -- MediaSeam ----------------------------------------------------------------------------------------

    def set_listener(self, listener: MediaListener) -> None:
        self._listener = listener

    async def publish_offer(
        self, room_id: str, participant_id: str, sdp: str, tracks: list[PublishedTrackSpec]
    ) -> str:
        specs = [{"mid": t.mid, "kind": t.kind, "source": t.source, "quality": t.quality} for t in tracks]
        return cast(str, await self._call(room_id, "publish_offer", participant_id, sdp=sdp, tracks=specs))

    async def subscriber_answer(self, room_id: str, participant_id: str, sdp: str) -> None:
        if room_id not in self.placement:
            raise KeyError(f"no media for room {room_id}")
        await self._call(room_id, "subscriber_answer", participant_id, sdp=sdp)

    async def ice_candidate(
        self, room_id: str, participant_id: str, target: PcRole, candidate: dict[str, Any]
    ) -> None:
        if room_id in self.placement:
            await self._call(room_id, "ice_candidate", participant_id, target=target, candidate=candidate)

    async def set_subscriptions(self, room_id: str, participant_id: str, plan: dict[str, Quality]) -> None:
        await self._call(room_id, "set_subscriptions", participant_id, plan=dict(plan))

    async def leave(self, room_id: str, participant_id: str) -> None:
        worker = self.placement.get(room_id)
        if worker is None:
            return
        await worker.channel.request("leave", {"room_id": room_id, "participant_id": participant_id})
        participants = worker.rooms.get(room_id)
        if participants is not None:
            participants.discard(participant_id)

    async def close_room(self, room_id: str) -> None:
        worker = self.placement.pop(room_id, None)
        if worker is None:
            return
        worker.rooms.pop(room_id, None)
        with contextlib.suppress(ChannelClosed):
            await worker.channel.request("close_room", {"room_id": room_id})

    def attach_sink(self, room_id: str, track_id: str, sink: FrameSink) -> SinkHandle:
        """Frames do not cross the process boundary: recording inside the worker is not built yet."""
        raise KeyError(f"track {track_id}: recording is not available with media worker processes yet")

    # -- notifications ---------------------------------------------------------------------------------

    async def _notified(self, event: str, data: dict[str, Any]) -> None:
        listener = self._listener
        if listener is None:
            return
        room_id = data["room_id"]
        match event:
            case "track_published":
                await listener.on_track_published(room_id, _media_track(data["track"]))
            case "track_unpublished":
                await listener.on_track_unpublished(room_id, _media_track(data["track"]))
            case "subscriber_offer":
                await listener.on_subscriber_offer(room_id, data["participant_id"], data["sdp"])
            case "audio_levels":
                await listener.on_audio_levels(room_id, data["levels"])
            case "track_stats":
                await listener.on_track_stats(room_id, data["stats"])
            case "quality_changed":
                change = QualityChange(**(data["change"] | {"tracks": tuple(data["change"]["tracks"])}))
                await listener.on_quality_changed(room_id, data["participant_id"], change)


async def open_sfu(settings: Settings) -> Sfu:
    """The node's SFU: in this process, or `settings.media_workers` started worker processes."""
    if settings.media_workers <= 0:
        return MediaService(settings)
    pool = WorkerPool(settings.media_workers)
    await pool.start()
    return pool


def _media_track(t: dict[str, Any]) -> MediaTrack:
    return MediaTrack(
        t["track_id"], t["participant_id"], cast(MediaKind, t["kind"]), t["source"], t["quality"], t["codec"]
    )
