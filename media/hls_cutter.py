"""The packager's live half: a publisher's encoded frames in, built fMP4 segments out, in order.

It runs where the frames are (the room's SFU worker, as a tap: `media.hls_tap`), so frames never cross a
process; only a built segment (about one a second) goes on to the node's `HlsStream`, which lists, serves
and stores it. What runs on the event loop is bookkeeping per frame: unwrap the RTP timestamp, place it on
the stream's timeline, and cut a segment when a keyframe arrives after `segment_seconds` (asking the
publisher for that keyframe by PLI shortly before, so segments are about one target long). Building the
segment's bytes runs in a thread (`media.hls_builder`), one at a time and in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from core.contracts import EncodedFrame
from media.hls_builder import BuiltSegment, SegmentBuilder, SegmentJob

log = logging.getLogger(__name__)

PLI_LEAD_S = 0.2  # ask for the boundary keyframe this long before the segment is due


class _Unwrap:
    """32-bit RTP timestamps as one increasing count."""

    __slots__ = ("last", "high")

    def __init__(self) -> None:
        self.last: int | None = None
        self.high = 0

    def __call__(self, ts: int) -> int:
        if self.last is not None:
            if ts < self.last and self.last - ts > 0x80000000:
                self.high += 1 << 32
            elif ts > self.last and ts - self.last > 0x80000000:
                return self.high - (1 << 32) + ts  # a late frame from before the wrap
        self.last = ts
        return self.high + ts


class HlsCutter:
    """Frames from the video (and audio) sink of one publisher; each built segment to `on_built`."""

    def __init__(
        self,
        on_built: Callable[[BuiltSegment], None],
        request_keyframe: Callable[[], None] | None = None,
        segment_seconds: float = 1.0,
    ) -> None:
        self._on_built = on_built
        self._request_keyframe = request_keyframe
        self.segment_seconds = segment_seconds
        self.ended = False
        self.with_audio = False
        self.build_seconds = 0.0  # CPU seconds spent building segments (thread time)
        self.sink_seconds = 0.0  # CPU time spent in the sinks on the event loop (thread time)
        self.frames_in = 0
        # timeline (monotonic seconds of the first keyframe, and the wall clock at that moment)
        self._t0: float | None = None
        self._wall0 = 0.0
        self._video_unwrap = _Unwrap()
        self._audio_unwrap = _Unwrap()
        self._video_base: tuple[int, int] | None = None  # (unwrapped rtp, dts) of the generation's first frame
        self._audio_base: tuple[int, int] | None = None
        self._video: list[tuple[int, bytes]] = []
        self._audio: list[tuple[int, bytes]] = []
        self._segment_start: int | None = None  # dts of the open segment's first frame
        self._asked = False
        self._sequence = 0
        self._restart = False
        self._builder = SegmentBuilder()
        self._jobs: asyncio.Queue[SegmentJob | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    # -- sinks (called on the event loop for every frame: keep them cheap) --------------------------

    def on_video(self, frame: EncodedFrame) -> None:
        t0 = time.thread_time()
        try:
            self._on_video(frame)
        finally:
            self.sink_seconds += time.thread_time() - t0

    def _on_video(self, frame: EncodedFrame) -> None:
        if self.ended:
            return
        self.frames_in += 1
        now = frame.arrival
        if self._video_base is None:
            if not frame.keyframe:
                return
            if self._t0 is None:
                self._t0 = now
                self._wall0 = time.time() - (time.monotonic() - now)
            rtp = self._video_unwrap(frame.timestamp)
            self._video_base = (rtp, round((now - self._t0) * 90000))
            self._segment_start = None
        rtp = self._video_unwrap(frame.timestamp)
        dts = self._video_base[1] + rtp - self._video_base[0]
        if self._segment_start is None:
            self._segment_start = dts
        # media time, not arrival: a keyframe sent on time but delayed by a loaded machine still cuts
        age = (dts - self._segment_start) / 90000
        if frame.keyframe and self._video and age >= 0.85 * self.segment_seconds:
            self._cut(dts)
            self._segment_start = dts
            self._asked = False
        elif not self._asked and age >= self.segment_seconds - PLI_LEAD_S:
            self._asked = True
            if self._request_keyframe is not None:
                self._request_keyframe()
        if self._video and dts <= self._video[-1][0]:
            return  # a repeated or reordered frame: MP4 decode times only go forward
        self._video.append((dts, frame.data))
        self._ensure_worker()

    def on_audio(self, frame: EncodedFrame) -> None:
        if self.ended or self._t0 is None or not self.with_audio:
            return
        t0 = time.thread_time()
        rtp = self._audio_unwrap(frame.timestamp)
        if self._audio_base is None:
            self._audio_base = (rtp, round((frame.arrival - self._t0) * 48000))
        dts = self._audio_base[1] + rtp - self._audio_base[0]
        if not self._audio or dts > self._audio[-1][0]:
            self._audio.append((dts, frame.data))
        self.sink_seconds += time.thread_time() - t0

    def set_audio(self, on: bool) -> None:
        """Audio came or went: the next segment starts a new generation with or without it."""
        self.with_audio = on
        self._audio_base = None
        self._audio.clear()

    def video_gone(self) -> None:
        """The camera was unpublished: close the open segment; a new camera starts a new generation."""
        if self._video:
            last = self._video[-1][0]
            self._cut(last + 3000)
        self._restart = self._sequence > 0  # the next camera's segments follow a gap: a new generation
        self._video_base = None
        self._video_unwrap = _Unwrap()
        self._audio_base = None
        self._audio_unwrap = _Unwrap()
        self._audio.clear()

    # -- cutting ------------------------------------------------------------------------------------

    def _cut(self, end_dts: int) -> None:
        end_audio = end_dts * 48000 // 90000
        audio = [a for a in self._audio if a[0] < end_audio]
        rest = self._audio[len(audio) :]
        self._sequence += 1
        job = SegmentJob(
            sequence=self._sequence, video=self._video, video_end=end_dts, audio=audio,
            audio_next=rest[0][0] if rest else None, with_audio=self.with_audio, restart=self._restart,
        )  # fmt: skip
        self._restart = False
        self._video = []
        self._audio = rest
        self._jobs.put_nowait(job)
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="hls-cutter")

    async def _run(self) -> None:
        while True:
            job = await self._jobs.get()
            if job is None:
                return
            try:
                built = await asyncio.to_thread(self._build, job)
            except Exception:
                log.exception("hls: building segment %d failed", job.sequence)
                continue
            if built is not None:
                built.first_arrival, built.wall0 = self._t0 or 0.0, self._wall0
                self._on_built(built)

    def _build(self, job: SegmentJob) -> BuiltSegment | None:
        t0 = time.thread_time()
        try:
            return self._builder.build(job)
        finally:
            self.build_seconds += time.thread_time() - t0

    async def flush(self) -> None:
        """The stream ends: the open segment is cut and every segment built and handed on."""
        if self.ended:
            return
        self.video_gone()
        self.ended = True
        worker, self._worker = self._worker, None
        if worker is not None:
            self._jobs.put_nowait(None)
            await worker
