"""The SFU side of bandwidth-driven quality: what each subscriber connection reports (REMB, receiver-report
loss), what the tracks it receives cost, and applying a `media.quality` cap to its video consumers.

One `QualityAdapter` per Router, stepped once a second from the Router's ticker. Each subscriber
transport has a `SubscriberFeedback` that its RTCP handler fills; the adapter turns it into a
`Feedback`, the producers' measured rates into `Needs`, asks the transport's `QualityController`, and
applies the cap: a camera with a low twin switches to it (on its next keyframe, as any switch), `off`
holds every video consumer of the connection (audio is never held). A change is reported as a
`core.contracts.QualityChange`, which signaling sends to the subscriber as `quality.changed`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

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

from core.contracts import Quality, QualityChange
from media.quality import DEFAULT, Cap, Feedback, Needs, Policy, QualityController, lower

if TYPE_CHECKING:
    from media.aiortc_seams import RtcpHandler
    from media.consumer import Consumer
    from media.producer import Producer

logger = logging.getLogger(__name__)
ESTIMATE_FRESH_S = 3.0  # a REMB older than this says nothing about the link now
RATE_ALPHA = 0.5  # weight of the newest second in a producer's measured rate
_LAYERS: tuple[Cap, Cap] = ("high", "low")


class SubscriberFeedback:
    """REMB estimates and receiver-report loss of one subscriber connection, collected between steps.

    aiortc receivers send one REMB per video stream (its own SSRCs), browsers one for the whole
    connection: the estimate is the sum of the newest REMB of each distinct SSRC set."""

    __slots__ = ("_remb", "_loss", "rembs", "reports")

    def __init__(self) -> None:
        self._remb: dict[int, tuple[float, float]] = {}  # first SSRC of the REMB → (time, bits/s)
        self._loss: float | None = None
        self.rembs = 0
        self.reports = 0

    def on_remb(self, bitrate: int, ssrcs: list[int], now: float) -> None:
        self.rembs += 1
        self._remb[min(ssrcs) if ssrcs else 0] = (now, float(bitrate))

    def on_loss(self, fraction: float) -> None:
        self.reports += 1
        self._loss = fraction if self._loss is None else max(self._loss, fraction)

    def take(self, now: float) -> Feedback:
        fresh = [bps for at, bps in self._remb.values() if now - at <= ESTIMATE_FRESH_S]
        loss, self._loss = self._loss, None
        return Feedback(sum(fresh) if fresh else None, loss)


def subscriber_rtcp_handler(consumer: Consumer, feedback: SubscriberFeedback) -> RtcpHandler:
    """RTCP a subscriber sends about one forwarded track: NACKs, keyframe requests, REMB, receiver reports."""

    async def handle(packet: AnyRtcpPacket) -> bool:
        if isinstance(packet, RtcpRtpfbPacket):
            if packet.fmt == RTCP_RTPFB_NACK:
                consumer.on_nack(packet.lost)
            return True
        if isinstance(packet, RtcpPsfbPacket):
            if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                consumer.on_keyframe_request()
            elif packet.fmt == RTCP_PSFB_APP:
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
                    feedback.on_loss(report.fraction_lost / 256)
        return False

    return handle


@dataclass(slots=True)
class _Meter:
    at: float
    bytes: int
    bps: float | None = None


@dataclass(slots=True)
class _Subscriber:
    controller: QualityController
    sent: _Meter


Resolve = Callable[[str, Quality], "Producer | None"]


class _Slot(Protocol):
    @property
    def consumer(self) -> Consumer: ...
    @property
    def active(self) -> bool: ...


class SubscriberLink(Protocol):
    """What the adapter reads of a subscriber connection (media.transport's, without importing it back)."""

    @property
    def closed(self) -> bool: ...
    @property
    def slots(self) -> Mapping[str, _Slot]: ...
    @property
    def feedback(self) -> SubscriberFeedback: ...


class QualityAdapter:
    """Steps every subscriber connection of a room and applies the caps (see the module docstring)."""

    def __init__(self, resolve: Resolve, policy: Policy = DEFAULT) -> None:
        self._resolve = resolve  # (track id, "high"/"low") → the producer forwarded for it
        self.enabled = True  # False: forward what the plans ask whatever the network (the benchmark's baseline)
        self.policy = policy
        self._subscribers: dict[str, _Subscriber] = {}
        self._meters: dict[str, _Meter] = {}

    def limit(self, participant_id: str, quality: Quality) -> Quality:
        """The quality a plan may have now: `high` becomes `low` while the connection is capped low."""
        state = self._subscribers.get(participant_id)
        if state is None or quality not in ("high", "low"):
            return quality
        cap = state.controller.cap
        return "low" if cap != "high" else quality

    def held(self, participant_id: str) -> bool:
        state = self._subscribers.get(participant_id)
        return state is not None and state.controller.cap == "off"

    def forget(self, participant_id: str) -> None:
        self._subscribers.pop(participant_id, None)

    def step(
        self, now: float, producers: Mapping[str, Producer], subscribers: Mapping[str, SubscriberLink],
        plans: Mapping[str, Mapping[str, Quality]],
    ) -> list[tuple[str, QualityChange]]:
        """One step of every subscriber connection; the changes to tell (participant id, change)."""
        if not self.enabled:
            return []
        rates = self._measure(now, producers)
        changes: list[tuple[str, QualityChange]] = []
        for participant_id, transport in list(subscribers.items()):
            if transport.closed:
                self.forget(participant_id)
                continue
            change = self._step_one(now, participant_id, transport, plans.get(participant_id, {}), rates)
            if change is not None:
                changes.append((participant_id, change))
        for gone in set(self._subscribers) - set(subscribers):
            self.forget(gone)
        return changes

    def _measure(self, now: float, producers: Mapping[str, Producer]) -> dict[str, float]:
        rates: dict[str, float] = {}
        for track_id, producer in producers.items():
            total = producer.counters.bytes
            meter = self._meters.get(track_id)
            if meter is None:
                self._meters[track_id] = _Meter(now, total)
                continue
            if now - meter.at >= 0.2:
                bps = (total - meter.bytes) * 8 / (now - meter.at)
                meter.bps = bps if meter.bps is None else RATE_ALPHA * bps + (1 - RATE_ALPHA) * meter.bps
                meter.at, meter.bytes = now, total
            if meter.bps is not None:
                rates[track_id] = meter.bps
        for gone in set(self._meters) - set(producers):
            del self._meters[gone]
        return rates

    def _step_one(
        self, now: float, participant_id: str, transport: SubscriberLink, plan: Mapping[str, Quality],
        rates: dict[str, float],
    ) -> QualityChange | None:
        videos: list[tuple[Consumer, Cap]] = []  # (consumer, the plan's quality)
        audio = 0.0
        for track_id, slot in transport.slots.items():
            consumer = slot.consumer
            if not slot.active or consumer.closed:
                continue
            if consumer.kind == "audio":
                audio += rates.get(consumer.producer_id or "", 0.0)
            elif (wanted := plan.get(track_id, "off")) != "off":
                videos.append((consumer, wanted))
        sent_bytes = sum(slot.consumer.counters.bytes for slot in transport.slots.values())
        report = transport.feedback.take(now)
        state = self._subscribers.get(participant_id)
        if not videos:
            return None
        if state is None:
            state = self._subscribers[participant_id] = _Subscriber(
                QualityController(now, self.policy), _Meter(now, sent_bytes)
            )
            return None
        meter = state.sent
        sent_bps = (sent_bytes - meter.bytes) * 8 / (now - meter.at) if now > meter.at else None
        meter.at, meter.bytes = now, sent_bytes
        switching = any(consumer.switching for consumer, _ in videos)
        feedback = Feedback(report.estimate_bps, report.loss, sent_bps, switching)
        need: dict[Cap, float] = {"high": audio, "low": audio}
        top: Cap = "low"
        for consumer, wanted in videos:
            for layer in _LAYERS:
                producer = self._resolve(consumer.track_id, lower(wanted, layer))
                need[layer] += rates.get(producer.info.track_id, 0.0) if producer is not None else 0.0
            if wanted == "high" and self._has_twin(consumer.track_id):
                top = "high"
        decision = state.controller.step(now, feedback, Needs(need["high"], need["low"], audio), top)
        logger.debug("quality %s at %.2f: %s need=%s top=%s → %s %s", participant_id, now, feedback, need, top,
                     state.controller.cap, decision)
        cap = state.controller.cap
        for consumer, wanted in videos:
            self._apply(consumer, lower(wanted, cap))
        if decision is None:
            return None
        return QualityChange(
            layer=decision.cap, reason=decision.reason, tracks=tuple(c.track_id for c, _ in videos),
            estimate_bps=None if decision.estimate_bps is None else int(decision.estimate_bps), loss=feedback.loss,
        )

    def _has_twin(self, track_id: str) -> bool:
        high, low = self._resolve(track_id, "high"), self._resolve(track_id, "low")
        return high is not None and low is not None and high is not low

    def _apply(self, consumer: Consumer, quality: Cap) -> None:
        if quality == "off":
            consumer.hold()
            return
        producer = self._resolve(consumer.track_id, quality)
        if producer is not None:
            producer_id = producer.info.track_id
            if producer_id != (consumer.target_id or consumer.producer_id):
                consumer.switch(producer_id, quality)  # or cancels a pending switch away from it
        consumer.release()
