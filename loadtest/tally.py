"""How bots count what they receive, and the benches' cheap subscriber and publisher (`Bot(subscribe_mode="tally")`): frames counted from RTP as it
arrives, audio counted without decoding, a tone sent pre-encoded.

A bench bot shares the machine's two cores with the SFU it measures; what it spends is taken from the SFU's
figures. aiortc's jitter buffer (the `count` mode) costs a Python scan per packet and, after a packet that is
never repaired, counts nothing until 512 packets later (5 s of a 1 Mbps camera: a probe read 0 fps while the
SFU sent 30); an Opus decoder thread per audio track and an encoder hop to a thread per 20 ms tone frame
cost more than the video. A frame is still counted only when all of its packets arrived (a retransmission
may complete it later), so "held at ≥ 29 fps" means what it meant. The `count` bots' buffer
(`KeyframeResyncBuffer`) shows frames as a browser would after a hole: from the next keyframe on.
"""

from __future__ import annotations

import fractions
import time
from typing import Any

import av
from aiortc.codecs.opus import OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket

from media import aiortc_seams as seams
from media.rtp import vp8_keyframe_start
from web.demo.tracks import AUDIO_RATE, AUDIO_SAMPLES, ToneTrack

GIVE_UP_S = 1.0  # a frame still missing packets after this is lost (a browser would have asked for a keyframe)
_AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)


class FrameTally:
    """Counts a video track's complete frames from its RTP packets: a frame is the packets after the previous
    marker up to its own marker; it counts once none of them is missing. `on_frame()` is called per frame."""

    __slots__ = ("on_frame", "_next", "_open", "_pending")

    def __init__(self, on_frame: Any) -> None:
        self.on_frame = on_frame
        self._next: int | None = None  # the sequence number expected next
        self._open: set[int] = set()  # the holes of the frame still arriving
        self._pending: list[tuple[float, set[int]]] = []  # ended frames waiting for repairs: (ended at, holes)

    def __call__(self, packet: Any) -> None:
        seq = packet.sequence_number
        expected = self._next
        if expected is None or seq == expected:
            self._next = (seq + 1) & 0xFFFF
        elif (seq - expected) & 0xFFFF < 0x8000:  # ahead: the packets between are missing (so far)
            self._open.update((expected + i) & 0xFFFF for i in range((seq - expected) & 0xFFFF))
            self._next = (seq + 1) & 0xFFFF
        else:  # a late packet: a retransmission filling a hole
            self._repair(seq)
            return
        if packet.marker:
            if self._open:
                self._pending.append((time.monotonic(), self._open))
                self._open = set()
            else:
                self.on_frame()

    def _repair(self, seq: int) -> None:
        self._open.discard(seq)
        now = time.monotonic()
        kept = []
        for ended, holes in self._pending:
            holes.discard(seq)
            if not holes:
                self.on_frame()
            elif now - ended < GIVE_UP_S:
                kept.append((ended, holes))
        self._pending = kept


def install_tally(receiver: Any, kind: str, count: Any, check: Any) -> None:
    """A `tally` bot's receiver: video frames to `count(check)` as they complete (`FrameTally`), audio packets
    counted into `check` (a loadtest.bots VideoCheck / AudioCheck) undecoded."""
    if kind == "video":
        seams.install_receive_tap(receiver, "video", FrameTally(lambda: count(check)))
        return

    def heard(packet: Any) -> None:
        check.frames += 1
        check.times.append(time.monotonic())

    seams.install_receive_tap(receiver, "audio", heard)


class KeyframeResyncBuffer(seams.TapJitterBuffer):
    """aiortc's jitter buffer waits for a packet that never comes until 512 more have passed (many seconds of
    video); a browser's drops whatever is older than a keyframe that follows a hole. The SFU's pacer drops
    packets on purpose and asks the publisher for that keyframe (media.consumer `on_paced_drop`), so a bot
    counts frames as a browser would show them: from the keyframe on."""

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        origin = self._origin
        if origin is not None and vp8_keyframe_start(packet.payload):
            delta = (packet.sequence_number - origin) & 0xFFFF
            if 0 < delta < self.capacity and any(
                self._packets[(origin + i) % self.capacity] is None for i in range(delta)
            ):
                self.remove(delta)
        return super().add(packet)


class OpusTone(ToneTrack):
    """The bots' tone, encoded once (one second, 50 frames) and sent as Opus packets: aiortc then packs them
    without an encoder thread."""

    _cache: dict[tuple[float, bool], list[bytes]] = {}

    def __init__(self, hz: float, speaking: bool = True) -> None:
        super().__init__(hz, speaking)
        key = (hz, speaking)
        if key not in self._cache:
            encoder = OpusEncoder()
            second: list[bytes] = []
            n = 0
            while len(second) < 50:  # the encoder may hold the first frame back
                payloads, _ = encoder.encode(self.frame(n))
                second.extend(payloads)
                n += 1
            self._cache[key] = second[:50]
        self._packets = self._cache[key]

    async def recv(self) -> av.Packet:  # type: ignore[override]
        n = await self.next_index()
        packet = av.Packet(self._packets[n % len(self._packets)])
        packet.pts = n * AUDIO_SAMPLES
        packet.time_base = _AUDIO_TIME_BASE
        return packet
