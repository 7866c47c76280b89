"""What one subscriber connection reports about its line, collected for bandwidth-driven quality: REMB
estimates, receiver-report loss, NACKs, and the onset of a slower line (media.onset), at which its pacer is
set at once. `subscriber_rtcp_handler` feeds it from the RTCP of each forwarded track; media.bandwidth's
QualityAdapter takes what it collected once a step.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    unpack_remb_fci,
)

from media.onset import OnsetDetector
from media.pacer import Pacer
from media.probe import PaddingProbe
from media.quality import REMB_BETA, Feedback

if TYPE_CHECKING:
    from media.aiortc_seams import RtcpHandler
    from media.consumer import Consumer

logger = logging.getLogger(__name__)
ESTIMATE_FRESH_S = 3.0  # a REMB older than this says nothing about the link now
ONSET_PACE = 0.6  # at an onset (media.onset) the line is paced at once at this × its REMB: well below what it
# carries (the REMB still counts the second before the drop), so that its queue drains while the layer switch waits


LATE_S = 0.75  # the room's ticker comes every 0.25 s (media.router): a gap this long is a worker whose loop starved
RECOVER_S = 1.5  # …and its readings describe the stall this long after: a receiver's rates are over its last second,
# and the backlog the loop sent at once when it came back is its own burst, not the line's


class LoopWatch:
    """When the worker's own loop last starved (a busy machine gave it no CPU): what a subscriber reports
    about that time (a low delivered rate, a REMB in overuse behind the burst that followed) is about the
    SFU, not the line. libwebrtc's pacer and LiveKit's stream allocator act only on feedback about what
    they did send; a worker that could not send has nothing to learn from it. `tick` is called with every
    tick of the room's ticker (media.bandwidth.QualityAdapter)."""

    __slots__ = ("_tick_at", "_from", "_until")

    def __init__(self) -> None:
        self._tick_at: float | None = None
        self._from = self._until = -1e9  # the last stall, and how long its readings are not the line's

    def tick(self, now: float) -> None:
        if self._tick_at is not None and now - self._tick_at > LATE_S:
            self._from, self._until = self._tick_at, now + RECOVER_S
            logger.debug("loop starved %.2f s at %.2f", now - self._tick_at, now)
        self._tick_at = now

    def starved(self, now: float, since: float | None = None) -> bool:
        """Whether readings taken over (`since`, `now`] cover a stall: one seen, or one going on (the ticker
        is late now: this is the backlog the loop handles before the ticker's turn comes)."""
        if self._tick_at is not None and now - self._tick_at > LATE_S:
            return True
        return (since if since is not None else now) < self._until and now > self._from


class SubscriberFeedback:
    """REMB estimates, receiver-report loss and NACKs of one subscriber connection, collected between steps,
    and handed at once to a padding probe while one runs (it must stop at the first sign of a full line).

    aiortc receivers send one REMB per video stream (its own SSRCs), browsers one for the whole
    connection: the estimate is the sum of the newest REMB of each distinct set of media SSRCs (an RTX
    SSRC joins a REMB's list once probe padding arrives on it, and must not make it a new set).

    Each REMB also goes to an `OnsetDetector` with what was sent to its streams: at an onset (the line's queue
    grows, nothing lost yet) the connection's pacer is set at once below the REMB, and the next step is
    told the line is full (`onset`, `Feedback.full`)."""

    __slots__ = (
        "_remb", "_loss", "_video_loss", "rembs", "reports", "rtx_ssrcs", "probe", "_rr", "_received", "_nacked",
        "urgent", "onset", "_pacer", "_consumers", "_onsets",
        "adaptive", "_last_remb", "loop",
    )

    def __init__(self, pacer: Pacer | None = None) -> None:
        self._remb: dict[int, tuple[float, float]] = {}  # first media SSRC of the REMB → (time, bits/s)
        self._loss: float | None = None  # worst audio loss since the last step
        self._video_loss: float | None = None
        self.rembs = 0
        self.reports = 0
        self.rtx_ssrcs: set[int] = set()
        self.probe: PaddingProbe | None = None
        self._rr: dict[int, tuple[float, int, int, int, int]] = {}  # SSRC → (time, highest sequence, cumulative
        # lost, bytes and packets sent)
        self._received: dict[int, tuple[float, float, float]] = {}  # SSRC → (time, bits/s received between its
        # reports, bits/s the SFU put on the line meanwhile)
        self._nacked: set[tuple[int, int]] = set()  # (SSRC, sequence number) NACKed since the last step
        self.urgent = False  # NACKs came since the last step: on a line not yet paced, step now (QualityAdapter)
        self.onset = False  # a REMB onset since the last step (media.onset): step now, the line is full
        self.adaptive = True  # False: the room forwards whatever the network (QualityAdapter.enabled), no onset pacing
        self._pacer = pacer
        self._consumers: list[Consumer] = []  # the connection's, for what was sent to the streams of a REMB
        self._onsets: dict[int, OnsetDetector] = {}
        self._last_remb: RtcpPsfbPacket | None = None
        self.loop: LoopWatch | None = None  # the worker's (set by media.bandwidth): no onset from a stall's REMBs

    def first_time(self, remb: RtcpPsfbPacket) -> bool:
        """Whether this REMB packet is new. aiortc hands a REMB to the sender of every SSRC it lists, and a
        browser's lists all of the connection's video: each consumer's handler gets the same packet object,
        which must count once (once more would be a second REMB at the same instant to the onset detector)."""
        if remb is self._last_remb:
            return False
        self._last_remb = remb
        return True

    def on_remb(self, bitrate: int, ssrcs: list[int], now: float) -> None:
        self.rembs += 1
        media = [s for s in ssrcs if s not in self.rtx_ssrcs]
        key = min(media) if media else 0
        previous = self._remb.get(key)
        self._remb[key] = (now, float(bitrate))
        if self.probe is not None:
            self.probe.on_remb(float(bitrate), previous[1] if previous else None)
        pacer = self._pacer
        if pacer is None or not pacer.started or pacer.closed or not self.adaptive:
            return
        if pacer.rate is not None and (pacer.rate * REMB_BETA <= bitrate or pacer.backlog):
            return  # a line paced below what its receiver gets is already below its capacity (and while video waits
            # in the pacer, what consumers count is not what left) — but one paced above it is not: a loss report
            # under 5 % at a 600 kbps line's start had it paced at 1.7 Mbps (2 × the high layer's need), its REMBs
            # fell to 0.49 × sent unheeded, and its queue dropped 0.8 s of audio before the next report
        if self.loop is not None and self.loop.starved(now):
            return  # the receiver's last second had the stall's silence, then its burst: overuse the SFU caused
        streams = [c for c in self._consumers if c.kind == "video" and c.ssrc in media and not c.closed]
        if not streams:
            return
        detector = self._onsets.get(key)
        if detector is None:
            detector = self._onsets[key] = OnsetDetector()
        began = streams[0].began if len(streams) == 1 else None
        sent_bytes = sum(c.counters.bytes for c in streams)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("REMB %d of %s at %.3f, sent %s since %s", bitrate, key, now, detector.sent_bps(now), began)
        if detector.on_remb(now, float(bitrate), sent_bytes, began) and not self.onset:
            self.onset = True
            estimate = sum(bps for at, bps in self._remb.values() if now - at <= ESTIMATE_FRESH_S)
            rate = estimate * ONSET_PACE
            logger.debug("onset: REMB %d of %s (%s): pacing at %.0f", bitrate, key, detector.why, rate)
            pacer.set_rate(rate)  # the layer switch waits for a keyframe: the queue must not grow meanwhile

    def watch(self, consumer: Consumer) -> None:
        """A consumer of this connection: its bytes count toward what its REMBs are compared with."""
        self._consumers.append(consumer)

    def on_loss(self, fraction: float, kind: str) -> None:
        """A receiver report's fraction lost on the line. The audio's counts when it reported (the pacer never
        drops audio); the video's, from which `on_report` takes the pacer's own drops, only without it."""
        self.reports += 1
        if kind == "audio":
            self._loss = fraction if self._loss is None else max(self._loss, fraction)
        else:
            self._video_loss = fraction if self._video_loss is None else max(self._video_loss, fraction)
        if self.probe is not None:
            self.probe.on_loss(fraction)

    def on_report(
        self, kind: str, ssrc: int, highest: int, lost: int, fraction: float, sent: tuple[int, int], now: float
    ) -> None:
        """A receiver report block about one forwarded stream; `sent`: (bytes, packets) the SFU has sent it so far.
        What the receiver got between two of its reports (packets received × the mean size of those sent
        meanwhile, over the time between them) is measured on its side of the line, so it is the line's rate
        when the line is full — unlike what was sent in the last second, it does not depend on how the
        publisher's bursts fell against the reports. What the SFU put on the line over the same time goes
        with it: a line that delivered about all of that was not full, whatever its rate."""
        previous = self._rr.get(ssrc)
        self._rr[ssrc] = (now, highest, lost, *sent)
        if previous is None:
            self.on_loss(fraction, kind)
            return
        if self.loop is not None and self.loop.starved(now, previous[0]):
            self.reports += 1  # about the worker's stall (what it did not send, then its burst), not the line
            self._received.pop(ssrc, None)
            return
        expected = highest - previous[1]
        paced = self._paced(ssrc, previous[1], highest)
        upstream = self._upstream(ssrc, previous[1], highest)
        if now - previous[0] >= 0.2:
            got = expected - (lost - previous[2])
            packets, nbytes = sent[1] - previous[4], sent[0] - previous[3]
            size = nbytes / packets if packets > 0 else sent[0] / sent[1] if sent[1] else 0.0
            if 0 <= got < 0x8000:
                span = now - previous[0]
                self._received[ssrc] = (now, got * size * 8 / span, max(0.0, nbytes - paced * size) * 8 / span)
        if (paced or upstream) and 0 < expected < 0x8000:
            # The pacer's own drops and the packets the publisher's line lost: the receiver counts them lost, its
            # line did not lose them (the pacer's, read as the line's loss, stepped a 600 kbps line from its low
            # layer to a pause; a worker's own receive drops under overload paused every counting subscriber).
            fraction = max(0, lost - previous[2] - paced - upstream) / expected
        self.on_loss(fraction, kind)

    def _paced(self, ssrc: int, after: int, highest: int) -> int:
        """Packets this connection's pacer dropped itself (a short line's excess, a switch's old layer) between
        two reports' highest sequence numbers."""
        if self._pacer is None or not 0 < highest - after < 0x8000:
            return 0
        return self._pacer.dropped_in(ssrc, after & 0xFFFF, highest & 0xFFFF)

    def _upstream(self, ssrc: int, after: int, highest: int) -> int:
        """Packets lost before the SFU among those the stream `ssrc` numbered between two reports."""
        if not 0 < highest - after < 0x8000:
            return 0
        return sum(c.upstream_lost_in(after & 0xFFFF, highest & 0xFFFF) for c in self._consumers if c.ssrc == ssrc)

    def on_nack(self, ssrc: int, lost: list[int]) -> None:
        self._nacked.update((ssrc, seq) for seq in lost)  # a receiver NACKs a hole again until it is filled
        self.urgent = True
        if self.probe is not None:
            self.probe.on_nack(len(lost))

    def take_nacked(self) -> int:
        """Distinct packets NACKed since the last call."""
        n = len(self._nacked)
        self._nacked.clear()
        self.urgent = False
        return n

    def take(self, now: float) -> Feedback:
        fresh = [bps for at, bps in self._remb.values() if now - at <= ESTIMATE_FRESH_S]
        loss = self._loss if self._loss is not None else self._video_loss
        self._loss = self._video_loss = None
        full, self.onset = self.onset, False
        received = [(bps, sent) for at, bps, sent in self._received.values() if now - at <= ESTIMATE_FRESH_S]
        if len(received) < len(self._rr) or not received:  # a stream with one report so far: the sum would leave it out
            return Feedback(sum(fresh) if fresh else None, loss, full=full)
        return Feedback(
            sum(fresh) if fresh else None, loss, received_bps=sum(bps for bps, _ in received), full=full,
            offered_bps=sum(sent for _, sent in received),
        )


def subscriber_rtcp_handler(consumer: Consumer, feedback: SubscriberFeedback) -> RtcpHandler:
    """RTCP a subscriber sends about one forwarded track: NACKs, keyframe requests, REMB, receiver reports."""
    feedback.watch(consumer)

    async def handle(packet: AnyRtcpPacket) -> bool:
        if isinstance(packet, RtcpRtpfbPacket):
            if packet.fmt == RTCP_RTPFB_NACK:
                consumer.on_nack(packet.lost)
                lost = consumer.line_lost(packet.lost)
                if lost:
                    feedback.on_nack(consumer.ssrc, lost)
            return True
        if isinstance(packet, RtcpPsfbPacket):
            if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                consumer.on_keyframe_request()
            elif packet.fmt == RTCP_PSFB_APP and feedback.first_time(packet):
                try:
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                except ValueError:
                    return True
                feedback.on_remb(bitrate, ssrcs, time.monotonic())
            return True  # forwarding never adapts the publisher's own bitrate
        if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            for report in packet.reports:
                if report.ssrc == consumer.ssrc:
                    consumer.on_receiver_report(report.packets_lost, report.fraction_lost)
                    c = consumer.counters
                    feedback.on_report(
                        consumer.kind, report.ssrc, report.highest_sequence, report.packets_lost,
                        report.fraction_lost / 256, (c.bytes, c.packets), time.monotonic(),
                    )
        return False

    return handle
