"""Every place the SFU (and the media bots) reach into aiortc's or aioice's private internals.

aiortc is a WebRTC endpoint, not an SFU: its receiver decodes every frame and its sender encodes or
repacketises. To forward encoded RTP we need a few hooks below its public API. They all live here, each
says what it relies on, and `tests/media/test_sfu_seams.py` fails if aiortc changes underneath.
Checked against the versions in `CHECKED` (aiortc 1.16.0, aioice 0.13.0); pyproject.toml allows
only those, and `unchecked_versions()` names any installed version outside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pylibsrtp
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import RTCP_PSFB_APP, AnyRtcpPacket, RtcpPsfbPacket, RtpPacket, pack_remb_fci

logger = logging.getLogger(__name__)

# package → the minor releases every seam below was checked against (keep pyproject.toml's range the same)
CHECKED: dict[str, tuple[str, ...]] = {"aiortc": ("1.16",), "aioice": ("0.13",)}


def unchecked_versions() -> list[str]:
    """One line per installed aiortc/aioice whose minor release the seams were not checked against."""
    out = []
    for package, minors in CHECKED.items():
        try:
            installed = version(package)
        except PackageNotFoundError:
            out.append(f"{package} is not installed")
            continue
        if ".".join(installed.split(".")[:2]) not in minors:
            out.append(
                f"{package} {installed} is installed, but media/aiortc_seams.py was checked against "
                f"{package} {' / '.join(m + '.x' for m in minors)}: run tests/media/test_sfu_seams.py, review "
                f"each seam against the new {package}, then add it to CHECKED and to pyproject.toml's range"
            )
    return out

PacketTap = Callable[[RtpPacket], None]


class TapJitterBuffer(JitterBuffer):
    """Stands in for the receiver's jitter buffer: sees every media packet after RTX unwrapping and NACK
    bookkeeping, hands it to the SFU, and assembles frames only when someone wants frames."""

    def __init__(self, kind: str, tap: PacketTap) -> None:
        if kind == "audio":
            super().__init__(capacity=16, prefetch=4)
        else:
            super().__init__(capacity=512, is_video=True)
        self.tap = tap
        self.on_frame: Callable[[JitterFrame], None] | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        self.tap(packet)
        if self.on_frame is not None:
            _, frame = super().add(packet)
            if frame is not None:
                self.on_frame(frame)
        # Never hand a frame back: aiortc would queue it for a decoder. PLIs are the SFU's business.
        return False, None


def install_receive_tap(
    receiver: RTCRtpReceiver, kind: str, tap: PacketTap, buffer_class: type[TapJitterBuffer] = TapJitterBuffer
) -> TapJitterBuffer:
    """Route a receiver's packets to `tap` and switch its decoding off.

    Relies on: `RTCRtpReceiver._handle_rtp_packet` feeding every (RTX-unwrapped, depayloaded) packet to
    the name-mangled `__jitter_buffer.add()` and passing a returned frame to `__decoder_queue` only while
    `__decoder_thread` is set; `receive()` starting that thread and `__stop_decoder()` joining it.
    """
    buffer = buffer_class(kind, tap)
    if not hasattr(receiver, "_RTCRtpReceiver__jitter_buffer"):
        raise RuntimeError("aiortc changed: RTCRtpReceiver has no __jitter_buffer")
    receiver._RTCRtpReceiver__jitter_buffer = buffer
    original_receive = receiver.receive

    async def receive_without_decoder(parameters: Any) -> None:
        await original_receive(parameters)
        stop_decoder(receiver)

    receiver.receive = receive_without_decoder  # type: ignore[method-assign]
    route_rtx(receiver)
    return buffer


def route_rtx(receiver: RTCRtpReceiver) -> None:
    """Make retransmissions reach the receiver when several video receivers share a transport.

    aiortc registers only the media SSRCs of a receiver with the transport's RtpRouter; an RTX packet
    is then routed by payload type alone, and dropped as soon as two video receivers (a camera's high
    and low tracks, or a subscriber's several videos) share the RTX payload type. Relies on:
    `RTCDtlsTransport._rtp_router.ssrc_table` (SSRC → receiver) and `receive(parameters)` carrying the
    RTX SSRCs in `parameters.encodings[i].rtx.ssrc`.
    """
    original_receive = receiver.receive

    async def receive_and_route_rtx(parameters: Any) -> None:
        await original_receive(parameters)
        table = receiver.transport._rtp_router.ssrc_table
        for encoding in parameters.encodings:
            if encoding.rtx is not None:
                table[encoding.rtx.ssrc] = receiver

    receiver.receive = receive_and_route_rtx  # type: ignore[method-assign]


def stop_decoder(receiver: RTCRtpReceiver) -> None:
    """Join the receiver's (idle) decoder thread so no decoder is ever created.

    Relies on: the name-mangled `RTCRtpReceiver.__stop_decoder()` and `__decoder_thread`.
    """
    receiver._RTCRtpReceiver__stop_decoder()  # type: ignore[attr-defined]


def decoder_running(receiver: RTCRtpReceiver) -> bool:
    """Relies on: the name-mangled `RTCRtpReceiver.__decoder_thread`."""
    return receiver._RTCRtpReceiver__decoder_thread is not None  # type: ignore[attr-defined]


def receiver_rtcp_ssrc(receiver: RTCRtpReceiver) -> int | None:
    """The SSRC the receiver puts as sender of its RTCP (RR, NACK, PLI).

    Relies on: the name-mangled `RTCRtpReceiver.__rtcp_ssrc`, set by the peer connection.
    """
    return receiver._RTCRtpReceiver__rtcp_ssrc  # type: ignore[attr-defined]


class RtpWriter:
    """Protects and sends RTP/RTCP on a DTLS transport synchronously: no coroutine or task per packet.

    Relies on: `RTCDtlsTransport._tx_srtp` (a pylibsrtp Session), `RTCDtlsTransport.transport` →
    `RTCIceTransport._connection` (an aioice Connection) whose `_nominated[1]` pair has `protocol` (with an
    asyncio datagram `transport` for host/srflx candidates, or an async `send_data`) and `remote_addr`.
    """

    __slots__ = ("_dtls", "_protect", "_protect_rtcp", "_sendto", "_addr", "_async_send")
    # Also relies on asyncio's selector datagram transport keeping its socket in `_sock`.

    def packet_sender(self) -> PacketSender:
        """The hot path's send(header, ext, payload); see `srtp_packet_sender`."""
        if self._sendto is not None:
            return srtp_packet_sender(self._dtls._tx_srtp, self._sendto, self._addr)
        protect = self._protect
        send_async = self._async_send
        addr = self._addr

        def send(header: bytes, ext: bytes, payload: bytes, owner: object = None) -> int:
            out = protect(header + ext + payload)  # type: ignore[misc]
            asyncio.ensure_future(send_async(out, addr))  # type: ignore[misc]
            return len(out)

        return send

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self._dtls = dtls
        self._protect: Callable[[bytes], bytes] | None = None
        self._protect_rtcp: Callable[[bytes], bytes] | None = None
        self._sendto: Callable[[bytes, Any], None] | None = None
        self._addr: Any = None
        self._async_send: Callable[[bytes, Any], Awaitable[None]] | None = None

    def resolve(self) -> bool:
        """Look the send path up once the transport is connected; False while it is not."""
        dtls = self._dtls
        if dtls.state != "connected" or dtls._tx_srtp is None:
            return False
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            return False
        self._protect = dtls._tx_srtp.protect
        self._protect_rtcp = dtls._tx_srtp.protect_rtcp
        self._addr = pair.remote_addr
        datagram = getattr(pair.protocol, "transport", None)
        sock = getattr(datagram, "_sock", None)
        if sock is not None and callable(getattr(sock, "sendto", None)):
            # the datagram transport's non-blocking socket itself: one syscall, no asyncio bookkeeping.
            # A full socket buffer raises BlockingIOError and the packet is dropped, as UDP would.
            self._sendto = sock.sendto
        elif datagram is not None and callable(getattr(datagram, "sendto", None)):
            self._sendto = datagram.sendto
        else:
            self._async_send = pair.protocol.send_data
        return True

    @property
    def closed(self) -> bool:
        return self._dtls.state in ("closed", "failed")

    @property
    def ready(self) -> bool:
        return self._protect is not None and self._dtls.state == "connected"

    def _send(self, out: bytes) -> None:
        if self._sendto is None:
            asyncio.ensure_future(self._async_send(out, self._addr))  # type: ignore[misc]
            return
        try:
            self._sendto(out, self._addr)
        except (OSError, AttributeError) as e:
            logger.debug("RTP writer: packet dropped (%s)", e)  # full buffer or closed transport

    def write_rtcp(self, data: bytes) -> None:
        if not self.ready:
            return
        try:
            out = self._protect_rtcp(data)  # type: ignore[misc]
        except pylibsrtp.Error:
            return
        self._send(out)


PacketSender = Callable[..., int]  # send(header, ext, payload[, owner]): the pacer's signature, `owner` unused here


def srtp_packet_sender(session: pylibsrtp.Session, sendto: Callable[[Any, Any], Any], addr: Any) -> PacketSender:
    """send(header, ext, payload): assemble the packet in libsrtp's work buffer, protect it in place and
    send it from there — one copy of the payload per subscriber, no per-packet allocation.

    Returns the bytes on the wire; raises pylibsrtp.Error if SRTP refuses, OSError from the socket.
    Relies on: pylibsrtp's `Session._srtp` (the srtp_t handle), `_cdata` (its 1500-byte work buffer)
    and `_buffer` (a buffer view of it), and `_binding.lib.srtp_protect(srtp_t, void *, int *)`.
    """
    from pylibsrtp._binding import ffi, lib

    srtp = session._srtp[0]
    cdata = session._cdata
    view = session._buffer
    window = memoryview(view)
    length = ffi.new("int *")
    protect = lib.srtp_protect
    limit = len(cdata) - 144  # SRTP_MAX_TRAILER_LEN

    def send(header: bytes, ext: bytes, payload: bytes, owner: object = None) -> int:
        start = len(header)
        if ext:
            view[0:start] = header
            view[start : start + len(ext)] = ext
            start += len(ext)
        else:
            view[0:start] = header
        n = start + len(payload)
        if n > limit:
            raise pylibsrtp.Error("packet is too long")
        view[start:n] = payload
        length[0] = n
        if protect(srtp, cdata, length):
            raise pylibsrtp.Error("srtp_protect failed")
        n = length[0]
        sendto(window[0:n], addr)
        return n

    send.session = session  # type: ignore[attr-defined]  # keeps the handle alive
    return send


RtcpHandler = Callable[[AnyRtcpPacket], Awaitable[bool]]


def intercept_sender_rtcp(sender: RTCRtpSender, handler: RtcpHandler) -> None:
    """Give RTCP addressed to a sender's SSRC (NACK, PLI, FIR, RR, REMB) to `handler` first; if it returns
    False the sender's own handling runs too (for RTT and remote-inbound stats from RRs).

    Relies on: the DTLS transport's RtpRouter calling `sender._handle_rtcp_packet(packet)` for RTCP whose
    media SSRC or report SSRC is `sender._ssrc`.
    """
    original = sender._handle_rtcp_packet

    async def handle(packet: AnyRtcpPacket) -> None:
        if not await handler(packet):
            await original(packet)

    sender._handle_rtcp_packet = handle  # type: ignore[method-assign]


def capture_send_parameters(
    sender: RTCRtpSender, callback: Callable[[RTCRtpSendParameters], None]
) -> None:
    """Learn the negotiated codecs and header extensions when the peer connection starts the sender.

    Relies on: `RTCPeerConnection.__connect` calling `sender.send(parameters)` once the DTLS transport is
    connected (the send path is usable from then on) — and again after every renegotiation, when the
    sender ignores it: `callback` runs each time.
    """
    original = sender.send

    async def send(parameters: RTCRtpSendParameters) -> None:
        await original(parameters)
        callback(parameters)

    sender.send = send  # type: ignore[method-assign]


def sender_ssrcs(sender: RTCRtpSender) -> tuple[int, int]:
    """(media SSRC, RTX SSRC) the sender announced in SDP. Relies on: `_ssrc`, `_rtx_ssrc`."""
    return sender._ssrc, sender._rtx_ssrc


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """Announce the sender under `a=msid:<stream_id> <track id>`. Relies on: `RTCRtpSender._stream_id`."""
    sender._stream_id = stream_id


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Bots: be told when the remote asks this sender for a keyframe (PLI or FIR). Relies on:
    `RTCRtpSender._handle_rtcp_packet` calling `self._send_keyframe()` for PLI/FIR.
    """
    original = sender._send_keyframe

    def send_keyframe() -> None:
        original()
        callback()

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]


def on_retransmit(sender: RTCRtpSender, callback: Callable[[int], None]) -> None:
    """Bots: be told of each sequence number the remote NACKed. Relies on: `RTCRtpSender._retransmit(seq)`
    being awaited for every NACKed sequence number."""
    original = sender._retransmit

    async def retransmit(sequence_number: int) -> None:
        callback(sequence_number)
        await original(sequence_number)

    sender._retransmit = retransmit  # type: ignore[method-assign]


async def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Bots: ask the remote sender for a keyframe. Relies on: `RTCRtpReceiver._send_rtcp_pli`."""
    await receiver._send_rtcp_pli(media_ssrc)


async def send_remb(receiver: RTCRtpReceiver, bitrate: int, media_ssrcs: list[int]) -> bool:
    """Bots: report an estimate of `bitrate` bits/s for the remote's `media_ssrcs` (a receiver whose RTP never
    reaches aiortc has none of its own). Relies on: `__rtcp_ssrc` and `RTCRtpReceiver._send_rtcp(packet)`."""
    if (rtcp_ssrc := receiver_rtcp_ssrc(receiver)) is None:
        return False  # not started yet
    packet = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(bitrate, media_ssrcs))
    await receiver._send_rtcp(packet)
    return True


def stop_own_remb(receiver: RTCRtpReceiver) -> None:
    """Bots: the receiver sends no REMB of its own estimate (a starved bot's is not its line's; the bench sends
    a fixed one). Relies on: the name-mangled `__remote_bitrate_estimator`, None for audio receivers."""
    receiver._RTCRtpReceiver__remote_bitrate_estimator = None  # type: ignore[attr-defined]


RECEIVE_BUFFER = 4 * 1024 * 1024  # bytes; Linux caps it at net.core.rmem_max (4 MiB on a stock kernel)
SFU_RECEIVE_BUFFER = 256 * 1024  # ~1 s of 2.5 Mbps: a GC pause fits; overloaded, drop (NACK, PLI), never queue 8 s


def ice_sockets(pc: RTCPeerConnection) -> list[Any]:
    """The UDP sockets of a connection's local ICE candidates (host candidates; TURN relays have none). Relies
    on: `RTCDtlsTransport.transport` → `RTCIceTransport._connection` (an aioice Connection) whose `_protocols`
    each hold an asyncio datagram `transport` (the socket is its extra info "socket")."""
    out: list[Any] = []
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport or transceiver.receiver.transport
        connection = getattr(getattr(dtls, "transport", None), "_connection", None)
        for protocol in getattr(connection, "_protocols", ()):
            sock = getattr(getattr(protocol, "transport", None), "get_extra_info", lambda _: None)("socket")
            if sock is not None and all(sock is not known for known in out):
                out.append(sock)
    return out


def grow_receive_buffers(pc: RTCPeerConnection, size: int = RECEIVE_BUFFER) -> int:
    """Give every ICE socket of a connection a larger kernel receive buffer (a stalled loop lets the default
    208 KiB fill with a few keyframes); returns how many were set. The SFU passes SFU_RECEIVE_BUFFER."""
    done = 0
    for sock in ice_sockets(pc):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            done += 1
    return done


async def close(pc: RTCPeerConnection) -> None:
    """Close `pc`, shielded: aiortc's `close()` hands every caller after the first one shared future (its own
    close task, started when every DTLS transport ended, is often the first), and cancelling one caller
    cancels that future, so the close in progress failed with InvalidStateError and left its transports
    half stopped ("Task exception was never retrieved"). A recovery task cancelled as its room closes is such
    a caller."""
    await asyncio.shield(pc.close())

