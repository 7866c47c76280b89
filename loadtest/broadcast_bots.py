"""A teacher bot that publishes H.264 (as a browser does in a broadcast room) with a readable frame number.

Each picture carries its frame number in the clip's black/white band (`web.demo.clip.pattern`), and the
bot remembers when it sent each number, so a viewer that reads the number back knows the glass-to-glass
latency of what it shows. aiortc encodes the frames with libx264 (Baseline, packetization-mode 1) and
answers a PLI with an IDR, as a browser does.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from loadtest.bots import Signal
from web.demo.clip import pattern
from web.demo.tracks import ToneTrack

VIDEO_CLOCK = 90000


class NumberedTrack(MediaStreamTrack):
    """Raw frames numbered 0, 1, 2… (mod 4096) at `fps`; `sent_at[n % 4096]` is when frame n left."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        rng = np.random.default_rng(7)
        noise = rng.integers(60, 190, size=(height, width + 64), dtype=np.uint8)
        self._noise = np.repeat(np.repeat(noise[::8, ::8], 8, axis=0), 8, axis=1)[:height, : width + 64]
        self.sent = 0
        self.sent_at: dict[int, float] = {}
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self.sent / self.fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n = self.sent
        picture = pattern(n & 0xFFF, self.width, self.height, self._noise, n % 64)
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = n * VIDEO_CLOCK // self.fps
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        self.sent_at[n & 0xFFF] = time.time()
        self.sent += 1
        return frame

    def latency_of(self, number: int, now: float | None = None) -> float | None:
        sent = self.sent_at.get(number & 0xFFF)
        return None if sent is None else (now or time.time()) - sent


class H264Teacher:
    """Publishes a numbered H.264 camera and a tone microphone through a `Signal` (WsSignal or DirectSignal)."""

    def __init__(
        self, name: str, signal: Signal, width: int = 320, height: int = 240, fps: int = 15,
        track: MediaStreamTrack | None = None,
    ) -> None:
        self.name = name
        self.signal = signal
        self.video = NumberedTrack(width, height, fps)
        self.track = track or self.video  # another H.264 source (the bench's pre-encoded clip)
        self.tone = ToneTrack(440.0, True)
        self.pub: RTCPeerConnection | None = None

    async def publish(self) -> None:
        pc = self.pub = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy="max-bundle"))
        video = pc.addTransceiver(self.track, direction="sendonly")
        h264 = [
            c for c in RTCRtpSender.getCapabilities("video").codecs
            if (c.name == "H264" and c.parameters.get("packetization-mode") == "1") or c.name == "rtx"
        ]  # fmt: skip
        video.setCodecPreferences(h264)
        audio = pc.addTransceiver(self.tone, direction="sendonly")
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        tracks = [
            {"mid": video.mid, "kind": "video", "source": "camera", "quality": "high"},
            {"mid": audio.mid, "kind": "audio", "source": "microphone", "quality": "high"},
        ]
        answer = await self.signal.publish(self, pc.localDescription.sdp, tracks)  # type: ignore[arg-type]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def on_subscriber_offer(self, sdp: str, offer_id: int | None = None) -> None:
        """A teacher in a broadcast subscribes to nothing it needs here; the offer is left unanswered."""

    async def close(self) -> None:
        if self.pub is not None:
            await self.pub.close()
