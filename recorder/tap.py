"""The recording as a tap (`media.taps`): it runs where the room's producers are, inside the SFU worker
when the SFU runs in worker processes, so encoded frames go from the producer to the segment writer without
crossing a process. The recorder service (main process) drives it with plain-data calls and learns of each
closed segment through an event; markers, finalising and the library stay with the service.

Opened by `RecorderService` as `recorder.tap:RecordingTap` with the config `recording_config` builds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from core.contracts import FrameSource, SinkHandle, TapEvent
from recorder.recording import Recording, TrackInfo

FACTORY = "recorder.tap:RecordingTap"


def recording_config(
    root: Path, recording_id: str, *, room_kind: str, title: str, segment_seconds: float, started: float
) -> dict[str, Any]:
    """What the tap needs to write a recording: plain data, it crosses the worker's channel."""
    return {
        "root": str(root), "recording_id": recording_id, "room_kind": room_kind, "title": title,
        "segment_seconds": segment_seconds, "started": started,
    }  # fmt: skip


class RecordingTap:
    """One recording's writer and its frame sinks, one per recorded track."""

    def __init__(self, source: FrameSource, room_id: str, config: dict[str, Any], emit: TapEvent) -> None:
        self.source = source
        self.room_id = room_id
        self.recording = Recording(
            Path(config["root"]),
            str(config["recording_id"]),
            room_id,
            room_kind=str(config.get("room_kind", "")),
            title=str(config.get("title", "")),
            segment_seconds=float(config.get("segment_seconds", 2.0)),
            on_segment=lambda path: emit("segment", {"path": str(path)}),
            started=float(config["started"]),
        )
        self.recording.start(resume=bool(config.get("resume")))
        self.sinks: dict[str, SinkHandle] = {}
        self._stopped = False

    async def call(self, method: str, data: dict[str, Any]) -> Any:
        match method:
            case "add_track":
                return self.add_track(TrackInfo(**data))
            case "end_track":
                self.end_track(str(data["track_id"]))
                return None
            case "stop":
                await self.stop()
                return None
            case "status":
                return {"overflow": self.recording.overflow, "errors": list(self.recording.errors[:10])}
        raise KeyError(f"recording tap: unknown call {method}")

    def add_track(self, info: TrackInfo) -> None:
        """Record a published track from its next keyframe; a KeyError or ValueError says why not."""
        if info.track_id in self.sinks:
            return
        sink = self.recording.add_track(info)
        self.sinks[info.track_id] = self.source.attach_sink(self.room_id, info.track_id, sink)

    def end_track(self, track_id: str) -> None:
        handle = self.sinks.pop(track_id, None)
        if handle is not None:
            handle.close()
            self.recording.end_track(track_id)

    async def stop(self) -> None:
        """Stop taking frames and flush every segment (the writer thread joins off the event loop)."""
        if self._stopped:
            return
        self._stopped = True
        for handle in self.sinks.values():
            handle.close()
        self.sinks.clear()
        await asyncio.to_thread(self.recording.stop)

    async def close(self) -> None:
        await self.stop()
