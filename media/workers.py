"""SFU worker processes behind the same `MediaSeam` (mediasoup's `Worker`: one process per core).

`WorkerPool` starts N `media.worker` processes, each with a Channel over a socket pair, and places each
room on the least-loaded worker (fewest consumers, then fewest rooms) the first time the room is used;
every later call for that room goes to the same worker. Listener notifications from a worker come back
as the usual `MediaListener` calls; the tracks each room has are remembered from them.

A worker that dies is taken out of placement at once and restarted. Its rooms are told to the listener's
`on_media_lost` (naming the participants and the tracks that were lost) so signaling has the clients
negotiate again; their next calls place the room afresh, on a live worker. Calls that were waiting on the
dead worker fail with `ChannelClosed` (code `media_unavailable`). Taps (recordings) opened on the dead
worker are opened again, resuming, on the room's new worker at their next call (`media.remote_taps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any, cast

from core.contracts import (
    FrameSink,
    MediaListener,
    MediaTrack,
    PcRole,
    PublishedTrackSpec,
    Quality,
    QualityChange,
    Sfu,
    SinkHandle,
    TapEvent,
    TapHandle,
)
from core.errors import SankeError
from core.settings import Settings
from media.channel import ChannelClosed
from media.remote_taps import RemoteTaps
from media.service import MediaService
from media.stats import TrackStats, render_prometheus, render_workers
from media.worker_link import MediaWorker, media_track, pipe_tracks

log = logging.getLogger(__name__)

PIPE_AFTER = 30  # participants of one room on its worker before its subscribers spread (pipeToRouter)
READY_S = 60.0  # a worker process importing aiortc on a loaded machine


class WorkerPool:
    def __init__(
        self, count: int | None = None, preload: tuple[str, ...] = (), pipe_after: int | None = PIPE_AFTER
    ) -> None:
        self.count = max(1, count or os.cpu_count() or 1)
        self.preload = preload  # modules each worker imports before serving (the taps it will run)
        self.workers: list[MediaWorker] = []  # the live ones: a dead worker leaves at once
        self.placement: dict[str, MediaWorker] = {}  # room → its worker (publishers, and subscribers at first)
        # a room with this many participants on its worker places further subscribers on the least-loaded
        # worker, piping them the room's tracks (None: never)
        self.pipe_after = pipe_after
        self.subscriber_at: dict[tuple[str, str], MediaWorker] = {}  # (room, participant) → worker, if not the room's
        self.restarts = 0
        self.taps = RemoteTaps(self)
        self._listener: MediaListener | None = None
        self._closing = False
        self._watchers: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()  # set whenever a worker joins the pool

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the workers and wait until each answers (they import aiortc first): no join waits on it."""
        for i in range(self.count):
            self.workers.append(await self._spawn(i))
        await asyncio.gather(*(w.channel.request("ping", timeout=READY_S) for w in self.workers))

    async def _spawn(self, index: int) -> MediaWorker:
        """A started worker, watched so that it is restarted if it exits while the pool runs."""
        worker = await MediaWorker.spawn(index, self.preload, self._notified)
        watcher = asyncio.get_running_loop().create_task(self._watch(worker))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return worker

    async def _watch(self, worker: MediaWorker) -> None:
        """Restart a worker that exits while the pool runs; tell the rooms it held what they lost."""
        await worker.reader  # the channel ends when the process does (or it is closed)
        if self._closing:
            return
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()  # a channel that broke with the process alive: end it, start afresh
        code = await worker.process.wait()
        if self._closing:
            return
        log.error("media worker %d (pid %d) exited with %s: restarting it", worker.index, worker.pid, code)
        self.restarts += 1
        if worker in self.workers:
            self.workers.remove(worker)
        lost = await self._forget(worker)
        self.taps.worker_lost(worker)
        respawn = asyncio.get_running_loop().create_task(self._respawn(worker.index))
        if not self.workers:
            await respawn  # no other worker to place the rooms on: the replacement first
        listener = self._listener
        for room_id, (participants, tracks) in lost.items():
            if listener is None:
                break
            try:
                await listener.on_media_lost(room_id, sorted(participants), tracks)
            except Exception:
                log.exception("telling room %s about its lost media worker failed", room_id)
        await respawn

    async def _forget(self, dead: MediaWorker) -> dict[str, tuple[set[str], list[MediaTrack]]]:
        """Who lost what with `dead`. A room whose own worker died loses everything: its pipes and
        subscribers on other workers are closed too, and all its participants start again. A room that only
        had subscribers on `dead` loses those participants' media (both their connections)."""
        lost: dict[str, tuple[set[str], list[MediaTrack]]] = {}
        for room_id, w in list(self.placement.items()):
            if w is dead:
                del self.placement[room_id]
                lost[room_id] = (set(dead.rooms.get(room_id, set())), list(dead.tracks.get(room_id, {}).values()))
        for (room_id, pid), w in list(self.subscriber_at.items()):
            if room_id in lost:
                del self.subscriber_at[(room_id, pid)]
                lost[room_id][0].add(pid)
                if w is not dead:
                    w.rooms.pop(room_id, None)
                    with contextlib.suppress(SankeError):
                        await w.channel.request("close_room", {"room_id": room_id}, timeout=5)
            elif w is dead:
                del self.subscriber_at[(room_id, pid)]
                lost.setdefault(room_id, (set(), []))[0].add(pid)
                home = self.placement.get(room_id)
                if home is not None:  # its publisher connection on the room's worker goes too
                    with contextlib.suppress(SankeError):
                        await home.channel.request("leave", {"room_id": room_id, "participant_id": pid}, timeout=5)
        return lost

    async def _respawn(self, index: int) -> None:
        replacement = await self._spawn(index)
        with contextlib.suppress(SankeError, TimeoutError):
            await replacement.channel.request("ping", timeout=READY_S)  # placed on once it serves
        if self._closing:
            replacement.channel.close()
            return
        self.workers.append(replacement)
        self.workers.sort(key=lambda w: w.index)
        self._changed.set()
        self._changed = asyncio.Event()

    async def close(self) -> None:
        """Stop every worker (each closes its media when its channel ends) and wait for them, all at once:
        stuck workers cost a node's stop one grace period (`worker_link.STOP_WITHIN`), not one per worker in
        turn."""
        if self._closing:
            return
        self._closing = True
        for worker in self.workers:
            worker.channel.close()
        await asyncio.gather(*(worker.stop() for worker in self.workers))
        for watcher in list(self._watchers):
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)  # each ends cancelled
        self.placement.clear()

    # -- placement --------------------------------------------------------------------------------------

    def worker_of(self, room_id: str) -> MediaWorker:
        """The room's worker; a new room goes to the least-loaded live one."""
        worker = self.placement.get(room_id)
        if worker is None or not worker.alive:
            live = [w for w in self.workers if w.alive]
            if self._closing or not live:
                raise ChannelClosed("no media worker is running")
            worker = min(live, key=lambda w: (w.consumers, len(w.rooms), w.index))
            self.placement[room_id] = worker
            worker.rooms[room_id] = set()
        return worker

    async def placed(self, room_id: str, wait: float = 10.0) -> MediaWorker:
        """`worker_of`, waiting (up to `wait` s) for a restarted worker when none is running right now."""
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            try:
                return self.worker_of(room_id)
            except ChannelClosed:
                left = deadline - asyncio.get_running_loop().time()
                if self._closing or left <= 0:
                    raise
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)

    async def subscriber_worker(self, room_id: str, participant_id: str) -> MediaWorker:
        """Where a participant's subscriber connection is: the room's worker until the room has `pipe_after`
        participants there, then the least-loaded worker (the room's tracks are piped to it)."""
        home = await self.placed(room_id)
        worker = self.subscriber_at.get((room_id, participant_id))
        if worker is not None and worker.alive:
            return worker
        here = home.rooms.setdefault(room_id, set())
        if self.pipe_after is None or participant_id in here or len(here) < self.pipe_after:
            return home
        live = [w for w in self.workers if w.alive]
        worker = min(live, key=lambda w: (sum(len(p) for p in w.rooms.values()), w is not home, w.index))
        if worker is not home:
            self.subscriber_at[(room_id, participant_id)] = worker
            worker.rooms.setdefault(room_id, set()).add(participant_id)
        return worker

    async def _call(self, room_id: str, method: str, participant_id: str | None = None, **data: Any) -> Any:
        worker = await self.placed(room_id)
        if participant_id is not None:
            worker.rooms.setdefault(room_id, set()).add(participant_id)
            data["participant_id"] = participant_id
        return await worker.channel.request(method, {"room_id": room_id, **data})

    async def refresh_load(self) -> list[dict[str, Any]]:
        """Ask each worker for its load (placement uses the consumer counts)."""
        out = []
        for worker in list(self.workers):
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
        for worker in list(self.workers):
            with contextlib.suppress(SankeError):
                stats.extend(TrackStats(**x) for x in await worker.channel.request("track_stats", timeout=5))
        restarts = (
            "# HELP sanke_media_worker_restarts_total SFU workers restarted after they died\n"
            f"# TYPE sanke_media_worker_restarts_total counter\nsanke_media_worker_restarts_total {self.restarts}\n"
        )
        return render_prometheus(stats) + render_workers(loads) + restarts

    # -- MediaSeam ----------------------------------------------------------------------------------------

    def set_listener(self, listener: MediaListener) -> None:
        self._listener = listener

    async def publish_offer(
        self, room_id: str, participant_id: str, sdp: str, tracks: list[PublishedTrackSpec]
    ) -> str:
        specs = [{"mid": t.mid, "kind": t.kind, "source": t.source, "quality": t.quality} for t in tracks]
        return cast(str, await self._call(room_id, "publish_offer", participant_id, sdp=sdp, tracks=specs))

    async def subscriber_answer(
        self, room_id: str, participant_id: str, sdp: str, offer_id: int | None = None
    ) -> None:
        if room_id not in self.placement:
            raise KeyError(f"no media for room {room_id}")
        worker = await self.subscriber_worker(room_id, participant_id)
        body = {"room_id": room_id, "participant_id": participant_id, "sdp": sdp, "offer_id": offer_id}
        await worker.channel.request("subscriber_answer", body)

    async def ice_candidate(
        self, room_id: str, participant_id: str, target: PcRole, candidate: dict[str, Any]
    ) -> None:
        if room_id not in self.placement:
            return
        if target == "subscriber":
            worker = await self.subscriber_worker(room_id, participant_id)
            body = {"room_id": room_id, "participant_id": participant_id, "target": target, "candidate": candidate}
            await worker.channel.request("ice_candidate", body)
        else:
            await self._call(room_id, "ice_candidate", participant_id, target=target, candidate=candidate)

    async def set_subscriptions(self, room_id: str, participant_id: str, plan: dict[str, Quality]) -> None:
        worker = await self.subscriber_worker(room_id, participant_id)
        home = await self.placed(room_id)
        if worker is home:
            await self._call(room_id, "set_subscriptions", participant_id, plan=dict(plan))
            return
        await pipe_tracks(room_id, home, worker, [t for t, q in plan.items() if q != "off"])
        body = {"room_id": room_id, "participant_id": participant_id, "plan": dict(plan)}
        await worker.channel.request("set_subscriptions", body)

    async def leave(self, room_id: str, participant_id: str) -> None:
        other = self.subscriber_at.pop((room_id, participant_id), None)
        for worker in (self.placement.get(room_id), other):
            if worker is None:
                continue
            with contextlib.suppress(ChannelClosed):  # a dead worker took the participant's media with it
                await worker.channel.request("leave", {"room_id": room_id, "participant_id": participant_id})
            participants = worker.rooms.get(room_id)
            if participants is not None:
                participants.discard(participant_id)

    async def close_room(self, room_id: str) -> None:
        worker = self.placement.pop(room_id, None)
        others = {w for (r, _), w in self.subscriber_at.items() if r == room_id}
        for key in [k for k in self.subscriber_at if k[0] == room_id]:
            del self.subscriber_at[key]
        for w in [worker, *others]:
            if w is None:
                continue
            w.rooms.pop(room_id, None)
            w.tracks.pop(room_id, None)
            with contextlib.suppress(ChannelClosed):
                await w.channel.request("close_room", {"room_id": room_id})

    def attach_sink(self, room_id: str, track_id: str, sink: FrameSink) -> SinkHandle:
        """An in-process frame consumer (HLS today): a `FrameRelay` tap in the room's worker sends it the
        track's encoded frames (never decoded ones). A KeyError when the room has no media here."""
        if room_id not in self.placement:
            raise KeyError(f"no media for room {room_id}")
        return self.taps.relay(room_id, track_id, sink)

    def request_keyframe(self, room_id: str, track_id: str) -> None:
        """A throttled, coalesced PLI to the track's publisher, in its worker (fire and forget)."""
        worker = self.placement.get(room_id)
        if worker is not None and worker.alive:
            self.taps.spawn(worker.channel.request("request_keyframe", {"room_id": room_id, "track_id": track_id}))

    async def open_tap(
        self, room_id: str, factory: str, config: dict[str, Any], on_event: TapEvent | None = None
    ) -> TapHandle:
        """A frame consumer (recording, HLS) inside the room's worker: `media.remote_taps`."""
        return await self.taps.open(room_id, factory, config, on_event)

    # -- notifications ---------------------------------------------------------------------------------

    async def _notified(self, worker: MediaWorker, event: str, data: dict[str, Any]) -> None:
        if event == "tap_event":
            self.taps.event(data)
            return
        room_id = data["room_id"]
        if event == "track_published":
            track = media_track(data["track"])
            worker.tracks.setdefault(room_id, {})[track.track_id] = track
        elif event == "track_unpublished":
            track_id = data["track"]["track_id"]
            worker.tracks.get(room_id, {}).pop(track_id, None)
            for other in {w for (r, _), w in self.subscriber_at.items() if r == room_id and w is not worker}:
                with contextlib.suppress(SankeError):  # its piped copy ends with it
                    await other.channel.request("pipe_close", {"room_id": room_id, "track_id": track_id}, timeout=5)
        listener = self._listener
        if listener is None:
            return
        match event:
            case "track_published":
                await listener.on_track_published(room_id, media_track(data["track"]))
            case "track_unpublished":
                await listener.on_track_unpublished(room_id, media_track(data["track"]))
            case "subscriber_offer":
                await listener.on_subscriber_offer(room_id, data["participant_id"], data["sdp"], data["offer_id"])
            case "audio_levels":
                await listener.on_audio_levels(room_id, data["levels"])
            case "track_stats":
                await listener.on_track_stats(room_id, data["stats"])
            case "quality_changed":
                change = QualityChange(**(data["change"] | {"tracks": tuple(data["change"]["tracks"])}))
                await listener.on_quality_changed(room_id, data["participant_id"], change)


async def open_sfu(settings: Settings, taps: tuple[str, ...] = ()) -> Sfu:
    """The node's SFU: in this process, or `settings.media_workers` started worker processes (which import
    the `taps` modules, e.g. the recorder's, before they serve)."""
    if settings.media_workers <= 0:
        return MediaService(settings)
    pool = WorkerPool(settings.media_workers, preload=taps)
    await pool.start()
    return pool
