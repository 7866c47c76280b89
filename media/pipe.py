"""Pipes between SFU workers (mediasoup's `pipeToRouter`): a room that outgrows one worker gets its
producers forwarded to a second worker, so its subscribers can sit on either.

On the room's own worker a `PipeOut` is one more forwarder in a producer's fan-out: it sends each RTP
packet, as received (no SRTP, no rewrite), in one UDP datagram over loopback to the other worker. There a
`PipeIn` endpoint feeds a `Producer` of the same id, registered in that worker's router for the room but
never announced (the room already knows the track), so the router's consumers forward it like any other.
A keyframe request there goes back over the same socket pair (one byte) and becomes a throttled PLI to
the real publisher. A datagram is `!BHII` (flags: marker, has audio level; payload type; sequence number;
timestamp; ssrc) [+ level byte] + payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import Any

from aiortc.rtp import RtpPacket

from core.contracts import MediaTrack
from media.aiortc_seams import SFU_RECEIVE_BUFFER
from media.producer import Producer, ProducerInfo
from media.router import Router
from media.rtp import ExtKey

log = logging.getLogger(__name__)

_HEAD = struct.Struct("!BBHII")  # flags, payload type, sequence number, timestamp, ssrc
_MARKER, _LEVEL = 1, 2
KEYFRAME_REQUEST = b"K"


def encode(packet: RtpPacket) -> bytes:
    level = packet.extensions.audio_level
    flags = (_MARKER if packet.marker else 0) | (_LEVEL if level is not None else 0)
    head = _HEAD.pack(flags, packet.payload_type, packet.sequence_number, packet.timestamp, packet.ssrc)
    if level is not None:
        head += bytes([(0x80 if level[0] else 0) | (level[1] & 0x7F)])
    return head + packet.payload


def decode(data: bytes) -> RtpPacket:
    flags, pt, seq, ts, ssrc = _HEAD.unpack_from(data)
    at = _HEAD.size
    packet = RtpPacket(payload_type=pt, marker=flags & _MARKER, sequence_number=seq, timestamp=ts, ssrc=ssrc)
    if flags & _LEVEL:
        packet.extensions.audio_level = (bool(data[at] & 0x80), data[at] & 0x7F)
        at += 1
    packet.payload = data[at:]
    return packet


class PipeOut(asyncio.DatagramProtocol):
    """The sending end, in the fan-out of the room's producer `track_id` on its own worker."""

    ext_key: ExtKey = (0, 0)  # no header extensions are built for the pipe

    def __init__(self, router: Router, track_id: str) -> None:
        self.router = router
        self.track_id = track_id
        self.transport: asyncio.DatagramTransport | None = None
        self.packets = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if data == KEYFRAME_REQUEST:
            self.router.request_keyframe(self.track_id)

    def forward(self, producer_id: str, packet: RtpPacket, keyframe: bool, ext: bytes, ntp: int, now: float) -> None:
        if self.transport is not None:
            self.transport.sendto(encode(packet))
            self.packets += 1

    def on_upstream_gap(self, producer_id: str, first: int, count: int) -> None:
        """The other worker's producer sees the same hole in the sequence numbers piped to it."""

    def on_upstream_fill(self, producer_id: str, seq: int) -> None:
        """As for a hole: the late packet is piped like any other."""

    def link(self) -> None:
        """(Again) in the producer's fan-out: a republished track has a new list."""
        targets = self.router.fanout(self.track_id)
        if self not in targets:
            targets.append(self)

    def close(self) -> None:
        targets = self.router.fanout(self.track_id)
        if self in targets:
            targets.remove(self)
        if self.transport is not None:
            self.transport.close()


class PipeIn(asyncio.DatagramProtocol):
    """The receiving end: a producer in this worker's router, fed by the datagrams of one `PipeOut`."""

    def __init__(self, router: Router, track: MediaTrack, clock_rate: int) -> None:
        self.router = router
        self.transport: asyncio.DatagramTransport | None = None
        self.peer: Any = None
        info = ProducerInfo(track.track_id, track.participant_id, track.kind, track.source, track.quality,
                            track.codec, clock_rate)  # fmt: skip
        self.producer = Producer(info, self._ask_keyframe, router)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.peer = addr
        try:
            packet = decode(data)
        except (struct.error, IndexError):
            return
        self.producer.on_packet(packet)

    def _ask_keyframe(self, ssrc: int) -> bool:
        if self.transport is None or self.peer is None:
            return False
        self.transport.sendto(KEYFRAME_REQUEST, self.peer)
        return True

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def close(self) -> None:
        self.producer.close()
        if self.transport is not None:
            self.transport.close()


class Pipes:
    """A worker's pipe ends, by room and track (the worker's requests `pipe_in`, `pipe_out`, `pipe_close`)."""

    def __init__(self, router_of: Any) -> None:
        self._router_of = router_of  # room id → that room's Router (made if need be)
        self.ins: dict[tuple[str, str], PipeIn] = {}
        self.outs: dict[tuple[str, str, int], PipeOut] = {}

    async def pipe_in(self, room_id: str, track: MediaTrack, clock_rate: int) -> int:
        """The port a room's track arrives on in this worker (opened once; again if its router closed)."""
        router: Router = self._router_of(room_id)
        end = self.ins.get((room_id, track.track_id))
        if end is not None and not end.producer.closed and router.producers.get(track.track_id) is end.producer:
            return end.port
        if end is not None:
            end.close()
        loop = asyncio.get_running_loop()
        transport, end = await loop.create_datagram_endpoint(
            lambda: PipeIn(router, track, clock_rate), local_addr=("127.0.0.1", 0)
        )
        with contextlib.suppress(OSError):  # as the SFU's own sockets: a keyframe fits, an overloaded worker drops
            # (its subscribers then ask for a keyframe) rather than queue tens of seconds of stale media
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SFU_RECEIVE_BUFFER)
        router.producers[track.track_id] = end.producer
        self.ins[(room_id, track.track_id)] = end
        return end.port

    async def pipe_out(self, room_id: str, track_id: str, to: int, port: int) -> bool:
        """Forward a room's track to worker `to`'s port; False when this worker has no such producer."""
        router: Router = self._router_of(room_id)
        producer = router.producers.get(track_id)
        if producer is None or producer.closed:
            return False
        end = self.outs.get((room_id, track_id, to))
        if end is not None and end.transport is not None and end.transport.get_extra_info("peername")[1] == port:
            end.link()
            return True
        if end is not None:
            end.close()
        _, end = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: PipeOut(router, track_id), remote_addr=("127.0.0.1", port)
        )
        end.link()
        self.outs[(room_id, track_id, to)] = end
        producer.keyframes.request()  # the other worker's subscribers start on a keyframe
        return True

    def close(self, room_id: str, track_id: str | None = None) -> None:
        """End the pipes of a room (or of one of its tracks), both directions."""
        for key in [k for k in self.ins if k[0] == room_id and track_id in (None, k[1])]:
            self.ins.pop(key).close()
        for key_out in [k for k in self.outs if k[0] == room_id and track_id in (None, k[1])]:
            self.outs.pop(key_out).close()
