"""The HLS packager's live half as a tap (`media.taps`), like the recorder: it runs where the teacher's
producers are (inside the room's SFU worker when the SFU runs in workers), so encoded frames go from the
producer to the cutter without crossing a process; only built segments, about one a second, come back to
the node as `segment` events (`media.hls_live` lists, serves and stores them).

Driven by plain-data calls from `HlsService`: which camera and microphone to package (`video`, `audio`),
letting go of them (`drop_video`, `drop_audio`), `stop` (the last segment is cut and handed on before the
call returns) and `status`. An H.264 camera is remuxed as sent; a VP8 one is transcoded here, once per
stream, in a thread of its own (`media.hls_transcode`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from core.contracts import FrameSource, SinkHandle, TapEvent
from media.hls_builder import BuiltSegment
from media.hls_cutter import HlsCutter
from media.hls_transcode import Vp8ToH264

log = logging.getLogger(__name__)

FACTORY = "media.hls_tap:HlsTap"


class HlsTap:
    def __init__(self, source: FrameSource, room_id: str, config: dict[str, Any], emit: TapEvent) -> None:
        self.source = source
        self.room_id = room_id
        self.emit = emit
        self.segment_seconds = float(config.get("segment_seconds", 1.0))
        self.cutter = HlsCutter(self._built, self._keyframe, self.segment_seconds)
        self.video = ""
        self.audio = ""
        self.sinks: dict[str, SinkHandle] = {}
        self.transcoder: Vp8ToH264 | None = None
        self._stopped = False

    async def call(self, method: str, data: dict[str, Any]) -> Any:
        match method:
            case "video":
                return self.attach_video(str(data["track_id"]), str(data["codec"]))
            case "audio":
                return self.attach_audio(str(data["track_id"]))
            case "drop_video":
                self.drop_video()
                return None
            case "drop_audio":
                self.drop_audio()
                return None
            case "stop":
                await self.stop()
                return self.stats()
            case "status":
                return self.stats()
        raise KeyError(f"hls tap: unknown call {method}")

    def stats(self) -> dict[str, Any]:
        transcoder = self.transcoder
        return {
            "build_s": self.cutter.build_seconds, "sink_s": self.cutter.sink_seconds,
            "frames_in": self.cutter.frames_in, "transcoded": transcoder is not None,
            "transcode_s": transcoder.cpu_seconds if transcoder is not None else 0.0,
        }  # fmt: skip

    def _built(self, built: BuiltSegment) -> None:
        self.emit("segment", {"segment": asdict(built), "stats": self.stats()})

    def _request(self, track_id: str) -> None:
        request = getattr(self.source, "request_keyframe", None)
        if request is not None and track_id:
            request(self.room_id, track_id)  # throttled and coalesced by the SFU

    def _keyframe(self) -> None:
        if self.transcoder is None:  # the transcoder makes its own IDR at each boundary
            self._request(self.video)

    def _attach(self, track_id: str, sink: Any) -> bool:
        try:
            self.sinks[track_id] = self.source.attach_sink(self.room_id, track_id, sink)
        except (KeyError, ValueError) as exc:  # the track went away meanwhile
            log.warning("hls: cannot tap track %s of %s: %s", track_id, self.room_id, exc)
            return False
        return True

    def _detach(self, track_id: str) -> None:
        handle = self.sinks.pop(track_id, None)
        if handle is not None:
            handle.close()

    def attach_video(self, track_id: str, codec: str) -> bool:
        """Package this camera: H.264 as sent, VP8 through one transcode. False if the SFU would not tap it."""
        self.drop_video()
        transcoder = None
        sink = self.cutter.on_video
        if codec.upper() == "VP8":
            transcoder = Vp8ToH264(
                self.cutter.on_video, self.segment_seconds, request_keyframe=lambda: self._request(track_id)
            )
            sink = transcoder.on_frame
        if not self._attach(track_id, sink):
            if transcoder is not None:
                transcoder.close()
            return False
        self.video, self.transcoder = track_id, transcoder
        return True

    def attach_audio(self, track_id: str) -> bool:
        self.drop_audio()
        if not self._attach(track_id, self.cutter.on_audio):
            return False
        self.audio = track_id
        self.cutter.set_audio(True)
        return True

    def drop_video(self) -> None:
        if not self.video:
            return
        self._detach(self.video)
        self.video = ""
        if self.transcoder is not None:
            self.transcoder.close()
            self.transcoder = None
        self.cutter.video_gone()

    def drop_audio(self) -> None:
        if not self.audio:
            return
        self._detach(self.audio)
        self.audio = ""
        self.cutter.set_audio(False)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for track_id in list(self.sinks):
            self._detach(track_id)
        if self.transcoder is not None:
            self.transcoder.close()
        await self.cutter.flush()

    async def close(self) -> None:
        await self.stop()
