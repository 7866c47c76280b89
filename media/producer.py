"""A Producer is one track the SFU receives from a publisher; it fans each packet out to its Consumers.

The hot path (`on_packet`) runs synchronously inside the publisher transport's receive task: no queue,
no task wake-up per packet. Work done once per received packet (keyframe detection, the header extension
block, timing) is shared by all consumers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket

from media.frames import EncodedFrame
from media.keyframes import KeyframeRequester
from media.rtp import abs_send_time_extension, audio_level_extension, keyframe_detector, ntp_now, seq_newer

if TYPE_CHECKING:
    from media.consumer import Consumer

logger = logging.getLogger(__name__)

Sink = Callable[[EncodedFrame], None]

# ext ids used on subscriber legs (the SFU is the offerer there, so aiortc's own ids apply)
ExtKey = tuple[int, int]  # (abs-send-time id or 0, audio-level id or 0)


@dataclass(slots=True)
class ProducerCounters:
    packets: int = 0
    bytes: int = 0
    keyframes: int = 0
    base_seq: int | None = None
    max_seq: int = 0
    cycles: int = 0
    transit_sum: float = 0.0
    transit_count: int = 0
    transit_max: float = 0.0


@dataclass(slots=True)
class _SinkEntry:
    sink: Sink
    waiting_keyframe: bool


@dataclass(slots=True)
class ProducerInfo:
    track_id: str
    participant_id: str
    kind: str
    source: str
    quality: str
    codec: str
    clock_rate: int


class Producer:
    def __init__(self, info: ProducerInfo, send_pli: Callable[[int], bool]) -> None:
        self.info = info
        self.kind = info.kind
        self.consumers: list[Consumer] = []
        self.counters = ProducerCounters()
        self.media_ssrc: int | None = None
        self._send_pli = send_pli
        self.keyframes = KeyframeRequester(self._pli)
        self._is_keyframe = keyframe_detector(info.codec) if info.kind == "video" else None
        self._keyframe_ts: set[int] = set()
        self._sinks: list[_SinkEntry] = []
        self._frame_hook: Callable[[Callable[[JitterFrame], None] | None], None] | None = None
        self._ext_cache: dict[ExtKey, bytes] = {}
        # audio level: (time, dBov) of the latest packet carrying ssrc-audio-level
        self.level_dbov = 127
        self.level_at = 0.0
        self.closed = False
        self.created_at = time.monotonic()

    # -- publisher side -------------------------------------------------------------------------------

    def _pli(self) -> bool:
        if self.media_ssrc is None:
            return False
        return self._send_pli(self.media_ssrc)

    def on_packet(self, packet: RtpPacket) -> None:
        """One media packet from the publisher (RTX already unwrapped)."""
        t0 = time.perf_counter()
        now = time.monotonic()
        c = self.counters
        seq = packet.sequence_number
        payload = packet.payload
        c.packets += 1
        c.bytes += len(payload)
        if c.base_seq is None:
            c.base_seq = c.max_seq = seq
            self.media_ssrc = packet.ssrc
        elif seq_newer(seq, c.max_seq):
            if seq < c.max_seq:
                c.cycles += 0x10000
            c.max_seq = seq
        keyframe = False
        if self._is_keyframe is not None:
            keyframe = self._is_keyframe(payload)
            if keyframe:
                c.keyframes += 1
                self.keyframes.on_keyframe()
                if self._sinks:
                    self._keyframe_ts.add(packet.timestamp)
            cache = self._ext_cache
            cache.clear()
            ntp = ntp_now()
            for consumer in self.consumers:
                key = consumer.ext_key
                ext = cache.get(key)
                if ext is None:
                    ext = cache[key] = abs_send_time_extension(key[0], ntp) if key[0] else b""
                try:
                    consumer.forward(self, packet, keyframe, ext, ntp, now)
                except Exception:
                    self._consumer_failed(consumer)
        else:
            level = packet.extensions.audio_level
            cache = self._ext_cache
            cache.clear()
            if level is not None:
                self.level_dbov = level[1]
                self.level_at = now
            ntp = ntp_now()
            for consumer in self.consumers:
                key = consumer.ext_key
                ext = cache.get(key)
                if ext is None:
                    ext = cache[key] = audio_level_extension(key[1], level) if key[1] and level else b""
                try:
                    consumer.forward(self, packet, False, ext, ntp, now)
                except Exception:
                    self._consumer_failed(consumer)
        dt = time.perf_counter() - t0
        c.transit_sum += dt
        c.transit_count += 1
        if dt > c.transit_max:
            c.transit_max = dt

    def _consumer_failed(self, consumer: Consumer) -> None:
        """One broken subscriber must never stop the publisher's receive loop (and everyone's media)."""
        logger.exception("forwarding %s failed; pausing that consumer", self.info.track_id)
        consumer.paused = True

    @property
    def packets_lost(self) -> int:
        c = self.counters
        if c.base_seq is None:
            return 0
        expected = c.cycles + c.max_seq - c.base_seq + 1
        return max(0, expected - c.packets)

    # -- consumers ------------------------------------------------------------------------------------

    def add_consumer(self, consumer: Consumer) -> None:
        if consumer not in self.consumers:
            self.consumers.append(consumer)

    def remove_consumer(self, consumer: Consumer) -> None:
        if consumer in self.consumers:
            self.consumers.remove(consumer)

    # -- in-process sinks (the recorder) --------------------------------------------------------------

    def set_frame_hook(self, hook: Callable[[Callable[[JitterFrame], None] | None], None]) -> None:
        """How to switch frame assembly on or off (the transport's receive tap)."""
        self._frame_hook = hook
        if self._sinks:
            hook(self._on_frame)

    def attach_sink(self, sink: Sink) -> Callable[[], None]:
        entry = _SinkEntry(sink, waiting_keyframe=self.kind == "video")
        self._sinks.append(entry)
        if self._frame_hook is not None and len(self._sinks) == 1:
            self._frame_hook(self._on_frame)
        if self.kind == "video":
            self.keyframes.request()

        def detach() -> None:
            if entry in self._sinks:
                self._sinks.remove(entry)
                if not self._sinks and self._frame_hook is not None:
                    self._frame_hook(None)
                    self._keyframe_ts.clear()

        return detach

    def _on_frame(self, frame: JitterFrame) -> None:
        keyframe = frame.timestamp in self._keyframe_ts
        if keyframe:
            self._keyframe_ts.discard(frame.timestamp)
            if len(self._keyframe_ts) > 64:
                self._keyframe_ts.clear()
        encoded = EncodedFrame(
            track_id=self.info.track_id,
            kind=self.kind,  # type: ignore[arg-type]
            codec=self.info.codec if self.kind == "video" else "opus",
            data=frame.data,
            timestamp=frame.timestamp,
            clock_rate=self.info.clock_rate,
            keyframe=keyframe if self.kind == "video" else True,
            arrival=time.monotonic(),
        )
        for entry in list(self._sinks):
            if entry.waiting_keyframe:
                if not encoded.keyframe:
                    continue
                entry.waiting_keyframe = False
            try:
                entry.sink(encoded)
            except Exception:
                logger.exception("frame sink failed for track %s", self.info.track_id)

    def close(self) -> None:
        self.closed = True
        self.keyframes.close()
        for consumer in list(self.consumers):
            consumer.on_producer_closed(self)
        self.consumers.clear()
        self._sinks.clear()
