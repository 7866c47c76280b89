"""The subscriber transport: the SFU offers and sends (`media.transport`), and offers again whenever
the set of tracks the participant should receive changes."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.sdp import SessionDescription

from core.errors import InvalidStateError
from media import aiortc_seams as seams
from media import consent
from media.consumer import Consumer, ConsumerListener
from media.feedback import SubscriberFeedback, subscriber_rtcp_handler
from media.pacer import Pacer
from media.producer import Producer
from media.sender_reports import SenderReports, quiet_sender_rtcp
from media.transport import PeerTransport

logger = logging.getLogger(__name__)


def answers_pending_offer(pc: RTCPeerConnection, sdp: str) -> bool:
    """Whether `sdp` answers the offer `pc` has outstanding: same m-lines (mid and kind, in order)."""
    if pc.signalingState != "have-local-offer" or pc.localDescription is None:
        return False
    offered = [(m.rtp.muxId, m.kind) for m in SessionDescription.parse(pc.localDescription.sdp).media]
    try:
        answered = [(m.rtp.muxId, m.kind) for m in SessionDescription.parse(sdp).media]
    except ValueError:
        return True  # not an SDP at all: aiortc names what is wrong with it
    return offered == answered


class SilentTrack(MediaStreamTrack):
    """Gives a subscriber transceiver its track id (announced in `a=msid`) without ever yielding a frame:
    the sender's own RTP loop sleeps forever, the SFU writes RTP for it."""

    def __init__(self, kind: str, track_id: str) -> None:
        super().__init__()
        self.kind = kind
        self._id = track_id
        self._never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def recv(self):
        await self._never
        raise asyncio.CancelledError

    def stop(self) -> None:
        if not self._never.done():
            self._never.cancel()
        super().stop()


@dataclass(slots=True)
class _Slot:
    consumer: Consumer
    transceiver: RTCRtpTransceiver
    active: bool = True


class SubscriberTransport(PeerTransport):
    """Sends the tracks a participant should receive; the SFU (re)offers whenever that set changes."""

    what = "subscriber transport"

    def __init__(
        self, participant_id: str, send_offer: Callable[[str, int], Awaitable[None]], listener: ConsumerListener
    ) -> None:
        super().__init__()
        self._listener = listener
        self.participant_id = participant_id
        self._send_offer = send_offer  # (sdp, offer id)
        # The id of the last offer sent, which the client's answer echoes. Monotonic here, from a random start
        # so that an answer meant for a replaced connection (or a restarted worker's) never names this one's.
        self.offer_id = secrets.randbelow(1 << 40) << 12
        self.slots: dict[str, _Slot] = {}
        self._again = False
        self._writer: seams.RtpWriter | None = None
        self.pacer = Pacer()  # what leaves on this connection, audio first (media.pacer)
        self.feedback = SubscriberFeedback(self.pacer)  # REMB and receiver-report loss, for bandwidth-driven quality
        self.reports = SenderReports()  # RTCP SR of the forwarded streams (media.sender_reports)
        self.pc.on("connectionstatechange", self._on_state)

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            for slot in self.slots.values():
                slot.consumer.pause()  # nothing to send to until signaling says leave

    def consumer(self, track_id: str) -> Consumer | None:
        slot = self.slots.get(track_id)
        return slot.consumer if slot and slot.active else None

    def add(self, track_id: str, producer: Producer, quality: str) -> Consumer:
        """Start (or resume) forwarding `producer` as `track_id`; needs a negotiation when new."""
        self.check_open("subscribe")
        producer_id = producer.info.track_id
        slot = self.slots.get(track_id)
        if slot is not None:
            consumer = slot.consumer
            if slot.active:
                consumer.switch(producer_id, quality)
                return consumer
            slot.active = True
            slot.transceiver.direction = "sendonly"
            consumer.resume(producer_id, quality)
            return consumer
        consumer = Consumer(track_id, producer.kind, producer_id, producer.info.clock_rate, self._listener)
        consumer.quality = quality
        transceiver = self.pc.addTransceiver(SilentTrack(producer.kind, track_id), direction="sendonly")
        quiet_sender_rtcp(transceiver.sender)  # its reports come from `send_sender_reports`
        preferred = [
            c for c in RTCRtpSender.getCapabilities(producer.kind).codecs
            if c.name.lower() == producer.info.codec.lower() or c.name == "rtx"
        ]
        if preferred:
            transceiver.setCodecPreferences(preferred)
        seams.set_stream_id(transceiver.sender, producer.info.participant_id)
        seams.capture_send_parameters(transceiver.sender, functools.partial(self._start, consumer, transceiver))
        seams.intercept_sender_rtcp(transceiver.sender, subscriber_rtcp_handler(consumer, self.feedback))
        self.slots[track_id] = _Slot(consumer, transceiver)
        self._listener.on_consumer_changed(consumer)  # the Router fans the producer out to it
        return consumer

    def remove(self, track_id: str) -> None:
        slot = self.slots.get(track_id)
        if slot is None or not slot.active or self.closed:
            return
        slot.active = False
        slot.consumer.suspend()
        slot.transceiver.direction = "inactive"

    def _start(self, consumer: Consumer, transceiver: RTCRtpTransceiver, params: RTCRtpSendParameters) -> None:
        if consumer.writer is not None or consumer.closed:
            return  # every renegotiation calls send() again; the sender started only once
        if self._writer is None or not self._writer.ready:
            writer = seams.RtpWriter(transceiver.sender.transport)
            if not writer.resolve():
                logger.warning("subscriber transport of %s not connected at sender start", self.participant_id)
                return
            self._writer = writer
            self.pacer.start(writer.packet_sender())
        codec = params.codecs[0]
        if codec.payloadType is None:  # aiortc assigns every negotiated codec a payload type
            logger.warning("subscriber %s: codec %s without a payload type", self.participant_id, codec.name)
            return
        rtx_pt = next(
            (c.payloadType for c in params.codecs if c.name == "rtx" and c.parameters.get("apt") == codec.payloadType),
            None,
        )
        # abs-send-time on video feeds the subscriber's delay-based estimate, sent back as REMB (media.feedback)
        abs_id = next((e.id for e in params.headerExtensions if e.uri.endswith("abs-send-time")), 0)
        level_id = next((e.id for e in params.headerExtensions if e.uri.endswith("ssrc-audio-level")), 0)
        ssrc, rtx_ssrc = seams.sender_ssrcs(transceiver.sender)
        self.feedback.rtx_ssrcs.add(rtx_ssrc)
        slot = self.slots.get(consumer.track_id)
        consumer.start(self._writer, self.pacer, ssrc, rtx_ssrc, codec.payloadType, rtx_pt, (abs_id, level_id))
        if slot is not None and not slot.active:
            consumer.paused = True

    def send_sender_reports(self, now: float) -> None:
        self.reports.send_due(now, self._writer, self.slots.values())

    async def negotiate(self) -> None:
        """Offer the current set of transceivers; if an offer is outstanding, offer again after its answer."""
        self.check_open("negotiate")
        async with self._lock:
            self.check_open("negotiate")
            if self.pc.signalingState != "stable":
                self._again = True
                return
            self._again = False
            offer = await self.pc.createOffer()
            await self.pc.setLocalDescription(offer)
            seams.grow_receive_buffers(self.pc, seams.SFU_RECEIVE_BUFFER)
            consent.install(self.pc)
            sdp = self.pc.localDescription.sdp
            self.offer_id += 1
            offer_id = self.offer_id
        await self._send_offer(sdp, offer_id)

    async def apply_answer(self, sdp: str, offer_id: int | None = None) -> None:
        """Apply the client's answer to the outstanding offer. An answer is stale when it is meant for an
        earlier connection (replaced while the answer was on its way) or an offer already answered: applied,
        it would break the offer outstanding now, which stays. With `offer_id` (the id the client echoes)
        staleness is exact, and the outstanding offer is sent again in case the client never got it; an
        answer without one (an older client) is stale when its m-lines differ from the offer's."""
        self.check_open("subscriber answer")
        again = False
        async with self._lock:
            self.check_open("subscriber answer")
            pending = self.pc.signalingState == "have-local-offer" and self.pc.localDescription is not None
            stale = offer_id is not None and (not pending or offer_id != self.offer_id)
            outstanding = (self.pc.localDescription.sdp, self.offer_id) if pending and stale else None
            if not stale:
                if offer_id is None and not answers_pending_offer(self.pc, sdp):
                    raise InvalidStateError("subscriber answer: it answers no outstanding offer (a stale answer)")
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
                again = self._again
                for slot in self.slots.values():
                    if slot.active and slot.transceiver.currentDirection == "sendonly":
                        slot.consumer.unpause()  # resubscribed tracks: the subscriber listens again
        if stale:
            if outstanding is not None:
                await self._send_offer(*outstanding)
            now = f"offer {outstanding[1]} is" if outstanding else "no offer is"
            raise InvalidStateError(
                f"subscriber answer: a stale answer (to offer {offer_id}; {now} outstanding)", "offer_id", "stale_answer"
            )
        if again:
            await self.negotiate()

    async def close(self) -> None:
        if not self._begin_close():
            return
        self.pacer.close()
        for slot in list(self.slots.values()):
            slot.consumer.transport_closed()
        self.slots.clear()
        await seams.close(self.pc)

    async def router_closed(self) -> None:
        """The Router (its parent) closed."""
        await self.close()
