"""The main process's handle on one SFU worker process, and the plain data its channel carries about tracks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from core.contracts import MediaKind, MediaTrack
from media.channel import Channel


@dataclass(eq=False)
class MediaWorker:
    """One worker process and its channel; `rooms` maps each room placed here to its participants and
    `tracks` to the tracks it announced."""

    index: int
    process: asyncio.subprocess.Process
    channel: Channel
    reader: asyncio.Task[None]
    rooms: dict[str, set[str]] = field(default_factory=dict)
    tracks: dict[str, dict[str, MediaTrack]] = field(default_factory=dict)
    consumers: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return not self.channel.closed and self.process.returncode is None


def track_data(t: MediaTrack) -> dict[str, Any]:
    return {"track_id": t.track_id, "participant_id": t.participant_id, "kind": t.kind, "source": t.source,
            "quality": t.quality, "codec": t.codec}  # fmt: skip


def clock_rate(t: MediaTrack) -> int:
    if t.kind == "video":
        return 90000
    return 8000 if t.codec.lower() in ("pcmu", "pcma") else 48000


def media_track(t: dict[str, Any]) -> MediaTrack:
    return MediaTrack(
        t["track_id"], t["participant_id"], cast(MediaKind, t["kind"]), t["source"], t["quality"], t["codec"]
    )
