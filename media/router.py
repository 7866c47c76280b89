"""A Router holds one room's media: its producers, each participant's two transports, and who consumes what.

It applies the subscription plans signaling computes (from `rooms/audience.py`), resolves a plan's
quality to the camera's high or low track, and reports audio levels and track stats to the listener.

As in mediasoup, the Router owns the fan-out: for each producer id the list of consumers its packets go
to. Consumers hold producer ids and tell the Router when those change (`on_consumer_changed`); a closing
producer or consumer tells the Router, which sends the close notices. No media object mutates another.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from core.contracts import FrameSink, MediaListener, MediaTrack, PublishedTrackSpec, Quality
from media.bandwidth import QualityAdapter
from media.consumer import Consumer
from media.lifecycle import Closable
from media.offer import check_offer_tracks
from media.producer import Forwarder, Producer, SinkSubscription
from media.publisher_transport import PublishedMedia, PublisherTransport
from media.recovery import TransportWatch, new_connection
from media.stats import StatsCollector, TrackStats
from media.subscriber_transport import SubscriberTransport

logger = logging.getLogger(__name__)

LEVEL_INTERVAL_S = 0.25
STATS_INTERVAL_S = 2.0
QUALITY_INTERVAL_S = 0.5  # bandwidth-driven quality steps each subscriber twice a second (a lossy report acts sooner)
SPEAKING_DBOV = 50  # quieter than -50 dBov is not speaking
LEVEL_FRESH_S = 0.6


def _track_id(participant_id: str, mid: str) -> str:
    return f"{participant_id}:{mid}"


def _level(dbov: int) -> float:
    return round(10 ** (-dbov / 20), 4)


class Router(Closable):
    what = "media router"

    def __init__(self, room_id: str, listener: Callable[[], MediaListener | None]) -> None:
        super().__init__()
        self.room_id = room_id
        self._listener = listener
        self.producers: dict[str, Producer] = {}
        self.publishers: dict[str, PublisherTransport] = {}
        self.subscribers: dict[str, SubscriberTransport] = {}
        self.plans: dict[str, dict[str, Quality]] = {}
        self.stats = StatsCollector(room_id)
        self._last_levels: dict[str, float] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._announcing: set[asyncio.Task[None]] = set()
        self._fanout: dict[str, list[Forwarder]] = {}  # producer id → consumers its packets go to
        self._links: dict[Consumer, tuple[str, ...]] = {}  # consumer → the producer ids it is fanned from
        self.quality = QualityAdapter(self.resolve)
        self.watch = TransportWatch(self)  # a transport failing underneath: unpublish, or offer anew

    # -- the fan-out (ProducerListener and ConsumerListener) ----------------------------------------------

    def fanout(self, producer_id: str) -> list[Forwarder]:
        return self._fanout.setdefault(producer_id, [])

    def on_consumer_changed(self, consumer: Consumer) -> None:
        wanted = tuple(p for p in dict.fromkeys((consumer.producer_id, consumer.target_id)) if p is not None)
        linked = self._links.get(consumer, ())
        if wanted == linked:
            return
        for producer_id in linked:
            targets = self._fanout.get(producer_id)
            if producer_id not in wanted and targets is not None and consumer in targets:
                targets.remove(consumer)
        for producer_id in wanted:
            targets = self.fanout(producer_id)
            if consumer not in targets:
                targets.append(consumer)
        if wanted:
            self._links[consumer] = wanted
        else:
            self._links.pop(consumer, None)

    def on_consumer_closed(self, consumer: Consumer) -> None:
        self.on_consumer_changed(consumer)  # its ids are cleared: it leaves every fan-out list

    def on_producer_closed(self, producer: Producer) -> None:
        track_id = producer.info.track_id
        if self.producers.get(track_id) is producer:
            del self.producers[track_id]
        targets = self._fanout.get(track_id)
        if targets is producer.consumers:
            del self._fanout[track_id]
            for consumer in list(targets):
                if isinstance(consumer, Consumer):
                    consumer.producer_closed(track_id)
                    self.on_consumer_changed(consumer)
            targets.clear()

    def on_forward_failed(self, producer_id: str, forwarder: Forwarder) -> None:
        if isinstance(forwarder, Consumer):
            forwarder.pause()

    def request_keyframe(self, producer_id: str) -> None:
        producer = self.producers.get(producer_id)
        if producer is not None and not producer.closed:
            producer.keyframes.request()

    # -- publishing -----------------------------------------------------------------------------------

    async def publish_offer(self, participant_id: str, sdp: str, tracks: list[PublishedTrackSpec]) -> str:
        self.check_open("publish offer")
        check_offer_tracks(sdp, {t.mid for t in tracks})
        self._ensure_ticker()
        transport = self.publishers.get(participant_id)
        if transport is not None and new_connection(transport, sdp):
            await self.close_publisher(participant_id)
            transport = None
        if transport is None:
            transport = PublisherTransport(
                participant_id,
                make_track_id=functools.partial(_track_id, participant_id),
                on_producer=self._on_producer,
                producer_listener=self,
            )
            self.publishers[participant_id] = transport
            self.watch.publisher(participant_id, transport)
        specs = {t.mid: PublishedMedia(t.mid, t.kind, t.source, t.quality) for t in tracks}
        before = set(self.producers)
        answer = await transport.apply_offer(sdp, specs)
        self.check_open("publish offer")  # the room closed while the offer was applied
        new = [p for tid, p in self.producers.items() if tid not in before]
        if new:
            # Announce after answering: the room's reaction (renegotiating every subscriber) must not
            # delay the publisher's answer.
            task = asyncio.get_running_loop().create_task(self._announce(new))
            self._announcing.add(task)
            task.add_done_callback(self._announcing.discard)
        return answer

    async def _on_producer(self, producer: Producer) -> None:
        self.producers[producer.info.track_id] = producer

    async def _announce(self, producers: list[Producer]) -> None:
        try:
            for producer in producers:
                if producer.closed:
                    continue
                listener = self._listener()
                if listener is not None:
                    await listener.on_track_published(self.room_id, self._media_track(producer))
                await self._reapply(functools.partial(self._plan_touches, producer))
        except Exception:
            logger.exception("media room %s: announcing tracks failed", self.room_id)

    def _plan_touches(self, producer: Producer, plan: dict[str, Quality]) -> bool:
        return producer.info.track_id in plan or self._twin_key(producer) in plan

    def _media_track(self, producer: Producer) -> MediaTrack:
        info = producer.info
        return MediaTrack(info.track_id, info.participant_id, info.kind, info.source, info.quality, info.codec)

    def _twin(self, producer: Producer, quality: str) -> Producer | None:
        info = producer.info
        for other in self.producers.values():
            o = other.info
            if other is not producer and (o.participant_id, o.source, o.kind, o.quality) == (
                    info.participant_id, info.source, info.kind, quality) and not other.closed:
                return other
        return None

    def _twin_key(self, producer: Producer) -> str | None:
        twin = self._twin(producer, "high") if producer.info.quality == "low" else None
        return twin.info.track_id if twin else None

    def resolve(self, track_id: str, quality: Quality) -> Producer | None:
        producer = self.producers.get(track_id)
        if producer is None or producer.closed:
            return None
        if quality in ("high", "low") and producer.info.quality != quality:
            return self._twin(producer, quality) or producer
        return producer

    # -- subscribing ----------------------------------------------------------------------------------

    def _subscriber(self, participant_id: str) -> SubscriberTransport:
        transport = self.subscribers.get(participant_id)
        if transport is None or transport.closed:

            async def send_offer(sdp: str, offer_id: int, pid: str = participant_id) -> None:
                listener = self._listener()
                if listener is not None:
                    await listener.on_subscriber_offer(self.room_id, pid, sdp, offer_id)

            transport = SubscriberTransport(participant_id, send_offer, self)
            self.subscribers[participant_id] = transport
            self.watch.subscriber(participant_id, transport)
        return transport

    async def set_subscriptions(self, participant_id: str, plan: dict[str, Quality]) -> None:
        self.check_open("set subscriptions")
        self._ensure_ticker()
        self.plans[participant_id] = dict(plan)
        await self.apply_plan(participant_id)

    async def apply_plan(self, participant_id: str) -> None:
        plan = self.plans.get(participant_id, {})
        stale = self.subscribers.get(participant_id)
        if stale is not None and not stale.closed and stale.pc.connectionState == "closed":
            await stale.close()  # aiortc closed it itself (every DTLS transport ended): start a new one
        wanted: dict[str, tuple[Producer, Quality]] = {}
        for track_id, asked in plan.items():
            quality = self.quality.limit(participant_id, asked) if asked != "off" else asked
            producer = self.resolve(track_id, quality) if asked != "off" else None
            if producer is not None and producer.info.participant_id != participant_id:
                wanted[track_id] = (producer, quality)
        if not wanted and (stale is None or stale.closed):
            return  # nothing to receive yet: no peer connection (a viewer before the teacher publishes)
        transport = self._subscriber(participant_id)
        changed = False
        for track_id, (producer, quality) in wanted.items():
            current = transport.consumer(track_id)
            if current is not None:
                producer_id = producer.info.track_id
                if producer_id != current.producer_id and producer_id != current.target_id:
                    current.switch(producer_id, quality)
                else:
                    current.quality = quality
                continue
            slot = transport.slots.get(track_id)
            transport.add(track_id, producer, quality)
            changed = changed or slot is None or not slot.transceiver.currentDirection == "sendonly"
        for track_id, slot in list(transport.slots.items()):
            if slot.active and track_id not in wanted:
                transport.remove(track_id)
                changed = True
        if changed:
            await transport.negotiate()

    async def _reapply(self, touches: Callable[[dict[str, Quality]], bool]) -> None:
        for participant_id, plan in list(self.plans.items()):
            if touches(plan):
                await self.apply_plan(participant_id)

    async def subscriber_answer(self, participant_id: str, sdp: str, offer_id: int | None = None) -> None:
        self.check_open("subscriber answer")
        transport = self.subscribers.get(participant_id)
        if transport is None:
            raise KeyError(f"no subscriber connection for {participant_id}")
        await transport.apply_answer(sdp, offer_id)

    async def ice_candidate(self, participant_id: str, target: str, candidate: dict[str, Any]) -> None:
        transports: dict[str, PublisherTransport] | dict[str, SubscriberTransport]
        transports = self.publishers if target == "publisher" else self.subscribers
        transport = transports.get(participant_id)
        if transport is not None and not transport.closed:
            await transport.add_candidate(candidate)

    def consumer(self, participant_id: str, track_id: str) -> Consumer | None:
        transport = self.subscribers.get(participant_id)
        return transport.consumer(track_id) if transport else None

    # -- sinks ----------------------------------------------------------------------------------------

    def attach_sink(self, track_id: str, sink: FrameSink) -> SinkSubscription:
        self.check_open("attach sink")
        producer = self.producers.get(track_id)
        if producer is None:
            raise KeyError(f"no track {track_id} in room {self.room_id}")
        return producer.attach_sink(sink)

    # -- leaving --------------------------------------------------------------------------------------

    async def close_publisher(self, participant_id: str) -> None:
        transport = self.publishers.pop(participant_id, None)
        if transport is None:
            return
        gone = list(transport.producers.values())
        await transport.close()
        for producer in gone:
            self.producers.pop(producer.info.track_id, None)
        listener = self._listener()
        for producer in gone:
            if listener is not None:
                await listener.on_track_unpublished(self.room_id, self._media_track(producer))
        ids = {p.info.track_id for p in gone}
        for pid, transport_ in list(self.subscribers.items()):
            if transport_.closed:
                continue
            touched = [t for t, s in transport_.slots.items() if s.active and t in ids]
            for track_id in touched:
                transport_.remove(track_id)
            if touched:
                await transport_.negotiate()
            # a low/high twin may remain: the plan may still resolve
            if any(t in ids for t in self.plans.get(pid, {})):
                await self.apply_plan(pid)

    async def leave(self, participant_id: str) -> None:
        """Close the participant's two transports (a leave after the room closed has nothing to do)."""
        if self.closed:
            return
        self.plans.pop(participant_id, None)
        self.quality.forget(participant_id)
        self._last_levels.pop(participant_id, None)
        subscriber = self.subscribers.pop(participant_id, None)
        if subscriber is not None:
            await subscriber.close()
        await self.close_publisher(participant_id)

    @property
    def empty(self) -> bool:
        return not self.publishers and not self.subscribers and not self.plans

    async def close(self) -> None:
        """Close every transport (each tells its producers or consumers), then stop the reports. Once."""
        if not self._begin_close():
            return
        tasks = [*self._announcing, *([self._ticker] if self._ticker is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, self.watch.close(), return_exceptions=True)
        self._ticker = None
        self.plans.clear()
        while self.subscribers:
            _, subscriber = self.subscribers.popitem()
            await subscriber.router_closed()
        listener = self._listener()
        while self.publishers:
            _, publisher = self.publishers.popitem()
            gone = [p for p in publisher.producers.values() if not p.closed]
            await publisher.router_closed()
            for producer in gone:
                if listener is not None:
                    await listener.on_track_unpublished(self.room_id, self._media_track(producer))
        self.producers.clear()
        self._fanout.clear()
        self._links.clear()

    # -- periodic reports -----------------------------------------------------------------------------

    def _ensure_ticker(self) -> None:
        if self._ticker is None and not self.closed:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name=f"media-room-{self.room_id}")

    def audio_levels(self) -> dict[str, float]:
        now = time.monotonic()
        levels: dict[str, float] = {}
        for producer in self.producers.values():
            if producer.kind != "audio" or now - producer.level_at > LEVEL_FRESH_S:
                continue
            if producer.level_dbov <= SPEAKING_DBOV:
                pid = producer.info.participant_id
                levels[pid] = max(levels.get(pid, 0.0), _level(producer.level_dbov))
        return levels

    def track_stats(self) -> list[TrackStats]:
        return self.stats.collect(self.producers.values(), self.subscribers.values())

    def _send_sender_reports(self) -> None:
        now = time.monotonic()
        for transport in self.subscribers.values():
            transport.send_sender_reports(now)

    async def _tick(self) -> None:
        next_stats = time.monotonic() + STATS_INTERVAL_S
        next_quality = time.monotonic() + QUALITY_INTERVAL_S
        while True:
            await asyncio.sleep(LEVEL_INTERVAL_S)
            listener = self._listener()
            try:
                levels = self.audio_levels()
                if (levels or self._last_levels) and listener is not None:
                    self._last_levels = levels
                    await listener.on_audio_levels(self.room_id, levels)
                self._send_sender_reports()  # in a helper: no loop variable outlives it in this frame
                if time.monotonic() >= next_quality or self.quality.urgent(self.subscribers):
                    next_quality = time.monotonic() + QUALITY_INTERVAL_S
                    changes = self.quality.step(time.monotonic(), self.producers, self.subscribers, self.plans)
                    for pid, change in changes:
                        if listener is not None:
                            await listener.on_quality_changed(self.room_id, pid, change)
                if time.monotonic() >= next_stats:
                    next_stats += STATS_INTERVAL_S
                    stats = self.track_stats()
                    if listener is not None and stats:
                        await listener.on_track_stats(self.room_id, [s.as_event() for s in stats])
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("media room %s: periodic report failed", self.room_id)
