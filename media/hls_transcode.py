"""One VP8 → H.264 transcode per stream, for a teacher whose browser will not send H.264, off the live path.

The sink only queues the SFU's encoded VP8 frame (bounded: when the thread falls behind, frames are dropped
up to the next keyframe, and WebRTC viewers never notice, since they get the VP8 as forwarded). One thread
decodes with libvpx and encodes with libx264 (Baseline, zerolatency, an IDR every segment), and hands the
H.264 access units back to the event loop as if the SFU had received them. Its CPU time is counted
(`cpu_seconds`), so the cost per stream is a figure, not a guess.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from fractions import Fraction

import av

from core.contracts import EncodedFrame

log = logging.getLogger(__name__)

QUEUE_FRAMES = 60  # two seconds at 30 fps


class Vp8ToH264:
    def __init__(
        self, deliver: Callable[[EncodedFrame], None], segment_seconds: float, bitrate: int = 800_000,
        request_keyframe: Callable[[], None] | None = None,
    ) -> None:
        self._deliver = deliver
        self._request_keyframe = request_keyframe  # after a drop: the decoder can only resume on a keyframe
        self._loop = asyncio.get_running_loop()
        self._segment_ticks = int(segment_seconds * 90000)
        self._bitrate = bitrate
        self._queue: queue.Queue[EncodedFrame | None] = queue.Queue(QUEUE_FRAMES)
        self._skip_to_key = False
        self.cpu_seconds = 0.0
        self.frames_out = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="hls-vp8-h264", daemon=True)
        self._thread.start()

    def on_frame(self, frame: EncodedFrame) -> None:
        """The sink (on the event loop): queue, never wait."""
        if self._skip_to_key and not frame.keyframe:
            self.dropped += 1
            if self._request_keyframe is not None:
                self._request_keyframe()  # throttled and coalesced by the SFU (one PLI per 0.5 s at most)
            return
        try:
            self._queue.put_nowait(frame)
            self._skip_to_key = False
        except queue.Full:
            self.dropped += 1
            self._skip_to_key = True
            if self._request_keyframe is not None:
                self._request_keyframe()

    def close(self) -> None:
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            self._skip_to_key = True
            threading.Thread(target=self._queue.put, args=(None,), daemon=True).start()

    def _run(self) -> None:
        decoder = av.CodecContext.create("libvpx", "r")
        encoder: av.VideoCodecContext | None = None
        last_key: int | None = None
        t0 = time.thread_time()
        while True:
            frame = self._queue.get()
            if frame is None:
                break
            try:
                pictures = decoder.decode(av.Packet(frame.data))
            except av.error.FFmpegError:
                continue  # a damaged frame (loss): the next keyframe repairs it
            for picture in pictures:
                if encoder is None or (encoder.width, encoder.height) != (picture.width, picture.height):
                    encoder = self._encoder(picture.width, picture.height)
                    last_key = None
                key = last_key is None or frame.timestamp - last_key >= self._segment_ticks
                picture = picture.reformat(format="yuv420p")
                picture.pts = frame.timestamp
                picture.time_base = Fraction(1, 90000)
                picture.pict_type = av.video.frame.PictureType.I if key else av.video.frame.PictureType.NONE
                for packet in encoder.encode(picture):
                    is_key = bool(packet.is_keyframe)
                    if is_key:
                        last_key = frame.timestamp
                    out = EncodedFrame(frame.track_id, "video", "H264", bytes(packet), frame.timestamp, 90000,
                                       is_key, frame.arrival)  # fmt: skip
                    self.frames_out += 1
                    self._loop.call_soon_threadsafe(self._deliver, out)
            self.cpu_seconds = time.thread_time() - t0

    def _encoder(self, width: int, height: int) -> av.VideoCodecContext:
        encoder = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
        encoder.time_base = Fraction(1, 90000)
        encoder.framerate = Fraction(30, 1)  # a hint for rate control; timestamps come from RTP
        encoder.bit_rate = self._bitrate
        encoder.profile = "Baseline"
        encoder.options = {"tune": "zerolatency", "preset": "veryfast", "forced-idr": "1"}
        encoder.thread_count = 1
        return encoder
