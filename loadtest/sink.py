"""Sink subscribers: real WebRTC subscribers whose media the kernel drops, so that hundreds of them cost the
bot processes almost nothing and the SFU's capacity, not the bots', is what `sanke bench media` finds.

A counting bot (`loadtest.bots`, mode "count") unprotects every SRTP packet and runs aiortc's jitter buffer:
several times the SFU's own cost per packet, so on a small machine its bots ran out of CPU long before the
SFU did. A sink does what a subscriber does towards the SFU (ICE, the DTLS handshake, consent answers, an
answer to every offer, a REMB a second so the SFU's bandwidth logic sees a healthy line) but a classic BPF
filter on its UDP sockets drops every RTP and RTCP datagram (first payload byte 0x80–0xBF, RFC 7983) in the
kernel, before Python; STUN and DTLS pass. What the SFU sent each sink is read from the SFU's own counters
(`loadtest.sfu_counts`); what a subscriber really receives is measured by a few counting bots beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import socket
import struct
from typing import Any, Protocol

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription

from loadtest.signals import answer_in_turn
from media import aiortc_seams as seams
from media import consent
from web.demo.sdp import certificate

SO_ATTACH_FILTER = 26  # <asm-generic/socket.h>
UDP_HEADER = 8  # a UDP socket's filter sees the UDP header first (tests/loadtest/test_sink.py checks it)
REMB_BPS = 3_000_000  # what a sink reports: a healthy line, well above the 1 Mbps stream


class Subscribing(Protocol):
    """What the bench's signaling needs of a subscriber bot (a counting `Bot` or a `Sink`)."""

    name: str

    async def on_subscriber_offer(self, sdp: str, offer_id: int | None = None) -> None: ...


class Signal(Protocol):
    async def subscriber_answer(self, bot: Any, sdp: str, offer_id: int | None = None) -> None: ...


def rtp_drop_program(offset: int = UDP_HEADER) -> list[tuple[int, int, int, int]]:
    """Classic BPF (code, jt, jf, k): drop a datagram whose first payload byte is 0x80–0xBF (RTP and RTCP),
    keep anything else (STUN 0x00–0x03, DTLS 0x14–0x3F). A datagram too short to read is dropped."""
    return [
        (0x30, 0, 0, offset),  # ldb [offset]
        (0x35, 0, 2, 0x80),  # jge #0x80 ? next : keep
        (0x25, 1, 0, 0xBF),  # jgt #0xBF ? keep : drop
        (0x06, 0, 0, 0),  # ret #0: drop
        (0x06, 0, 0, 0xFFFF),  # ret #0xffff: keep
    ]


def attach_filter(sock: Any, program: list[tuple[int, int, int, int]]) -> None:
    """SO_ATTACH_FILTER with a `struct sock_fprog` built here (the kernel copies the program at once)."""
    code = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *op) for op in program))
    fprog = struct.pack("@HP", len(program), ctypes.addressof(code))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def video_ssrcs(sdp: str) -> list[int]:
    """The media SSRC of each video m-line of an offer (the first of an FID group: not its RTX)."""
    out = []
    for media in SessionDescription.parse(sdp).media:
        if media.kind != "video" or not media.ssrc:
            continue
        fid = next((g.items for g in media.ssrc_group if g.semantic == "FID"), None)
        out.append(int(fid[0]) if fid else media.ssrc[0].ssrc)
    return out


class Sink:
    """One sink subscriber (see the module docstring)."""

    def __init__(self, name: str, signal: Signal, remb_bps: int = REMB_BPS, drop: bool = True) -> None:
        self.name = name
        self.drop = drop  # False: the filter is left off (a test's control: the same sink then gets the RTP)
        self.rtp_seen = 0  # media packets that reached aiortc (with the filter on: none)
        self.signal = signal
        self.remb_bps = remb_bps
        self.pc: RTCPeerConnection | None = None
        self._certificate = ""
        self._offers = asyncio.Lock()
        self.offer_id: int | None = None  # the id of the SFU offer being answered (echoed in the answer)
        self.answered: int | None = None  # the id of the last offer whose answer the SFU took
        self.refused: list[str] = []  # codes of answers the SFU refused (`stale_answer`: it offers anew)
        self.ssrcs: list[int] = []
        self.filtered = 0  # sockets the filter is on
        self.rembs = 0

    @property
    def connected(self) -> bool:
        return self.pc is not None and self.pc.connectionState == "connected"

    async def on_subscriber_offer(self, sdp: str, offer_id: int | None = None) -> None:
        """Answered as a counting `Bot` answers (`loadtest.signals.answer_in_turn`), echoing the offer's id: an
        answer without one is checked by its m-lines alone, which take an answer to an earlier offer with the
        same m-lines for one to the offer outstanding."""
        async with self._offers:
            await answer_in_turn(self, offer_id, lambda: self._answer(sdp))

    async def _answer(self, sdp: str) -> None:
        offered_by = certificate(sdp)
        if self.pc is not None and offered_by != self._certificate:  # the SFU's replacement connection
            old, self.pc = self.pc, None
            await old.close()
        self._certificate = offered_by
        if self.pc is None:
            self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy="max-bundle"))
            self.pc.on("track", self._on_track)
        pc = self.pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        consent.install(pc)  # RFC 7675's 30 s expiry, as a browser (aioice's own closed starved bots)
        self.ssrcs = video_ssrcs(sdp)
        self.filtered = 0
        for sock in seams.ice_sockets(pc) if self.drop else ():  # before the answer leaves: no RTP before
            attach_filter(sock, rtp_drop_program())
            self.filtered += 1
        await self.signal.subscriber_answer(self, pc.localDescription.sdp, self.offer_id)

    def _on_track(self, track: MediaStreamTrack) -> None:
        """No jitter buffer and no decoder thread: nothing would reach them anyway."""
        assert self.pc is not None
        for transceiver in self.pc.getTransceivers():
            if transceiver.receiver.track is track:
                seams.install_receive_tap(transceiver.receiver, track.kind, self._seen)

    def _seen(self, packet: object) -> None:
        self.rtp_seen += 1

    async def send_remb(self) -> bool:
        """One REMB for the connection's video streams (as a browser sends one for its whole connection)."""
        if self.pc is None or not self.connected:
            return False
        if await report_remb(self.pc, self.ssrcs, self.remb_bps):
            self.rembs += 1
            return True
        return False

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()


async def report_remb(pc: RTCPeerConnection, ssrcs: list[int], bps: int) -> bool:
    """Send one REMB of `bps` for `ssrcs` on `pc`'s first video receiver; False when there is none yet."""
    receiver = next((t.receiver for t in pc.getTransceivers() if t.kind == "video"), None)
    if receiver is None or not ssrcs:
        return False
    with contextlib.suppress(ConnectionError):
        return await seams.send_remb(receiver, bps, ssrcs)
    return False


class ProbeRemb:
    """A counting bot reports the same fixed REMB as a sink instead of aiortc's own estimate: a probe starved of
    CPU on the bench's machine sees delay that no line has, and its falling REMB had the SFU's bandwidth logic
    pace it (all eight probes at load 18: 0 fps) — a browser on a machine of its own would not."""

    def __init__(self, bot: Any, remb_bps: int = REMB_BPS) -> None:
        self.bot = bot  # a loadtest.bots.Bot: its `sub` may be replaced by the SFU's new connection
        self.remb_bps = remb_bps

    async def send_remb(self) -> bool:
        pc = self.bot.sub
        if pc is None or pc.connectionState != "connected" or pc.remoteDescription is None:
            return False
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video":
                seams.stop_own_remb(transceiver.receiver)
        return await report_remb(pc, video_ssrcs(pc.remoteDescription.sdp), self.remb_bps)


async def remb_loop(sinks: list[Any], interval: float = 1.0) -> None:
    """Every sink (or `ProbeRemb`) reports its REMB once an `interval` (one task for a bot process)."""
    while True:
        for sink in list(sinks):
            await sink.send_remb()
        await asyncio.sleep(interval)
