"""The node's HLS packager: one `HlsStream` per broadcast room, fed by frame sinks on the teacher's tracks.

The web layer tells it, after every change of a room (`reconcile`), which tracks the room has; it picks
the main publisher's high camera track and microphone, attaches a sink to each through the SFU's
`FrameSource` (the same tap the recorder uses; it will cross into worker processes with it) and asks for a
keyframe at every segment boundary. H.264 is remuxed as it comes; a VP8 camera is transcoded once per
stream in a thread of its own (`media.hls_transcode`); any other codec is reported `unsupported`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.contracts import FrameSource, SinkHandle
from media.hls_recording import StoredStream, describe
from media.hls_stream import SEGMENT_SECONDS, WINDOW, HlsStream
from media.hls_transcode import Vp8ToH264

log = logging.getLogger(__name__)

PUBLISHER_ROLES = ("hub_teacher", "coteacher")
ENDED_KEPT = 32


@runtime_checkable
class KeyframeSource(Protocol):
    """The SFU asked for a keyframe of one track (a throttled, coalesced PLI to its publisher)."""

    def request_keyframe(self, room_id: str, track_id: str) -> None: ...


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
    video: str = ""  # track ids with sinks
    audio: str = ""
    sinks: dict[str, SinkHandle] = field(default_factory=dict)
    unsupported: str = ""  # codec of a camera we cannot remux
    refused: set[str] = field(default_factory=set)  # tracks the SFU would not tap (not retried)
    transcoder: Vp8ToH264 | None = None
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
        keyframes: KeyframeSource | None = None,
        storage: Any = None,  # a core.storage.Storage
        segment_seconds: float = SEGMENT_SECONDS,
        window: int = WINDOW,
        spool: Any = None,  # a core.spool.Spool: with it, segments are written under `local_root` and spooled
        local_root: Path | None = None,
        transcode: bool = True,  # a VP8 camera is transcoded once (a thread per stream) instead of refused
    ) -> None:
        self.transcode = transcode
        self.media = media
        self.keyframes = keyframes
        self.storage = storage
        self.spool = spool
        self.local_root = local_root
        self.segment_seconds = segment_seconds
        self.window = window
        self.rooms: dict[str, _Packaged] = {}
        self.ended: dict[str, HlsStream] = {}  # the last streams that ended (their playlists say ENDLIST)
        self._remuxed: dict[str, list[str]] = {}  # room → tracks its ended stream carried as sent

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
        transcoder = packaged.transcoder if packaged is not None else None
        return {
            "state": "live" if stream.live else "ended" if stream.ended else "starting",
            "codecs": stream.codecs,
            "segments": len(stream.segments),
            "audio": stream.with_audio,
            "transcoded": transcoder is not None,
            **({"transcode_cpu_s": round(transcoder.cpu_seconds, 3)} if transcoder is not None else {}),
        }

    def prefix(self, room_id: str) -> str | None:
        """Where the room's stream stores its files (keys are `prefix + name`)."""
        stream = self.stream(room_id)
        return None if stream is None else f"hls/{safe_name(room_id)}/{stream.id}/"

    def storage_key(self, room_id: str, name: str) -> str | None:
        prefix = self.prefix(room_id)
        return None if prefix is None else prefix + name

    async def reconcile(self, room_id: str, ended: bool, tracks: list[RoomTrack]) -> None:
        """The room changed: attach to the main publisher's camera and microphone, or let go of them."""
        if ended:
            await self.end(room_id)
            return
        video = _main_camera(tracks)
        packaged = self.rooms.get(room_id)
        if video is None and packaged is None:
            return
        if packaged is None:
            packaged = self.rooms[room_id] = _Packaged(self._new_stream(room_id))
        stream = packaged.stream
        if video is not None and video.codec.upper() not in ("H264", *(("VP8",) if self.transcode else ())):
            packaged.unsupported = video.codec
            video = None
        elif video is not None:
            packaged.unsupported = ""
        audio = next(
            (t for t in tracks if video and t.kind == "audio" and t.participant_id == video.participant_id), None
        )
        if packaged.video and (video is None or video.track_id != packaged.video):
            self._detach(packaged, packaged.video)
            packaged.video = ""
            if packaged.transcoder is not None:
                packaged.transcoder.close()
                packaged.transcoder = None
            stream.video_gone()
        if packaged.audio and (audio is None or audio.track_id != packaged.audio):
            self._detach(packaged, packaged.audio)
            packaged.audio = ""
            stream.set_audio(False)
        if audio is not None and not packaged.audio and self._attach(room_id, packaged, audio.track_id, stream.on_audio):
            packaged.audio = audio.track_id
            stream.set_audio(True)
        if video is not None and not packaged.video:
            sink = stream.on_video
            transcoder = None
            if video.codec.upper() == "VP8":  # one transcode per stream, in its own thread
                keyframes, track_id = self.keyframes, video.track_id

                def publisher_keyframe() -> None:
                    if keyframes is not None:
                        keyframes.request_keyframe(room_id, track_id)

                transcoder = Vp8ToH264(stream.on_video, self.segment_seconds, request_keyframe=publisher_keyframe)
                sink = transcoder.on_frame
            if self._attach(room_id, packaged, video.track_id, sink):
                packaged.video = video.track_id
                packaged.transcoder = transcoder
            elif transcoder is not None:
                transcoder.close()
        for track_id in (packaged.video, packaged.audio):
            if track_id and packaged.transcoder is None and track_id not in packaged.remuxed:
                packaged.remuxed.append(track_id)

    def carries(self, room_id: str, track_id: str) -> bool:
        """Whether this track's frames go into the room's HLS as the publisher sent them (an H.264 camera and
        the microphone beside it): the recorder then leaves them to the HLS segments."""
        packaged = self.rooms.get(room_id)
        return packaged is not None and packaged.transcoder is None and track_id in (packaged.video, packaged.audio)

    async def finish(self, room_id: str) -> StoredStream | None:
        """End the room's stream (if the room's end has not already) and describe what it stored."""
        if room_id in self.rooms:
            await self.end(room_id)
        stream = self.ended.get(room_id)
        if stream is None:
            return None
        await stream.close()  # waits for an end already under way to store its last segment
        return describe(stream, f"hls/{safe_name(room_id)}/{stream.id}/", self._remuxed.get(room_id, []))

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

        def keyframe() -> None:
            packaged = self.rooms.get(room_id)
            if packaged is not None and packaged.transcoder is not None:
                return  # the transcoder makes its own IDR at each boundary
            if self.keyframes is not None and packaged is not None and packaged.video:
                self.keyframes.request_keyframe(room_id, packaged.video)

        return HlsStream(stream_id, store, keyframe, self.segment_seconds, self.window)

    def _attach(self, room_id: str, packaged: _Packaged, track_id: str, sink: Any) -> bool:
        if self.media is None or track_id in packaged.refused:
            return False
        try:
            packaged.sinks[track_id] = self.media.attach_sink(room_id, track_id, sink)
        except (KeyError, ValueError) as exc:  # the track went away meanwhile
            log.warning("hls: cannot tap track %s of %s: %s", track_id, room_id, exc)
            packaged.refused.add(track_id)
            return False
        return True

    def _detach(self, packaged: _Packaged, track_id: str) -> None:
        handle = packaged.sinks.pop(track_id, None)
        if handle is not None:
            handle.close()

    async def end(self, room_id: str) -> None:
        packaged = self.rooms.pop(room_id, None)
        if packaged is None:
            return
        for track_id in list(packaged.sinks):
            self._detach(packaged, track_id)
        if packaged.transcoder is not None:
            packaged.transcoder.close()
        self.ended.pop(room_id, None)
        self.ended[room_id] = packaged.stream  # before closing: finish() may ask while the last segment is built
        self._remuxed[room_id] = packaged.remuxed
        while len(self.ended) > ENDED_KEPT:
            self._remuxed.pop(old := next(iter(self.ended)), None)
            self.ended.pop(old)
        await packaged.stream.close()

    async def close(self) -> None:
        for room_id in list(self.rooms):
            await self.end(room_id)


def _main_camera(tracks: list[RoomTrack]) -> RoomTrack | None:
    """The teacher's high camera (a hub teacher before a co-teacher; any camera when roles are unknown)."""
    cameras = [t for t in tracks if t.kind == "video" and t.source == "camera" and t.quality == "high"]
    cameras.sort(key=lambda t: PUBLISHER_ROLES.index(t.role) if t.role in PUBLISHER_ROLES else len(PUBLISHER_ROLES))
    return cameras[0] if cameras else None
