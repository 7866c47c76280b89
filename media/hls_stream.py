"""One room's live HLS stream: encoded frames in (from the SFU's sinks), fMP4 segments and a playlist out.

What runs on the event loop is bookkeeping per frame: unwrap the RTP timestamp, place it on the stream's
timeline, and cut a segment when a keyframe arrives after `segment_seconds` (the packager asks the
publisher for that keyframe by PLI shortly before, so segments are about one target long). Building the
segment's bytes runs in a worker thread (`media.hls_builder`), one at a time and in order; storing it goes
through `core.storage` (a local directory or S3). The newest segments are also kept in memory, so a
thousand viewers fetching the same segment read RAM, not the store.

Names are never reused (every stream has its own id in its keys), so segments can be cached forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from core.contracts import EncodedFrame
from media.hls_builder import BuiltSegment, SegmentBuilder, SegmentJob

log = logging.getLogger(__name__)

SEGMENT_SECONDS = 1.0
WINDOW = 6  # segments listed in the live playlist
KEEP_IN_MEMORY = 16  # segments served from RAM (the window and a few just fallen out of it)
PLI_LEAD_S = 0.2  # ask for the boundary keyframe this long before the segment is due
VOD_NAME = "vod.m3u8"


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


@dataclass(slots=True, frozen=True)
class SegmentInfo:
    name: str
    sequence: int
    generation: int
    duration: float
    wall_start: float  # time.time() of its first frame (EXT-X-PROGRAM-DATE-TIME)
    size: int
    discontinuity: int  # its discontinuity sequence number (generations changed before it)
    start: float = 0.0  # media seconds of its first frame on the stream's timeline
    frames: int = 0


@dataclass(slots=True, frozen=True)
class Generation:
    """What one init segment describes: the picture size, codecs and whether audio is muxed beside."""

    init: str
    width: int
    height: int
    codecs: str
    with_audio: bool


class HlsStream:
    """Frames from the video (and audio) sink of one publisher; segments into `store(name, data)`."""

    def __init__(
        self,
        stream_id: str,
        store: Callable[[str, bytes], object] | None = None,
        request_keyframe: Callable[[], None] | None = None,
        segment_seconds: float = SEGMENT_SECONDS,
        window: int = WINDOW,
    ) -> None:
        self.id = stream_id or secrets.token_hex(6)
        self._store = store
        self._request_keyframe = request_keyframe
        self.segment_seconds = segment_seconds
        self.window = window
        self.segments: list[SegmentInfo] = []  # every segment of the stream, in order
        self.version = 0  # changes whenever the playlist would
        self.inits: dict[int, str] = {}  # generation → init name
        self.generations: dict[int, Generation] = {}
        self.cache: OrderedDict[str, bytes] = OrderedDict()
        self.codecs = ""
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
        self._builder = SegmentBuilder()
        self._jobs: asyncio.Queue[SegmentJob | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()  # set once close() has stored the last segment and the VOD playlist

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
            audio_next=rest[0][0] if rest else None, with_audio=self.with_audio,
        )  # fmt: skip
        self._video = []
        self._audio = rest
        self._jobs.put_nowait(job)
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"hls-{self.id}")

    async def _run(self) -> None:
        while True:
            job = await self._jobs.get()
            if job is None:
                return
            try:
                built = await asyncio.to_thread(self._build, job)
            except Exception:
                log.exception("hls %s: building segment %d failed", self.id, job.sequence)
                continue
            if built is not None:
                await self._publish(built)

    def _build(self, job: SegmentJob) -> BuiltSegment | None:
        t0 = time.thread_time()
        try:
            return self._builder.build(job)
        finally:
            self.build_seconds += time.thread_time() - t0

    async def _publish(self, built: BuiltSegment) -> None:
        if built.init is not None:
            name = f"init-{built.generation}.mp4"
            self.inits[built.generation] = name
            self._keep(name, built.init, pin=True)
            await self._put(name, built.init)
        name = f"seg-{built.generation}-{built.sequence}.m4s"
        self._keep(name, built.data)
        self.codecs = built.codecs
        prev = self.segments[-1] if self.segments else None
        disc = prev.discontinuity + (prev.generation != built.generation) if prev else 0
        if built.generation not in self.generations:
            self.generations[built.generation] = Generation(
                self.inits[built.generation], built.width, built.height, built.codecs, built.with_audio
            )
        self.segments.append(SegmentInfo(
            name, built.sequence, built.generation, built.duration, self._wall0 + built.start, len(built.data), disc,
            built.start, built.frames,
        ))  # fmt: skip
        self._bump()  # listed at once (served from memory); the store's copy follows
        await self._put(name, built.data)

    def _bump(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def _put(self, name: str, data: bytes) -> None:
        if self._store is None:
            return
        try:
            result = self._store(name, data)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            log.exception("hls %s: storing %s failed (it stays served from memory while recent)", self.id, name)

    def _keep(self, name: str, data: bytes, pin: bool = False) -> None:
        self.cache[name] = data
        if pin:
            return
        segs = [k for k in self.cache if k.startswith("seg-")]
        for old in segs[: max(0, len(segs) - KEEP_IN_MEMORY)]:
            del self.cache[old]

    # -- reading ------------------------------------------------------------------------------------

    def get(self, name: str) -> bytes | None:
        return self.cache.get(name)

    @property
    def first_arrival(self) -> float | None:
        """time.monotonic() of the stream's first keyframe, the zero of its media timeline."""
        return self._t0

    @property
    def live(self) -> bool:
        return bool(self.segments) and not self.ended

    async def wait_segment(self, timeout: float) -> bool:
        """Until the next segment is published (tests and the bench follow the stream with it)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._changed.wait()
                return True
        return False

    def playlist(self, uri: Callable[[str], str], whole: bool = False) -> str:
        """The live media playlist (RFC 8216 v7): the last `window` segments, each generation's init.
        `whole`: every segment, as a VOD playlist (the lesson's recording, written when the stream ends)."""
        shown = self.segments if whole else self.segments[-self.window :]
        target = max([1, *(math.ceil(s.duration - 0.001) for s in shown)])
        first = shown[0].sequence if shown else self._sequence + 1
        discontinuities = shown[0].discontinuity if shown else 0
        lines = [
            "#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", f"#EXT-X-MEDIA-SEQUENCE:{first}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuities}", "#EXT-X-INDEPENDENT-SEGMENTS",
        ]  # fmt: skip
        if whole:
            lines.insert(2, "#EXT-X-PLAYLIST-TYPE:VOD")
        generation = None
        for s in shown:
            if generation is not None and s.generation != generation:
                lines.append("#EXT-X-DISCONTINUITY")
            if s.generation != generation:
                lines.append(f'#EXT-X-MAP:URI="{uri(self.inits[s.generation])}"')
                generation = s.generation
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s.wall_start))
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{stamp}.{int(s.wall_start % 1 * 1000):03d}Z")
            lines.append(f"#EXTINF:{s.duration:.3f},")
            lines.append(uri(s.name))
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    async def close(self) -> None:
        """The lesson ended: the open segment is cut, the playlist ends (EXT-X-ENDLIST)."""
        if self.ended:
            await self._closed.wait()  # a second caller (the recorder) waits for the first to finish
            return
        self.video_gone()
        self.ended = True
        worker, self._worker = self._worker, None
        if worker is not None:
            self._jobs.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._bump()
        if self.segments:
            # The recording of what was broadcast: the segments already stored, listed once more (no
            # second write of the media).
            await self._put(VOD_NAME, self.playlist(lambda name: name, whole=True).encode())
        self._closed.set()
