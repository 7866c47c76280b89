"""A Producer is one track the SFU receives from a publisher; it hands each packet to the consumers the
Router lists for it.

The hot path (`on_packet`) runs synchronously inside the publisher transport's receive task: no queue,
no task wake-up per packet. Work done once per received packet (keyframe detection, the header extension
block, timing) is shared by all consumers. The fan-out list belongs to the Router (as in mediasoup): the
producer only iterates it and never touches a consumer's state; a consumer that fails or a producer that
closes is reported to the Router, which decides what happens to whom.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket

from core.contracts import EncodedFrame, FrameSink, Layer, MediaKind, Source
from media.keyframes import KeyframeRequester
from media.lifecycle import Closable
from media.rtp import (
    ExtKey,
    abs_send_time_extension,
    audio_level_extension,
    keyframe_detector,
    ntp_now,
    seq_newer,
)

logger = logging.getLogger(__name__)

Sink = FrameSink
GAP_TOLD = 512  # a larger jump in the publisher's sequence numbers is a restart, not packets lost on its line

_sink_ids = itertools.count(1)


class Forwarder(Protocol):
    """What a producer hands packets to (a Consumer); declared here so this module imports no consumer."""

    @property
    def ext_key(self) -> ExtKey: ...

    def forward(
        self, producer_id: str, packet: RtpPacket, keyframe: bool, ext: bytes, ntp: int, now: float
    ) -> None: ...

    def on_upstream_gap(self, producer_id: str, first: int, count: int) -> None: ...

    def on_upstream_fill(self, producer_id: str, seq: int) -> None: ...


class ProducerListener(Protocol):
    """The Router, as a producer sees it: the fan-out list it owns and the notices it acts on."""

    def fanout(self, producer_id: str) -> list[Forwarder]: ...

    def on_forward_failed(self, producer_id: str, forwarder: Forwarder) -> None: ...

    def on_producer_closed(self, producer: Producer) -> None: ...


@dataclass(slots=True)
class ProducerCounters:
    packets: int = 0
    frames: int = 0  # marker packets received (a video frame's last packet)
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


@dataclass(slots=True, frozen=True)
class ProducerInfo:
    """What a producer is: its id, whose it is, and the negotiated codec (all typed as the seam types them)."""

    track_id: str
    participant_id: str
    kind: MediaKind
    source: Source
    quality: Layer
    codec: str
    clock_rate: int


class SinkSubscription:
    """A frame sink attached to a producer: an id and `close()` (a `core.contracts.SinkHandle`).
    Closing twice, or after the producer closed, does nothing."""

    __slots__ = ("id", "track_id", "_producer")

    def __init__(self, sink_id: str, producer: Producer) -> None:
        self.id = sink_id
        self.track_id = producer.info.track_id
        self._producer: Producer | None = producer

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.detach_sink(self.id)


class Producer(Closable):
    what = "producer"

    def __init__(self, info: ProducerInfo, send_pli: Callable[[int], bool], listener: ProducerListener) -> None:
        super().__init__()
        self.info = info
        self.kind: MediaKind = info.kind
        self._listener = listener
        self.consumers: list[Forwarder] = listener.fanout(info.track_id)  # the Router's list: read only here
        self.counters = ProducerCounters()
        self.media_ssrc: int | None = None
        self._send_pli = send_pli
        self.keyframes = KeyframeRequester(self._pli)
        self._is_keyframe = keyframe_detector(info.codec) if info.kind == "video" else None
        self._keyframe_ts: set[int] = set()
        self._sinks: dict[str, _SinkEntry] = {}
        self._frame_hook: Callable[[Callable[[JitterFrame], None] | None], None] | None = None
        self._ext_cache: dict[ExtKey, bytes] = {}
        # audio level: (time, dBov) of the latest packet carrying ssrc-audio-level
        self.level_dbov = 127
        self.level_at = 0.0
        self.created_at = time.monotonic()

    # -- publisher side -------------------------------------------------------------------------------

    def _pli(self) -> bool:
        if self.media_ssrc is None:
            return False
        return self._send_pli(self.media_ssrc)

    def on_packet(self, packet: RtpPacket) -> None:
        """One media packet from the publisher (RTX already unwrapped)."""
        if self.state == "closed":
            return
        t0 = time.perf_counter()
        track_id = self.info.track_id
        now = time.monotonic()
        c = self.counters
        seq = packet.sequence_number
        payload = packet.payload
        c.packets += 1
        c.frames += packet.marker
        c.bytes += len(payload)
        if c.base_seq is None:
            c.base_seq = c.max_seq = seq
            self.media_ssrc = packet.ssrc
        elif seq_newer(seq, c.max_seq):
            if seq < c.max_seq:
                c.cycles += 0x10000
            gap = (seq - c.max_seq - 1) & 0xFFFF
            c.max_seq = seq
            if 0 < gap <= GAP_TOLD:
                self._tell(lambda f: f.on_upstream_gap(track_id, (seq - gap) & 0xFFFF, gap))
        elif seq != c.max_seq:  # late: it fills a hole told of, or repeats a packet
            self._tell(lambda f: f.on_upstream_fill(track_id, seq))
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
                    consumer.forward(track_id, packet, keyframe, ext, ntp, now)
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
                    consumer.forward(track_id, packet, False, ext, ntp, now)
                except Exception:
                    self._consumer_failed(consumer)
        dt = time.perf_counter() - t0
        c.transit_sum += dt
        c.transit_count += 1
        if dt > c.transit_max:
            c.transit_max = dt

    def _tell(self, call: Callable[[Forwarder], None]) -> None:
        """Tell every consumer of a hole in what the publisher's line delivered (rare: not per packet). The
        subscribers' receiver reports count such packets lost; their own lines did not lose them."""
        for consumer in self.consumers:
            try:
                call(consumer)
            except Exception:
                self._consumer_failed(consumer)

    def _consumer_failed(self, consumer: Forwarder) -> None:
        """One broken subscriber must never stop the publisher's receive loop (and everyone's media): the
        Router hears of it and pauses that consumer."""
        logger.exception("forwarding %s failed", self.info.track_id)
        self._listener.on_forward_failed(self.info.track_id, consumer)

    @property
    def packets_lost(self) -> int:
        c = self.counters
        if c.base_seq is None:
            return 0
        expected = c.cycles + c.max_seq - c.base_seq + 1
        return max(0, expected - c.packets)

    # -- in-process sinks (the recorder) --------------------------------------------------------------

    def set_frame_hook(self, hook: Callable[[Callable[[JitterFrame], None] | None], None]) -> None:
        """How to switch frame assembly on or off (the transport's receive tap)."""
        self._frame_hook = hook
        if self._sinks:
            hook(self._on_frame)

    def attach_sink(self, sink: Sink) -> SinkSubscription:
        """Frames from the next keyframe on (one is requested now), until the returned handle is closed."""
        self.check_open("attach_sink")
        handle = SinkSubscription(f"sink-{next(_sink_ids)}", self)
        self._sinks[handle.id] = _SinkEntry(sink, waiting_keyframe=self.kind == "video")
        if self._frame_hook is not None and len(self._sinks) == 1:
            self._frame_hook(self._on_frame)
        if self.kind == "video":
            self.keyframes.request()
        return handle

    def detach_sink(self, sink_id: str) -> None:
        if self._sinks.pop(sink_id, None) is not None and not self._sinks:
            if self._frame_hook is not None:
                self._frame_hook(None)
            self._keyframe_ts.clear()

    def _on_frame(self, frame: JitterFrame) -> None:
        keyframe = frame.timestamp in self._keyframe_ts
        if keyframe:
            self._keyframe_ts.discard(frame.timestamp)
            if len(self._keyframe_ts) > 64:
                self._keyframe_ts.clear()
        encoded = EncodedFrame(
            track_id=self.info.track_id,
            kind=self.kind,
            codec=self.info.codec if self.kind == "video" else "opus",
            data=frame.data,
            timestamp=frame.timestamp,
            clock_rate=self.info.clock_rate,
            keyframe=keyframe if self.kind == "video" else True,
            arrival=time.monotonic(),
        )
        for entry in list(self._sinks.values()):
            if entry.waiting_keyframe:
                if not encoded.keyframe:
                    continue
                entry.waiting_keyframe = False
            try:
                entry.sink(encoded)
            except Exception:
                logger.exception("frame sink failed for track %s", self.info.track_id)

    def close(self) -> None:
        """Stop receiving this track; the Router drops it and tells its consumers."""
        if not self._begin_close():
            return
        self.keyframes.close()
        if self._sinks and self._frame_hook is not None:
            self._frame_hook(None)
        self._sinks.clear()
        self._keyframe_ts.clear()
        self._listener.on_producer_closed(self)

    def transport_closed(self) -> None:
        """The publisher transport closed (its parent): the same ending, told by the parent."""
        self.close()
