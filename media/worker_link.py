"""The main process's handle on one SFU worker process (started on a socket pair, stopped within a grace
period), the plain data its channel carries about tracks, and the requests that pipe a room's tracks from
one worker to another (`media.pipe`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from core.contracts import MediaKind, MediaTrack
from media.channel import Channel

STOP_WITHIN = 10.0  # seconds a worker has to close its media and exit once its channel closed

WorkerNotified = Callable[["MediaWorker", str, dict[str, Any]], Awaitable[None]]  # (worker, event, data)


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

    @classmethod
    async def spawn(cls, index: int, preload: tuple[str, ...], notified: WorkerNotified) -> MediaWorker:
        """Start `python -m media.worker` on one end of a socket pair and serve its channel; the worker's
        notifications go to `notified`. It serves once it answers a ping (it imports aiortc first)."""
        parent, child = socket.socketpair()
        try:
            args = [arg for name in preload for arg in ("--preload", name)]
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "media.worker", "--fd", str(child.fileno()), *args,
                pass_fds=(child.fileno(),),
            )
        finally:
            child.close()
        reader, writer = await asyncio.open_connection(sock=parent)
        channel = Channel(reader, writer, name=f"media worker {index} (pid {process.pid})")
        worker: MediaWorker | None = None

        async def on_notified(event: str, data: dict[str, Any]) -> None:
            assert worker is not None
            await notified(worker, event, data)

        task = asyncio.get_running_loop().create_task(channel.run(notified=on_notified))
        worker = cls(index, process, channel, task)
        return worker

    async def stop(self) -> None:
        """The worker's exit once its channel closed; killed after `STOP_WITHIN`."""
        try:
            await asyncio.wait_for(self.process.wait(), STOP_WITHIN)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.reader


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
