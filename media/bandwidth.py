"""The SFU side of bandwidth-driven quality: what each subscriber connection reports (REMB, receiver-report
loss), what the tracks it receives cost, and applying a `media.quality` cap to its video consumers.

One `QualityAdapter` per Router, stepped once a second from the Router's ticker. Each subscriber
transport has a `SubscriberFeedback` (media.feedback) that its RTCP handler fills; the adapter turns it into a
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
from typing import TYPE_CHECKING, Literal, Protocol

from core.contracts import Quality, QualityChange
from media.feedback import LoopWatch, SubscriberFeedback
from media.pacer import Pacer
from media.probe import PaddingProbe
from media.quality import DEFAULT, Cap, Feedback, Needs, Policy, QualityController, lower

if TYPE_CHECKING:
    from media.consumer import Consumer
    from media.producer import Producer

logger = logging.getLogger(__name__)
RATE_ALPHA = 0.25  # weight of the newest second in a producer's measured rate (a publisher on a busy machine
# sends in bursts: what a layer needs is its average)
_LAYERS: tuple[Cap, Cap] = ("high", "low")


@dataclass(slots=True)
class _Meter:
    at: float
    bytes: int
    bps: float | None = None


@dataclass(slots=True)
class _Subscriber:
    controller: QualityController
    sent: _Meter
    probe: PaddingProbe | None = None
    video_packets: int = 0
    clean: bool = True  # the controller's last full step had no loss worth counting (its loss counters are 0)


def idle_step(controller: QualityController, policy: Policy, feedback: Feedback, paced: bool, clean: bool) -> bool:
    """Whether `controller.step(feedback)` would change nothing and answer None, so the step (and what it
    needs: each layer's rate) can be skipped: a connection at the high cap that has never shown its line's
    capacity, is not paced, probes nothing, switches nothing, and whose feedback says no loss (a REMB alone
    says nothing there: media.quality). Most subscribers of a large room are that, twice a second; the step
    was the largest periodic cost per subscriber. `clean`: the last full step's loss was below `loss_low`
    (not None), or none has run: a report without loss only clears counters that are then already 0.
    tests/media/test_quality_skip.py steps controllers both ways over random feedback."""
    loss = feedback.loss
    return (
        not paced and not feedback.switching and not feedback.full and feedback.probe is None
        and (loss is None or (clean and loss < policy.loss_low))
        and controller.cap == "high" and controller.probe_bps is None and not controller.probing
        and controller.link_bps is None
    )  # fmt: skip


def clean_after(feedback: Feedback, policy: Policy, clean: bool) -> bool:
    """`clean` after a full step on `feedback` (see `idle_step`)."""
    if feedback.loss is None and not feedback.full:
        return clean
    return feedback.loss is not None and feedback.loss < policy.loss_low and not feedback.full


Resolve = Callable[[str, Quality], "Producer | None"]


class _Slot(Protocol):
    @property
    def consumer(self) -> Consumer: ...
    @property
    def active(self) -> bool: ...


class SubscriberLink(Protocol):
    """What the adapter reads of a subscriber connection (media.subscriber_transport's, without importing it back)."""

    @property
    def closed(self) -> bool: ...
    @property
    def slots(self) -> Mapping[str, _Slot]: ...
    @property
    def feedback(self) -> SubscriberFeedback: ...
    @property
    def pacer(self) -> Pacer: ...


class QualityAdapter:
    """Steps every subscriber connection of a room and applies the caps (see the module docstring)."""

    def __init__(self, resolve: Resolve, policy: Policy = DEFAULT) -> None:
        self._resolve = resolve  # (track id, "high"/"low") → the producer forwarded for it
        self.enabled = True  # False: forward what the plans ask whatever the network (the benchmark's baseline)
        self.policy = policy
        self._subscribers: dict[str, _Subscriber] = {}
        self._meters: dict[str, _Meter] = {}
        self.loop = LoopWatch()  # ticked by every tick of the room's ticker: `urgent` or `step`

    def limit(self, participant_id: str, quality: Quality) -> Quality:
        """The quality a plan may have now: `high` becomes `low` while the connection is capped low."""
        state = self._subscribers.get(participant_id)
        if state is None or quality not in ("high", "low"):
            return quality
        cap = state.controller.cap
        return "low" if cap != "high" else quality

    def urgent(self, subscribers: Mapping[str, SubscriberLink], now: float | None = None) -> bool:
        """A connection not yet paced has NACKed since the last step: step now rather than at the next
        second's half (until it is paced, every moment of a line too slow is audio lost in its queue)."""
        self.loop.tick(time.monotonic() if now is None else now)
        return self.enabled and any(
            (t.feedback.onset or (t.feedback.urgent and t.pacer.rate is None)) and not t.closed
            for t in subscribers.values()
        )

    def held(self, participant_id: str) -> bool:
        state = self._subscribers.get(participant_id)
        return state is not None and state.controller.cap == "off"

    def forget(self, participant_id: str) -> None:
        state = self._subscribers.pop(participant_id, None)
        if state is not None and state.probe is not None:
            state.probe.stop()

    def step(
        self, now: float, producers: Mapping[str, Producer], subscribers: Mapping[str, SubscriberLink],
        plans: Mapping[str, Mapping[str, Quality]],
    ) -> list[tuple[str, QualityChange]]:
        """One step of every subscriber connection; the changes to tell (participant id, change)."""
        self.loop.tick(now)
        for transport in subscribers.values():
            transport.feedback.adaptive = self.enabled
            transport.feedback.loop = self.loop
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
        pacer = transport.pacer
        sent_bytes = sum(slot.consumer.counters.bytes for slot in transport.slots.values())  # media, not repairs
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
        starved = self.loop.starved(now, meter.at)
        meter.at, meter.bytes = now, sent_bytes
        loss = self._loss(state, report.loss, transport, [c for c, _ in videos])
        switching = any(consumer.target_id is not None for consumer, _ in videos)  # a layer switch, not a start
        probe = state.probe
        outcome: Literal["ok", "failed"] | None = None
        if probe is not None and probe.outcome != "running":
            outcome, state.probe = probe.outcome, None
            transport.feedback.probe = None
            logger.debug("probe of %s to %.0f: %s %s", participant_id, probe.to_bps, probe.outcome, probe.reason)
        feedback = Feedback(report.estimate_bps, loss, sent_bps, switching, outcome, report.received_bps, report.full,
                            report.offered_bps)
        if starved:  # what the line reported is about the worker's stall (media.feedback.LoopWatch)
            logger.debug("quality %s at %.2f: the worker starved, %s ignored", participant_id, now, feedback)
            feedback = Feedback(None, None, None, switching, outcome)
        controller = state.controller
        if idle_step(controller, self.policy, feedback, pacer.rate is not None, state.clean):
            for consumer, wanted in videos:
                self._apply(consumer, lower(wanted, controller.cap))
            return None
        state.clean = clean_after(feedback, self.policy, state.clean)
        need: dict[Cap, float] = {"high": audio, "low": audio}
        top: Cap = "low"
        for consumer, wanted in videos:
            for layer in _LAYERS:
                producer = self._resolve(consumer.track_id, lower(wanted, layer))
                need[layer] += rates.get(producer.info.track_id, 0.0) if producer is not None else 0.0
            if wanted == "high" and self._has_twin(consumer.track_id):
                top = "high"
        decision = controller.step(now, feedback, Needs(need["high"], need["low"], audio), top)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("quality %s at %.2f: %s need=%s top=%s → %s %s pace=%s %s ssrcs=%s", participant_id, now,
                         feedback, need, top, controller.cap, decision, pacer.rate, pacer.counters,
                         [c.ssrc for c, _ in videos])
        cap = controller.cap
        for consumer, wanted in videos:
            self._apply(consumer, lower(wanted, cap))
        rate = controller.pace_bps(now, Needs(need["high"], need["low"], audio), top)
        if rate != pacer.rate:
            pacer.set_rate(rate)
        if controller.probe_bps is not None and state.probe is None:
            state.probe = self._start_probe(now, transport, [c for c, _ in videos], sent_bps or 0.0,
                                            controller.probe_bps)
        if decision is None:
            return None
        return QualityChange(
            layer=decision.cap, reason=decision.reason, tracks=tuple(c.track_id for c, _ in videos),
            estimate_bps=None if decision.estimate_bps is None else int(decision.estimate_bps), loss=feedback.loss,
        )

    def _loss(self, state: _Subscriber, reported: float | None, transport: SubscriberLink, videos: list[Consumer]
              ) -> float | None:
        """The receiver reports' loss — or, until the line has shown its capacity (nothing paced, so nothing
        dropped by the SFU), the share of video NACKed since the last step when that is higher: NACKs come
        as soon as a hole is seen, a report up to 1.5 s later, and on a line that cannot carry the starting
        layer every moment of that wait is audio lost in the network's queue."""
        packets = sum(c.counters.packets for c in videos)
        sent, state.video_packets = packets - state.video_packets, packets
        nacked = transport.feedback.take_nacked()
        if transport.pacer.rate is not None or sent < 20:
            return reported
        nack_loss = min(1.0, nacked / sent)
        if nack_loss < self.policy.loss_low or (reported is not None and reported >= nack_loss):
            return reported
        return nack_loss

    @staticmethod
    def _start_probe(
        now: float, transport: SubscriberLink, videos: list[Consumer], from_bps: float, to_bps: float
    ) -> PaddingProbe:
        """Pad on the first video with an RTX stream; without one there is nothing to pad with, and the
        probe is answered `ok` at once (the layer switch is then the probe, as it was before padding)."""
        probe = PaddingProbe(now, from_bps, to_bps)
        padder = next((c for c in videos if c.rtx is not None and c.writer is not None), None)
        if padder is None or not transport.pacer.started:
            probe.outcome = "ok"
            return probe
        transport.feedback.probe = probe
        probe.start(transport.pacer, padder)
        return probe

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
