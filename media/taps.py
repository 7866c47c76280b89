"""Taps: consumers of a room's encoded frames that run where the room's producers are.

The recorder (and HLS packaging) attach frame sinks to producers. With SFU worker processes the producers
live in a worker, so the consumer must too: frames never cross a process. A tap is opened by naming its
factory (`"module:callable"`), called as `factory(source, room_id, config, emit)` in the process that holds
the room, where `source` is that process's `FrameSource` and `emit(event, data)` reports plain-data events
(a segment closed) back to whoever opened it. After that the tap is driven by plain-data calls.

In one process (`MediaService`) `LocalTap` calls the tap directly; `media.workers` carries the same calls
over the worker's Channel. The factory is the same object either way, so a recording made through a worker
is written by the same code as one made in-process.
"""

from __future__ import annotations

import importlib
import itertools
import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

from core.contracts import EncodedFrame, FrameSource, TapEvent

log = logging.getLogger(__name__)

_ids = itertools.count(1)


class Tap(Protocol):
    """What a factory returns: the tap itself, in the process that holds the producers."""

    async def call(self, method: str, data: dict[str, Any]) -> Any: ...

    async def close(self) -> None: ...


TapFactory = Callable[[FrameSource, str, dict[str, Any], TapEvent], Tap]


def load_factory(path: str) -> TapFactory:
    """`"package.module:callable"` → the callable; a name that is not one is a `ValueError` with the field."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr or not all(part.isidentifier() for part in [*module_name.split("."), attr]):
        raise ValueError(f"tap factory {path!r} is not 'module:callable'")
    factory = getattr(importlib.import_module(module_name), attr, None)
    if not callable(factory):
        raise ValueError(f"tap factory {path!r} is not callable")
    return cast(TapFactory, factory)


def new_tap_id() -> str:
    return f"tap-{next(_ids)}"


def _ignore(event: str, data: dict[str, Any]) -> None:
    return None


class LocalTap:
    """A tap in this process, as a `TapHandle`."""

    def __init__(self, tap: Tap, tap_id: str | None = None) -> None:
        self._tap = tap
        self._id = tap_id or new_tap_id()
        self._closed = False

    @property
    def id(self) -> str:
        return self._id

    async def call(self, method: str, data: dict[str, Any]) -> Any:
        return await self._tap.call(method, data)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._tap.close()


def open_local_tap(
    source: FrameSource, room_id: str, factory: str, config: dict[str, Any], on_event: TapEvent | None = None
) -> LocalTap:
    return LocalTap(load_factory(factory)(source, room_id, config, on_event or _ignore))


class FrameRelay:
    """A tap that hands one track's encoded frames to whoever opened it, as `frame` events: how an
    in-process frame consumer (`WorkerPool.attach_sink`) keeps working while the SFU runs in workers.
    Encoded frames only (a broadcast's 1–2 Mbps); a consumer that must scale runs as a tap of its own."""

    def __init__(self, source: FrameSource, room_id: str, config: dict[str, Any], emit: TapEvent) -> None:
        def sink(frame: EncodedFrame) -> None:
            emit("frame", {
                "track_id": frame.track_id, "kind": frame.kind, "codec": frame.codec, "data": frame.data,
                "timestamp": frame.timestamp, "clock_rate": frame.clock_rate, "keyframe": frame.keyframe,
                "arrival": frame.arrival,
            })  # fmt: skip

        self._handle = source.attach_sink(room_id, str(config["track_id"]), sink)

    async def call(self, method: str, data: dict[str, Any]) -> Any:
        raise KeyError(f"frame relay: unknown call {method}")

    async def close(self) -> None:
        self._handle.close()


def frame_of(data: dict[str, Any]) -> EncodedFrame:
    return EncodedFrame(
        str(data["track_id"]), data["kind"], str(data["codec"]), bytes(data["data"]), int(data["timestamp"]),
        int(data["clock_rate"]), bool(data["keyframe"]), float(data["arrival"]),
    )  # fmt: skip
