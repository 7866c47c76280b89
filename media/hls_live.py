"""The node's HLS packager: one `HlsStream` per broadcast room, fed by a packager tap on the teacher's tracks.

The web layer tells it, after every change of a room (`reconcile`), which tracks the room has; it picks
the main publisher's high camera track and microphone and tells the room's packager tap (`media.hls_tap`,
opened where the room's producers are: in the SFU worker, or here) to package them. The tap asks for a
keyframe at every segment boundary, cuts and builds the segments and hands each one back; the stream here
lists, serves and stores it. H.264 is remuxed as it comes; a VP8 camera is transcoded once per stream in
the tap; any other codec is reported `unsupported`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from core.contracts import FrameSource, TapHandle, TapHost
from media.hls_recording import StoredStream, describe
from media.hls_stream import SEGMENT_SECONDS, WINDOW, HlsStream
from media.hls_tap import FACTORY
from media.taps import open_local_tap

log = logging.getLogger(__name__)

PUBLISHER_ROLES = ("hub_teacher", "coteacher")
ENDED_KEPT = 32
RETAIN_ENDED_S = 600.0  # an unrecorded broadcast's segments stay this long after its end (caches, late viewers)


@dataclass(frozen=True, slots=True)
class RoomTrack:
    """A published track as the room lists it, with its owner's role."""

    track_id: str
    participant_id: str
    kind: str
    source: str
    quality: str
    codec: str
    role: str = ""


@dataclass(slots=True)
class _Packaged:
    stream: HlsStream
    tap: TapHandle | None = None
    video: str = ""  # the tracks the tap packages
    audio: str = ""
    transcoded: bool = False  # the camera is VP8, transcoded in the tap
    unsupported: str = ""  # codec of a camera we cannot remux
    refused: set[str] = field(default_factory=set)  # tracks the SFU would not tap (not retried)
    remuxed: list[str] = field(default_factory=list)  # every track carried as sent (H.264 camera, its mic)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def safe_name(room_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in room_id)[:64] or "room"


class HlsService:
    def __init__(
        self,
        media: FrameSource | None,
        storage: Any = None,  # a core.storage.Storage
        segment_seconds: float = SEGMENT_SECONDS,
        window: int = WINDOW,
        spool: Any = None,  # a core.spool.Spool: with it, segments are written under `local_root` and spooled
        local_root: Path | None = None,
        transcode: bool = True,  # a VP8 camera is transcoded once (a thread per stream) instead of refused
        tracks_of: Callable[[str], list[RoomTrack] | None] | None = None,  # a room's tracks now (None: no such room)
        retain_s: float = RETAIN_ENDED_S,
    ) -> None:
        self.transcode = transcode
        self.tracks_of = tracks_of
        self.media = media
        self.storage = storage
        self.spool = spool
        self.local_root = local_root
        self.segment_seconds = segment_seconds
        self.window = window
        self.rooms: dict[str, _Packaged] = {}
        self.ended: dict[str, HlsStream] = {}  # the last streams that ended (their playlists say ENDLIST)
        self._remuxed: dict[str, list[str]] = {}  # room → tracks its ended stream carried as sent
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)  # one change of a room at a time
        self.retain_s = retain_s
        self._discard: set[str] = set()  # rooms that do not record: their segments go after the end
        self._expiring: set[asyncio.Task[None]] = set()

    def stream(self, room_id: str) -> HlsStream | None:
        packaged = self.rooms.get(room_id)
        return packaged.stream if packaged else self.ended.get(room_id)

    def status(self, room_id: str) -> dict[str, Any]:
        packaged = self.rooms.get(room_id)
        stream = packaged.stream if packaged else self.ended.get(room_id)
        if stream is None:
            return {"state": "none"}
        if packaged is not None and packaged.unsupported and not stream.live:
            return {"state": "unsupported", "codec": packaged.unsupported}
        transcoded = bool(stream.stats.get("transcoded")) if packaged is None else packaged.transcoded
        return {
            "state": "live" if stream.live else "ended" if stream.ended else "starting",
            "codecs": stream.codecs,
            "segments": len(stream.segments),
            "audio": stream.with_audio,
            "transcoded": transcoded,
            **({"transcode_cpu_s": round(float(stream.stats.get("transcode_s", 0.0)), 3)} if transcoded else {}),
        }

    def prefix(self, room_id: str) -> str | None:
        """Where the room's stream stores its files (keys are `prefix + name`); a stream the room is about
        to have (the recorder may ask before `reconcile` has run) is made now."""
        stream = self.stream(room_id)
        if stream is None and self.media is not None and self.tracks_of is not None:
            tracks = self.tracks_of(room_id)
            if tracks is not None and self._selection(tracks)[0] is not None:
                stream = self.rooms.setdefault(room_id, _Packaged(self._new_stream(room_id))).stream
        return None if stream is None else f"hls/{safe_name(room_id)}/{stream.id}/"

    def storage_key(self, room_id: str, name: str) -> str | None:
        prefix = self.prefix(room_id)
        return None if prefix is None else prefix + name

    def carries(self, room_id: str, track_id: str) -> bool:
        """Whether this track's frames go into the room's HLS as the publisher sent them (an H.264 camera and
        the microphone beside it): the recorder then leaves them to the HLS segments. Decided from the room
        as it is now (`tracks_of`), by the rule `reconcile` follows, so the answer does not depend on which
        of the two heard of a new track first."""
        if self.media is None:
            return False
        tracks = self.tracks_of(room_id) if self.tracks_of is not None else None
        if tracks is None:
            packaged = self.rooms.get(room_id)
            return packaged is not None and not packaged.transcoded and track_id in (packaged.video, packaged.audio)
        video, audio, _ = self._selection(tracks)
        return video is not None and video.codec.upper() == "H264" and track_id in (
            video.track_id, audio.track_id if audio else "",
        )  # fmt: skip

    def _selection(self, tracks: list[RoomTrack]) -> tuple[RoomTrack | None, RoomTrack | None, str]:
        """The camera and microphone to package, and the codec of a camera that cannot be."""
        video = _main_camera(tracks)
        if video is not None and video.codec.upper() not in ("H264", *(("VP8",) if self.transcode else ())):
            return None, None, video.codec
        audio = next(
            (t for t in tracks if video and t.kind == "audio" and t.participant_id == video.participant_id), None
        )
        return video, audio, ""

    async def finish(self, room_id: str) -> StoredStream | None:
        """End the room's stream (if the room's end has not already) and describe what it stored."""
        if room_id in self.rooms:
            await self.end(room_id)
        stream = self.ended.get(room_id)
        if stream is None:
            return None
        await stream.close()  # waits for an end already under way to store its last segment
        return describe(stream, f"hls/{safe_name(room_id)}/{stream.id}/", self._remuxed.get(room_id, []))

    async def reconcile(self, room_id: str, ended: bool, tracks: list[RoomTrack], keep: bool = True) -> None:
        """The room changed: package the main publisher's camera and microphone, or let go of them.
        `keep`: the room records, so its segments are kept when it ends (they are the recording); a room that
        does not record has them deleted `retain_s` after its end."""
        if ended:
            if not keep:
                self._discard.add(room_id)
            await self.end(room_id)
            return
        if _main_camera(tracks) is None and room_id not in self.rooms:
            return
        async with self._locks[room_id]:
            await self._reconcile(room_id, tracks)

    async def _reconcile(self, room_id: str, tracks: list[RoomTrack]) -> None:
        video, audio, unsupported = self._selection(tracks)
        packaged = self.rooms.get(room_id)
        if packaged is None:
            if video is None and not unsupported:
                return
            packaged = self.rooms[room_id] = _Packaged(self._new_stream(room_id))
        packaged.unsupported = unsupported
        if packaged.video and (video is None or video.track_id != packaged.video):
            packaged.video, packaged.transcoded = "", False
            await self._call(room_id, packaged, "drop_video", {})
        if packaged.audio and (audio is None or audio.track_id != packaged.audio):
            packaged.audio = ""
            await self._call(room_id, packaged, "drop_audio", {})
        if audio is not None and not packaged.audio and audio.track_id not in packaged.refused:
            if await self._call(room_id, packaged, "audio", {"track_id": audio.track_id}):
                packaged.audio = audio.track_id
            else:
                packaged.refused.add(audio.track_id)
        if video is not None and not packaged.video and video.track_id not in packaged.refused:
            data = {"track_id": video.track_id, "codec": video.codec}
            if await self._call(room_id, packaged, "video", data):
                packaged.video, packaged.transcoded = video.track_id, video.codec.upper() == "VP8"
            else:
                packaged.refused.add(video.track_id)
        for track_id in (packaged.video, packaged.audio):
            if track_id and not packaged.transcoded and track_id not in packaged.remuxed:
                packaged.remuxed.append(track_id)

    async def _call(self, room_id: str, packaged: _Packaged, method: str, data: dict[str, Any]) -> Any:
        """A call to the room's packager tap, opened where the room's producers are on first use."""
        if self.media is None:
            return False
        if packaged.tap is None:
            stream = packaged.stream

            def on_event(event: str, body: dict[str, Any]) -> None:
                if event == "segment":
                    stream.receive(body)

            config = {"segment_seconds": self.segment_seconds}
            host = cast(TapHost | None, self.media if hasattr(self.media, "open_tap") else None)
            if host is not None:
                packaged.tap = await host.open_tap(room_id, FACTORY, config, on_event)
            else:  # a bare frame source: the tap runs here
                packaged.tap = open_local_tap(self.media, room_id, FACTORY, config, on_event)
        return await packaged.tap.call(method, data)

    def _new_stream(self, room_id: str) -> HlsStream:
        stream_id = secrets.token_hex(6)
        prefix = f"hls/{safe_name(room_id)}/{stream_id}/"
        storage, spool, root = self.storage, self.spool, self.local_root

        async def store(name: str, data: bytes) -> None:
            if spool is not None and root is not None:
                # as the recorder does: a local file first, then the spool uploads it (retried while the
                # store is down, resumed after a crash); with the local store the file is already in place
                path = root / (prefix + name)
                await asyncio.to_thread(_write, path, data)
                spool.put(prefix + name, path)
            elif storage is not None:
                await storage.put_bytes(prefix + name, data)

        return HlsStream(stream_id, store, self.segment_seconds, self.window)

    async def end(self, room_id: str) -> None:
        async with self._locks[room_id]:
            packaged = self.rooms.pop(room_id, None)
            if packaged is None:
                return
            self.ended.pop(room_id, None)
            self.ended[room_id] = packaged.stream  # before closing: finish() may ask while the last one is built
            self._remuxed[room_id] = packaged.remuxed
            while len(self.ended) > ENDED_KEPT:
                self._remuxed.pop(old := next(iter(self.ended)), None)
                self.ended.pop(old)
            if packaged.tap is not None:
                try:
                    await packaged.tap.call("stop", {})  # its last segment arrives before the reply
                    await packaged.tap.close()
                except Exception:
                    log.exception("hls: stopping the packager of %s failed", room_id)
            await packaged.stream.close()
        self._locks.pop(room_id, None)
        if room_id in self._discard:
            self._discard.discard(room_id)
            task = asyncio.get_running_loop().create_task(self._expire(f"hls/{safe_name(room_id)}/{packaged.stream.id}/"))
            self._expiring.add(task)
            task.add_done_callback(self._expiring.discard)

    async def _expire(self, prefix: str) -> None:
        """Retention of a broadcast that does not record: its segments, locally and in the store, go."""
        await asyncio.sleep(self.retain_s)
        if self.local_root is not None:
            await asyncio.to_thread(shutil.rmtree, self.local_root / prefix, True)
        if self.spool is not None:
            self.spool.delete_prefix(prefix)  # after the uploads queued before it
        elif self.storage is not None:
            await self.storage.delete_prefix(prefix)

    async def close(self) -> None:
        for room_id in list(self.rooms):
            await self.end(room_id)
        for task in list(self._expiring):  # not yet due: left in place (a restart forgets them)
            task.cancel()


def _main_camera(tracks: list[RoomTrack]) -> RoomTrack | None:
    """The teacher's high camera (a hub teacher before a co-teacher; any camera when roles are unknown)."""
    cameras = [t for t in tracks if t.kind == "video" and t.source == "camera" and t.quality == "high"]
    cameras.sort(key=lambda t: PUBLISHER_ROLES.index(t.role) if t.role in PUBLISHER_ROLES else len(PUBLISHER_ROLES))
    return cameras[0] if cameras else None
