"""A Consumer forwards one Producer's packets to one subscriber connection.

Like mediasoup it rewrites SSRC, payload type, sequence number and timestamp per consumer, so it can
start on a keyframe (no delta frame before it), switch between a camera's high and low tracks on a
keyframe without a gap in sequence numbers, and answer the subscriber's NACKs from its own history (its
`RtxStream`, media.retransmission).

What it sends goes through its subscriber connection's `Pacer` (media.pacer): audio at once, video
paced to the line once the line has shown its capacity; the pacer tells it which packets it dropped.

It holds its producer's id, never the producer (mediasoup's `producerId`): which packets reach it is the
Router's fan-out, told of every change through `ConsumerListener.on_consumer_changed`, and a keyframe is
asked of the Router by producer id. A producer's end arrives as `producer_closed(id)` from the Router.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import random
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pylibsrtp
from aiortc.rtp import RtpPacket

from core.contracts import MediaKind
from media.aiortc_seams import RtpWriter
from media.lifecycle import Closable
from media.pacer import Pacer
from media.retransmission import MASK, RtxStream
from media.rtp import ExtKey, abs_send_time_extension, ntp_now, take_in_span

logger = logging.getLogger(__name__)
_pack = struct.Struct("!BBHII").pack
_TRANSIENT = (errno.EAGAIN, errno.ENOBUFS, errno.ECONNREFUSED, errno.EPERM)
GAPS_KEPT = 4096  # holes before the SFU remembered until a receiver report covers them


def _not_started(*args: Any) -> Any:
    raise RuntimeError("consumer used before its transport started")


PacedSender = Callable[[bytes, bytes, bytes, "Consumer | None"], int]


@dataclass(slots=True)
class ConsumerCounters:
    packets: int = 0
    frames: int = 0  # marker packets sent (a video frame's last packet): what a subscriber was sent, per second
    bytes: int = 0
    nacks: int = 0
    retransmitted: int = 0
    keyframe_requests: int = 0
    switches: int = 0
    dropped_waiting: int = 0
    send_errors: int = 0
    remote_lost: int = 0
    remote_fraction_lost: float = 0.0


class ConsumerListener(Protocol):
    """The Router, as a consumer sees it."""

    def on_consumer_changed(self, consumer: Consumer) -> None:
        """`producer_id`/`target_id` changed: fan out to exactly those producers from now on."""

    def on_consumer_closed(self, consumer: Consumer) -> None: ...

    def request_keyframe(self, producer_id: str) -> None: ...


class Consumer(Closable):
    __slots__ = (
        "track_id", "kind", "producer_id", "target_id", "writer", "ssrc", "rtx", "payload_type",
        "ext_key", "quality", "counters", "_waiting", "_seq_off", "_ts_off", "_start_seq", "_last_seq",
        "_last_ts", "_last_at", "last_ntp", "clock_rate", "paused", "_send", "_listener", "held", "pacer",
        "keyframe_ts", "began", "_gaps",
    )
    what = "consumer"

    def __init__(
        self, track_id: str, kind: MediaKind, producer_id: str, clock_rate: int, listener: ConsumerListener
    ) -> None:
        super().__init__()
        self.track_id = track_id  # the main (high) track id the subscriber knows
        self.kind = kind
        self.producer_id: str | None = producer_id  # the producer forwarded now
        self.target_id: str | None = None  # the producer we switch to at its next keyframe
        self._listener = listener
        self.writer: RtpWriter | None = None
        self.ssrc = 0
        self.rtx: RtxStream | None = None  # video with RTX negotiated: the history NACKs are answered from
        self.payload_type = 0
        self.ext_key: ExtKey = (0, 0)
        self.quality = "high"
        self.counters = ConsumerCounters()
        self.clock_rate = clock_rate
        self._waiting = True
        self._seq_off = 0
        self._ts_off = 0
        self._start_seq = 0
        self._last_seq: int | None = None
        self._last_ts = 0
        self._last_at = 0.0
        self.last_ntp = 0
        self._send: PacedSender = _not_started
        self.pacer: Pacer | None = None
        self.keyframe_ts = -1  # outgoing RTP timestamp of the newest keyframe sent (the pacer never drops it)
        self.began: tuple[float, int] | None = None  # (when, bytes sent before) the stream (re)started on a keyframe
        self.paused = True  # until the subscriber connection's sender is started
        self.held = False  # bandwidth-driven quality paused this video (media.bandwidth): `release` resumes
        self._gaps: deque[int] = deque(maxlen=GAPS_KEPT)  # our sequence numbers of packets lost before the SFU

    def start(
        self, writer: RtpWriter, pacer: Pacer, ssrc: int, rtx_ssrc: int, pt: int, rtx_pt: int | None, ext_key: ExtKey
    ) -> None:
        """The subscriber connection is up: begin forwarding (video from the next keyframe) through the
        connection's pacer (audio ahead of video)."""
        self.check_open("start")
        self.writer = writer
        self.pacer = pacer
        pacer.attach(self)  # sets `_send`
        self.ssrc = ssrc
        if self.kind == "video" and rtx_pt is not None:
            if self.rtx is None or (self.rtx.ssrc, self.rtx.payload_type) != (rtx_ssrc, rtx_pt):
                self.rtx = RtxStream(rtx_ssrc, rtx_pt)
        self.payload_type = pt
        self.ext_key = ext_key
        self.paused = self.held
        self._waiting = True
        if self.kind == "video":
            self.request_keyframe()

    def request_keyframe(self) -> None:
        producer_id = self.target_id or self.producer_id
        if producer_id is not None and self.state == "open":
            self._listener.request_keyframe(producer_id)

    # -- hot path -------------------------------------------------------------------------------------

    def forward(self, producer_id: str, packet: RtpPacket, keyframe: bool, ext: bytes, ntp: int, now: float) -> None:
        """Rewrite and send one packet. The per-subscriber cost of the SFU: keep it lean."""
        if self.paused:
            return
        in_seq = packet.sequence_number
        if producer_id != self.producer_id:
            if producer_id != self.target_id or not keyframe:
                return
            self._switch_to(producer_id, packet, now)
        elif self._waiting:
            if not keyframe and self.kind == "video":
                self.counters.dropped_waiting += 1
                return
            self._begin(packet, now)
        elif ((in_seq - self._start_seq) & 0xFFFF) >= 0x8000:
            return  # older than where this consumer started: the subscriber never expected it
        seq = (in_seq + self._seq_off) & 0xFFFF
        ts = (packet.timestamp + self._ts_off) & 0xFFFFFFFF
        if keyframe:
            self.keyframe_ts = ts
        try:
            sent = self._send(
                _pack(0x90 if ext else 0x80, (packet.marker << 7) | self.payload_type, seq, ts, self.ssrc),
                ext,
                packet.payload,
                self,
            )
        except pylibsrtp.Error:
            return
        except OSError as e:  # full buffers (EAGAIN, ENOBUFS) drop the packet like any UDP loss
            if self.writer is None or self.writer.closed:  # …but a closed socket ends this consumer
                self._transport_failed()
                return
            self.counters.send_errors += 1
            if e.errno not in _TRANSIENT:
                logger.debug("send to subscriber failed: %s", e)
            sent = 0
        except Exception:  # the subscriber's transport is gone (closed or failed connection)
            self._transport_failed()
            return
        rtx = self.rtx
        if rtx is not None:
            slot = seq & MASK
            rtx.packets[slot] = packet  # shared with the other consumers: no copy per subscriber
            rtx.timestamps[slot] = ts
        last = self._last_seq
        if last is None or ((seq - last) & 0xFFFF) < 0x8000:
            self._last_seq = seq
            self._last_ts = ts
            self._last_at = now
            self.last_ntp = ntp
        c = self.counters
        c.packets += 1
        c.frames += packet.marker
        c.bytes += sent

    def _transport_failed(self) -> None:
        logger.info("consumer of %s: subscriber transport gone, pausing", self.track_id)
        self.paused = True

    def pause(self) -> None:
        """Stop sending (a failed connection or a failed forward) until `unpause`."""
        self.paused = True

    def _begin(self, packet: RtpPacket, now: float) -> None:
        """First keyframe: continue our own sequence if we forwarded before, else start fresh."""
        self._waiting = False
        self.began = (now, self.counters.bytes)  # the receiver's rates count from here (media.onset)
        self._align(packet, now)

    def _switch_to(self, producer_id: str, packet: RtpPacket, now: float) -> None:
        if self.pacer is not None:
            self.pacer.flush(self)  # the old layer's waiting packets would only delay the new keyframe
        self.producer_id = producer_id
        self.target_id = None
        self._waiting = False
        self.counters.switches += 1
        self._align(packet, now)
        self._listener.on_consumer_changed(self)  # the old producer stops fanning out to us

    def _align(self, packet: RtpPacket, now: float) -> None:
        self._start_seq = packet.sequence_number
        if self._last_seq is None:
            out_seq = random.randint(0, 0x7FFF)
            out_ts = random.randint(0, 0xFFFFFFFF)
        else:
            out_seq = (self._last_seq + 1) & 0xFFFF
            elapsed = max(now - self._last_at, 1 / 90)
            out_ts = (self._last_ts + max(1, int(elapsed * self.clock_rate))) & 0xFFFFFFFF
        self._seq_off = (out_seq - packet.sequence_number) & 0xFFFF
        self._ts_off = (out_ts - packet.timestamp) & 0xFFFFFFFF

    # -- control --------------------------------------------------------------------------------------

    def switch(self, producer_id: str, quality: str) -> None:
        """Move to another version of the track (high/low); takes effect on its next keyframe."""
        self.check_open("switch")
        self.quality = quality
        if producer_id == self.producer_id:
            self.target_id = None
        elif self.producer_id is None:  # what we forwarded is gone: start on the new one's next keyframe
            self.producer_id = producer_id
            self.target_id = None
            self._waiting = True
            if not self.paused:
                self.request_keyframe()
        else:
            self.target_id = producer_id
            if not self.paused:
                self._listener.request_keyframe(producer_id)
        self._listener.on_consumer_changed(self)

    def suspend(self) -> None:
        """The subscriber no longer receives this track (its transceiver goes inactive)."""
        self.check_open("suspend")
        self.paused = True
        self.producer_id = self.target_id = None
        self._listener.on_consumer_changed(self)

    def resume(self, producer_id: str, quality: str) -> None:
        """Receive again, continuing this consumer's sequence numbers; forwarding restarts (from a
        keyframe) in `unpause`, once the subscriber has accepted the renegotiation that re-enables it."""
        self.check_open("resume")
        self.producer_id = producer_id
        self.target_id = None
        self.quality = quality
        self._waiting = True
        self._listener.on_consumer_changed(self)

    @property
    def switching(self) -> bool:
        """Waiting for the keyframe that starts the new version (a switch, a release, a start)."""
        return not self.paused and (self.target_id is not None or self._waiting)

    def hold(self) -> None:
        """The subscriber's link cannot carry this video now: stop sending it (the m-line stays as it is)."""
        if not self.held:
            self.held = True
            self.paused = True

    def release(self) -> None:
        """End a `hold`: forwarding restarts from the next keyframe."""
        if self.held:
            self.held = False
            self.unpause()

    def unpause(self) -> None:
        if self.paused and not self.held and self.state == "open" and self.writer is not None and self.producer_id is not None:
            self._waiting = True
            self.paused = False
            self.request_keyframe()

    def on_nack(self, lost: list[int]) -> None:
        self.counters.nacks += len(lost)
        if self.writer is None or self.rtx is None:
            return
        for header, osn, payload in self.rtx.repairs(lost, self._seq_off, time.monotonic()):
            try:
                self._send(header, osn, payload, None)
            except (pylibsrtp.Error, OSError):
                continue
            self.counters.retransmitted += 1

    def on_upstream_gap(self, producer_id: str, first: int, count: int) -> None:
        """`count` packets from `first` (the producer's sequence numbers) never reached the SFU: in our own
        numbering they are holes the subscriber will report lost (see `upstream_lost_in`)."""
        if producer_id != self.producer_id or self._waiting or self.paused:
            return
        off = self._seq_off
        self._gaps.extend((first + i + off) & 0xFFFF for i in range(count))

    def on_upstream_fill(self, producer_id: str, seq: int) -> None:
        """A packet reported missing arrived late and was forwarded: not a hole after all."""
        if producer_id == self.producer_id and self._gaps:
            with contextlib.suppress(ValueError):
                self._gaps.remove((seq + self._seq_off) & 0xFFFF)

    def line_lost(self, lost: list[int]) -> list[int]:
        """The NACKed sequence numbers the subscriber's line lost: those the SFU did send (its RTX history holds
        them). A subscriber NACKs a hole before the SFU as any other, again and again until it is too old (an SFU
        that cannot keep up with its publisher drops there, and each of its subscribers NACKs the same holes:
        none of them is a line too slow). Without a history, the holes the producer told of that no receiver
        report has covered yet."""
        if self.rtx is not None:
            return self.rtx.sent(lost, self._seq_off)
        gaps = self._gaps
        if not gaps:
            return lost
        upstream = set(gaps)
        return [seq for seq in lost if seq not in upstream]

    def upstream_lost_in(self, after: int, upto: int) -> int:
        """Packets lost before the SFU with our sequence numbers in (after, upto]: a receiver report's loss
        over that span includes them, and the subscriber's line did not lose them (media.feedback)."""
        return take_in_span(self._gaps, after, upto)

    def use_sender(self, send: PacedSender) -> None:
        """What `forward` sends with, set by the connection's pacer: the line itself, or the pacer."""
        self._send = send

    def on_paced_drop(self, seq: int) -> None:
        """The pacer dropped this sequence number (the line is short): a NACK for it must not bring it
        back, and the frames after it need a keyframe."""
        if self.rtx is not None:
            self.rtx.forget(seq, self._seq_off)
        self.request_keyframe()

    def padding_packet(self) -> tuple[bytes, bytes, bytes] | None:
        """A padding-only packet on this video's RTX stream, for a probe (RFC 4588 streams may carry
        padding; receivers count it toward their estimate and discard it). None without RTX."""
        if self.rtx is None or self.writer is None:
            return None
        abs_id = self.ext_key[0]
        return self.rtx.padding(abs_send_time_extension(abs_id, ntp_now()) if abs_id else b"", self._last_ts)

    def on_keyframe_request(self) -> None:
        self.counters.keyframe_requests += 1
        self.request_keyframe()

    def on_receiver_report(self, lost: int, fraction: int) -> None:
        self.counters.remote_lost = lost
        self.counters.remote_fraction_lost = fraction / 256

    def sender_report(self) -> tuple[int, int, int, int] | None:
        """(NTP time, RTP timestamp, packets, bytes) of the newest packet sent, for an RTCP sender report."""
        if not self.last_ntp:
            return None
        return self.last_ntp, self._last_ts, self.counters.packets, self.counters.bytes

    def producer_closed(self, producer_id: str) -> None:
        """The Router's notice that a producer we forward, or were switching to, is gone."""
        if producer_id == self.target_id:
            self.target_id = None
        if producer_id == self.producer_id:
            self.producer_id = None
            self._waiting = True

    def close(self) -> None:
        if not self._begin_close():
            return
        self.paused = True
        self.producer_id = self.target_id = None
        if self.pacer is not None:
            self.pacer.detach(self)
        self.rtx = None
        self._listener.on_consumer_closed(self)

    def transport_closed(self) -> None:
        """The subscriber transport (its parent) closed: the same ending, told by the parent."""
        self.close()
