"""A subscribing bot behind a bandwidth shaper (`loadtest.shaper`): the SDP candidate swap that puts the
relay in its path, and a bot that counts frames as every bot does (`loadtest.bots.KeyframeResyncBuffer`) and
reads the layer from each keyframe's VP8 header.
"""

from __future__ import annotations

import re
import time
from typing import Any

from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RtpPacket

from loadtest.bots import Bot, KeyframeResyncBuffer, Signal, VideoCheck
from loadtest.shaper import ShaperProcess, UdpShaper
from media import aiortc_seams as seams
from media.rtp import vp8_keyframe_start

_CANDIDATE = re.compile(r"^a=candidate:(\S+) (\d) (udp|UDP) (\d+) (\S+) (\d+) typ (\S+).*$")


def _swap_candidates(sdp: str, to: tuple[str, int]) -> tuple[str, tuple[str, int] | None]:
    """Replace every ICE candidate with one host candidate at `to`; return the first IPv4 UDP one it had."""
    first: tuple[str, int] | None = None
    out: list[str] = []
    in_media = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            in_media = True
            out.append(line)
            out.append(f"a=candidate:shaper 1 udp 2130706431 {to[0]} {to[1]} typ host")
            continue
        if line.startswith("a=candidate:"):
            match = _CANDIDATE.match(line)
            if match and first is None and match.group(2) == "1" and ":" not in match.group(5):
                first = (match.group(5), int(match.group(6)))
            continue
        if line.startswith("a=end-of-candidates") and in_media:
            continue
        out.append(line)
    return "\r\n".join(out) + "\r\n", first


class ShapedSubscriber:
    """Puts a `UdpShaper` on a subscriber bot's connection by rewriting the SDP both ways."""

    def __init__(self, shaper: UdpShaper | ShaperProcess) -> None:
        self.shaper = shaper

    def rewrite_offer(self, sdp: str) -> str:
        """The SFU's offer, as the bot must see it: the SFU's only candidate is the relay's bot side."""
        sdp, sfu = _swap_candidates(sdp, self.shaper.bot_side)
        self.shaper.learn(sfu=sfu)  # the first m-line's transport: the one BUNDLE keeps
        return sdp

    def rewrite_answer(self, sdp: str) -> str:
        """The bot's answer, as the SFU must see it: the bot's only candidate is the relay's SFU side."""
        sdp, bot = _swap_candidates(sdp, self.shaper.sfu_side)
        self.shaper.learn(bot=bot)
        return sdp


class ShapedBot(Bot):
    """A subscribing bot whose subscriber connection runs through a `UdpShaper` (publishing is not shaped)."""

    def __init__(self, name: str, signal: Signal, shaper: UdpShaper | ShaperProcess, **kwargs: Any) -> None:
        super().__init__(name, signal, **kwargs)
        self.shaped = ShapedSubscriber(shaper)

    async def _answer_offer(self, sdp: str) -> None:
        """As `Bot` answers (a replacement offer on a new connection), through the relay: a replacement's two
        ends are new sockets, which the relay learns anew."""
        if await self._replaced(sdp):
            self.shaped.shaper.forget()
        pc = self._subscriber_pc()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=self.shaped.rewrite_offer(sdp), type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        seams.grow_receive_buffers(pc)  # the bot's own socket must not be what drops
        answer = self.shaped.rewrite_answer(pc.localDescription.sdp)
        await self.signal.subscriber_answer(self, answer, self.offer_id)

    def _on_track(self, track: MediaStreamTrack) -> None:
        """Video is counted, not decoded (three shaped subscribers on a loaded machine): complete frames
        and, from each keyframe's VP8 header, the picture size, which tells the layer."""
        if track.kind != "video" or self.sub is None:
            super()._on_track(track)
            return
        receiver = next(t.receiver for t in self.sub.getTransceivers() if t.receiver.track is track)
        check = self.video.setdefault(track.id, VideoCheck())

        def on_packet(packet: RtpPacket) -> None:
            size = vp8_keyframe_size(packet.payload)
            if size is not None and size != check.last_size:
                check.size_changes.append((time.monotonic(), size))
                check.last_size = size
                check.sizes.add(size)

        buffer = seams.install_receive_tap(receiver, "video", on_packet, KeyframeResyncBuffer)
        buffer.on_frame = lambda frame: self._count(check)


def vp8_keyframe_size(payload: bytes) -> tuple[int, int] | None:
    """(width, height) if this VP8 RTP payload starts a keyframe (RFC 7741 descriptor, RFC 6386 header)."""
    if not vp8_keyframe_start(payload):
        return None
    i = 1
    if payload[0] & 0x80:
        b1 = payload[1]
        i = 2
        if b1 & 0x80:
            i += 2 if payload[i] & 0x80 else 1
        if b1 & 0x40:
            i += 1
        if b1 & 0x30:
            i += 1
    header = payload[i : i + 10]
    if len(header) < 10 or header[3:6] != b"\x9d\x01\x2a":
        return None
    return (header[6] | header[7] << 8) & 0x3FFF, (header[8] | header[9] << 8) & 0x3FFF
