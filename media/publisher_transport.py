"""The publisher transport: the client offers, the SFU answers and receives (`media.transport`); each
received track becomes a Producer whose packets bypass aiortc's decoder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from aiortc import RTCRtpReceiver, RTCSessionDescription
from aiortc.exceptions import InvalidStateError as AiortcInvalidState
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket, RtpPacket
from aiortc.sdp import SessionDescription

from core.contracts import Layer, MediaKind, Source
from core.errors import InvalidStateError
from media import aiortc_seams as seams
from media import consent
from media.producer import Producer, ProducerInfo, ProducerListener
from media.transport import PeerTransport


@dataclass(slots=True)
class PublishedMedia:
    mid: str
    kind: MediaKind
    source: Source
    quality: Layer


class _Tap:
    """Receives a publisher receiver's packets; hands them to its Producer once that exists."""

    __slots__ = ("receiver", "producer", "buffer")

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.receiver = receiver
        self.producer: Producer | None = None
        self.buffer: seams.TapJitterBuffer | None = None

    def __call__(self, packet: RtpPacket) -> None:
        producer = self.producer
        if producer is not None:
            producer.on_packet(packet)

    def set_frame_handler(self, handler: Callable[[JitterFrame], None] | None) -> None:
        if self.buffer is not None:
            self.buffer.on_frame = handler


class PublisherTransport(PeerTransport):
    """Receives a participant's tracks; each becomes a Producer whose packets bypass aiortc's decoder."""

    what = "publisher transport"

    def __init__(
        self,
        participant_id: str,
        make_track_id: Callable[[str], str],
        on_producer: Callable[[Producer], Awaitable[None]],
        producer_listener: ProducerListener,
    ) -> None:
        super().__init__()
        self._producer_listener = producer_listener
        self.participant_id = participant_id
        self._make_track_id = make_track_id
        self._on_producer = on_producer
        self._taps: dict[str, _Tap] = {}  # by mid
        self.producers: dict[str, Producer] = {}  # by mid
        self._writer: seams.RtpWriter | None = None
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        """Hook the receiver before any packet can arrive (connecting starts after the answer)."""
        for transceiver in self.pc.getTransceivers():
            if transceiver.receiver.track is track and transceiver.mid is not None:
                tap = _Tap(transceiver.receiver)
                tap.buffer = seams.install_receive_tap(transceiver.receiver, transceiver.kind, tap)
                self._taps[transceiver.mid] = tap

    async def apply_offer(self, sdp: str, specs: dict[str, PublishedMedia]) -> str:
        self.check_open("publish offer")
        async with self._lock:
            self.check_open("publish offer")
            try:
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                answer = await self.pc.createAnswer()
                await self.pc.setLocalDescription(answer)
                seams.grow_receive_buffers(self.pc, seams.SFU_RECEIVE_BUFFER)
                consent.install(self.pc)
            except AiortcInvalidState as e:
                if self.closed:  # closed while negotiating: the caller raced a leave or a room close
                    raise InvalidStateError("publish offer: the publisher transport closed meanwhile") from e
                raise
            self.check_open("publish offer")
            local = SessionDescription.parse(self.pc.localDescription.sdp)
            for media in local.media:
                mid = media.rtp.muxId
                tap = self._taps.get(mid)
                if mid in self.producers or tap is None or not media.rtp.codecs:
                    continue
                codec = media.rtp.codecs[0]
                spec = specs.get(mid)
                kind = cast(MediaKind, media.kind)  # a receiving m-line with a codec is audio or video
                if spec is None or spec.kind != kind:  # the SDP decides what the m-line carries
                    spec = PublishedMedia(mid, kind, "camera" if kind == "video" else "microphone", "high")
                info = ProducerInfo(
                    track_id=self._make_track_id(mid),
                    participant_id=self.participant_id,
                    kind=kind,
                    source=spec.source,
                    quality=spec.quality,
                    codec=codec.name if media.kind == "video" else codec.name.lower(),
                    clock_rate=codec.clockRate,
                )
                producer = Producer(info, self._pli_sender(tap.receiver), self._producer_listener)
                tap.producer = producer
                producer.set_frame_hook(tap.set_frame_handler)
                self.producers[mid] = producer
                await self._on_producer(producer)
            return self.pc.localDescription.sdp

    def _pli_sender(self, receiver: RTCRtpReceiver) -> Callable[[int], bool]:
        rtcp_ssrc = seams.receiver_rtcp_ssrc(receiver) or 0

        def send(media_ssrc: int) -> bool:
            writer = self._writer
            if writer is None or not writer.ready:
                writer = seams.RtpWriter(receiver.transport)
                if not writer.resolve():
                    return False
                self._writer = writer
            writer.write_rtcp(bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=rtcp_ssrc, media_ssrc=media_ssrc)))
            return True

        return send

    async def close(self) -> None:
        if not self._begin_close():
            return
        for producer in list(self.producers.values()):
            producer.transport_closed()
        await seams.close(self.pc)

    async def router_closed(self) -> None:
        """The Router (its parent) closed."""
        await self.close()
