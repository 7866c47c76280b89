"""Taps inside SFU worker processes, as seen from the main process (see `media.taps`).

A tap lives on the worker that holds its room. Each is remembered here (factory, config, event callback) so
that a tap whose worker died is opened again on the room's new worker at its next call, with
`config["resume"] = True` (a recording then continues in the same directory). Events a tap emits in the
worker arrive as `tap_event` notifications and are handed to the callback given at open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.contracts import EncodedFrame, FrameSink, TapEvent
from core.errors import InvalidStateError, SankeError
from media.channel import Channel, ChannelClosed
from media.taps import frame_of, load_factory, new_tap_id


class MediaWorker(Protocol):
    """What a tap needs of a worker (`media.workers.MediaWorker`)."""

    @property
    def index(self) -> int: ...

    @property
    def pid(self) -> int: ...

    @property
    def alive(self) -> bool: ...

    @property
    def channel(self) -> Channel: ...


class WorkerPool(Protocol):
    """Where a room's tap goes (`media.workers.WorkerPool.placed`)."""

    async def placed(self, room_id: str, wait: float = 10.0) -> MediaWorker: ...

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Tap:
    tap_id: str
    room_id: str
    factory: str
    config: dict[str, Any]
    on_event: TapEvent | None
    worker: MediaWorker | None = None
    opened: bool = False  # opened once already: a later open resumes
    closed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class RemoteTap:
    """A `TapHandle` for a tap in a worker process."""

    def __init__(self, taps: RemoteTaps, record: _Tap) -> None:
        self._taps = taps
        self._record = record

    @property
    def id(self) -> str:
        return self._record.tap_id

    @property
    def worker_pid(self) -> int | None:
        worker = self._record.worker
        return worker.pid if worker is not None else None

    async def call(self, method: str, data: dict[str, Any]) -> Any:
        return await self._taps.call(self._record, method, data)

    async def close(self) -> None:
        await self._taps.close(self._record)


class RelayedSink:
    """`WorkerPool.attach_sink`'s handle: the relay tap opens in the background; `close()` ends it."""

    def __init__(self, taps: RemoteTaps, tap_id: str) -> None:
        self._taps = taps
        self._id = tap_id
        self.tap: RemoteTap | None = None
        self.closed = False

    @property
    def id(self) -> str:
        return self._id

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.tap is not None:
                self._taps.spawn(self.tap.close())


class RemoteTaps:
    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.records: dict[str, _Tap] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, call: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await call
            except SankeError as e:
                log.info("media worker call failed: %s", e)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def relay(self, room_id: str, track_id: str, sink: FrameSink) -> RelayedSink:
        """Frames of one track, relayed from the room's worker to `sink` here (`media.taps.FrameRelay`)."""
        handle = RelayedSink(self, new_tap_id())

        def on_event(event: str, data: dict[str, Any]) -> None:
            if event == "frame" and not handle.closed:
                frame: EncodedFrame = frame_of(data)
                sink(frame)

        async def open_() -> None:
            tap = await self.open(room_id, "media.taps:FrameRelay", {"track_id": track_id}, on_event)
            handle.tap = tap
            if handle.closed:
                await tap.close()

        self.spawn(open_())
        return handle

    async def open(
        self, room_id: str, factory: str, config: dict[str, Any], on_event: TapEvent | None
    ) -> RemoteTap:
        load_factory(factory)  # a bad name fails here, with the caller, not in the worker
        record = _Tap(new_tap_id(), room_id, factory, dict(config), on_event)
        self.records[record.tap_id] = record
        try:
            await self._ensure(record)
        except BaseException:
            self.records.pop(record.tap_id, None)
            raise
        return RemoteTap(self, record)

    async def _ensure(self, record: _Tap) -> MediaWorker:
        """The worker the tap is open on; opened there first if it is not (new, or its worker died)."""
        async with record.lock:
            if record.closed:
                raise InvalidStateError(f"tap {record.tap_id} is closed")
            worker = record.worker
            if worker is not None and worker.alive:
                return worker
            worker = await self.pool.placed(record.room_id)
            config = {**record.config, "resume": True} if record.opened else record.config
            await worker.channel.request(
                "tap_open",
                {"tap_id": record.tap_id, "room_id": record.room_id, "factory": record.factory, "config": config},
            )
            if record.opened:
                log.warning("tap %s of room %s resumed on media worker %d", record.tap_id, record.room_id, worker.index)
            record.worker, record.opened = worker, True
            return worker

    async def call(self, record: _Tap, method: str, data: dict[str, Any]) -> Any:
        body = {"tap_id": record.tap_id, "method": method, "data": data}
        worker = await self._ensure(record)
        try:
            return await worker.channel.request("tap_call", body)
        except ChannelClosed:
            # its worker died during the call: the tap resumes on the room's next worker, and is asked again
            record.worker = None
            worker = await self._ensure(record)
            return await worker.channel.request("tap_call", body)

    async def close(self, record: _Tap) -> None:
        async with record.lock:
            if record.closed:
                return
            record.closed = True
            self.records.pop(record.tap_id, None)
            worker, record.worker = record.worker, None
        if worker is not None and worker.alive:
            with contextlib.suppress(ChannelClosed):
                await worker.channel.request("tap_close", {"tap_id": record.tap_id})

    def worker_lost(self, worker: MediaWorker) -> None:
        for record in self.records.values():
            if record.worker is worker:
                record.worker = None

    def event(self, data: dict[str, Any]) -> None:
        record = self.records.get(str(data.get("tap_id")))
        if record is None or record.on_event is None:
            return
        try:
            record.on_event(str(data.get("event")), data.get("data") or {})
        except Exception:
            log.exception("tap %s: handling event %s failed", record.tap_id, data.get("event"))
