"""One room's live HLS stream as the node serves it: built fMP4 segments in (from the packager's tap,
`media.hls_tap`, wherever the room's producers are), a playlist and the segments out.

Each segment is listed as it arrives, kept in memory while recent (a thousand viewers fetching the same
segment read RAM, not the store) and stored through `core.storage` (a local directory or S3), one after
another in order. When the stream ends a VOD playlist over the same segments is stored beside them.

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
from typing import Any

from media.hls_builder import BuiltSegment

log = logging.getLogger(__name__)

SEGMENT_SECONDS = 1.0
WINDOW = 6  # segments listed in the live playlist
KEEP_IN_MEMORY = 16  # segments served from RAM (the window and a few just fallen out of it)
VOD_NAME = "vod.m3u8"


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
    """Built segments in (`receive`, in order); the playlist, the recent segments, and `store(name, data)`."""

    def __init__(
        self,
        stream_id: str,
        store: Callable[[str, bytes], object] | None = None,
        segment_seconds: float = SEGMENT_SECONDS,
        window: int = WINDOW,
    ) -> None:
        self.id = stream_id or secrets.token_hex(6)
        self._store = store
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
        self.stats: dict[str, float] = {}  # the packager's own figures (CPU of its sinks, builder, transcode)
        self._t0: float | None = None  # time.monotonic() of the first frame: media time 0
        self._wall0 = 0.0  # time.time() at that moment
        self._received: asyncio.Queue[BuiltSegment | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._renumber = (0, 0)  # (generation, sequence) added to a restarted packager's own numbers
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()  # set once close() has stored the last segment and the VOD playlist

    # -- from the packager -----------------------------------------------------------------------------

    def receive(self, event: dict[str, Any]) -> None:
        """A `segment` event of the packager's tap (on the event loop): published in order, off this call."""
        if self.ended:
            return
        self.stats = dict(event.get("stats") or {})
        self._received.put_nowait(BuiltSegment(**event["segment"]))
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"hls-{self.id}")

    @property
    def build_seconds(self) -> float:
        return float(self.stats.get("build_s", 0.0))

    @property
    def sink_seconds(self) -> float:
        return float(self.stats.get("sink_s", 0.0))

    @property
    def frames_in(self) -> int:
        return int(self.stats.get("frames_in", 0))

    async def _run(self) -> None:
        while (built := await self._received.get()) is not None:
            try:
                await self._publish(built)
            except Exception:
                log.exception("hls %s: publishing segment %d failed", self.id, built.sequence)

    async def _publish(self, built: BuiltSegment) -> None:
        if self._t0 is None:
            self._t0, self._wall0 = built.first_arrival, built.wall0
        prev = self.segments[-1] if self.segments else None
        if prev is not None and built.sequence + self._renumber[1] <= prev.sequence:
            # the packager started again (its SFU worker was restarted): its numbers begin anew; ours go on,
            # in a new generation, so no name is ever reused
            self._renumber = (prev.generation, prev.sequence)
        generation, sequence = built.generation + self._renumber[0], built.sequence + self._renumber[1]
        start = built.start + (built.first_arrival - self._t0)  # on this stream's timeline
        self.with_audio = built.with_audio
        if built.init is not None:
            name = f"init-{generation}.mp4"
            self.inits[generation] = name
            self._keep(name, built.init, pin=True)
            await self._put(name, built.init)
        name = f"seg-{generation}-{sequence}.m4s"
        self._keep(name, built.data)
        self.codecs = built.codecs
        disc = prev.discontinuity + (prev.generation != generation) if prev else 0
        if generation not in self.generations:
            self.generations[generation] = Generation(
                self.inits[generation], built.width, built.height, built.codecs, built.with_audio
            )
        self.segments.append(SegmentInfo(
            name, sequence, generation, built.duration, self._wall0 + start, len(built.data), disc, start,
            built.frames,
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
        first = shown[0].sequence if shown else 1
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
        """The lesson ended (the packager has handed on its last segment): every segment received is
        published, the playlist ends (EXT-X-ENDLIST) and the VOD playlist is stored."""
        if self.ended:
            await self._closed.wait()  # a second caller (the recorder) waits for the first to finish
            return
        self.ended = True
        worker, self._worker = self._worker, None
        if worker is not None:
            self._received.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._bump()
        if self.segments:
            # The recording of what was broadcast: the segments already stored, listed once more (no
            # second write of the media).
            await self._put(VOD_NAME, self.playlist(lambda name: name, whole=True).encode())
        self._closed.set()
