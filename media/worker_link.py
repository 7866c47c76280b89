"""The main process's handle on one SFU worker process, the plain data its channel carries about tracks,
and the requests that pipe a room's tracks from one worker to another (`media.pipe`)."""

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


async def pipe_tracks(room_id: str, home: MediaWorker, to: MediaWorker, track_ids: list[str]) -> None:
    """Forward these tracks of the room (and their other-quality twins) from its worker to `to`."""
    tracks = home.tracks.get(room_id, {})
    wanted = {tracks[t] for t in track_ids if t in tracks}
    twins = {t for t in tracks.values() for w in wanted
             if (t.participant_id, t.source, t.kind) == (w.participant_id, w.source, w.kind)}  # fmt: skip
    for track in sorted(wanted | twins, key=lambda t: t.track_id):
        body = {"room_id": room_id, "track": track_data(track), "clock_rate": clock_rate(track)}
        port = await to.channel.request("pipe_in", body)
        out = {"room_id": room_id, "track_id": track.track_id, "to": to.index, "port": port}
        await home.channel.request("pipe_out", out)
