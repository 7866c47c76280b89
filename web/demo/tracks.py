"""The tracks a media bot publishes: a pre-encoded clip sent without encoding (a PLI makes the next frame a
keyframe) and a sine tone whose pitch identifies the bot. Shared by the demo county's bots (web/demo/bots.py)
and the load tests and benchmarks (loadtest/bots.py imports them from here: product packages never import loadtest).
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from web.demo.clip import VIDEO_TIME_BASE, Clip

AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms


class ClipTrack(MediaStreamTrack):
    """Yields the clip's encoded frames at its frame rate; the next frame is a keyframe after a PLI."""

    kind = "video"

    def __init__(self, clip: Clip, start_at: float | None = None) -> None:
        super().__init__()
        self.clip = clip
        self.index = 0
        self.sent = 0
        self.keyframe_wanted = False
        self.keyframe_requests: list[float] = []
        self.keyframes_sent = 0
        self._start = start_at
        self._period = 1 / clip.fps

    def request_keyframe(self) -> None:
        self.keyframe_requests.append(time.monotonic())
        self.keyframe_wanted = True

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self.sent * self._period
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        i = self.index
        if self.keyframe_wanted and i != 0:
            data = self.clip.keys[i]
            self.keyframe_wanted = False
            self.keyframes_sent += 1
        else:
            data = self.clip.frames[i].data
            if i == 0:
                self.keyframe_wanted = False
                self.keyframes_sent += 1
        packet = av.Packet(data)
        packet.pts = int(self.sent * 90000 / self.clip.fps)
        packet.time_base = VIDEO_TIME_BASE
        self.sent += 1
        self.index = (i + 1) % len(self.clip)
        return packet


class ToneTrack(MediaStreamTrack):
    """A sine tone (or silence) in 20 ms frames; aiortc encodes it to Opus and adds the audio level."""

    kind = "audio"

    def __init__(self, hz: float, speaking: bool = True) -> None:
        super().__init__()
        self.hz = hz
        self.speaking = speaking
        self._n = 0
        self._start: float | None = None
        t = np.arange(AUDIO_SAMPLES * 50) / AUDIO_RATE  # one second, an integer number of periods
        self._wave = (np.sin(2 * math.pi * hz * t) * 9000).astype(np.int16)

    def frame(self, n: int) -> av.AudioFrame:
        """The tone's n-th 20 ms frame (it repeats every second)."""
        offset = (n % 50) * AUDIO_SAMPLES
        samples = self._wave[offset : offset + AUDIO_SAMPLES] if self.speaking else np.zeros(AUDIO_SAMPLES, np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = n * AUDIO_SAMPLES
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame

    async def next_index(self) -> int:
        """Wait until the next frame is due (real time from the first) and return its index."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._n * AUDIO_SAMPLES / AUDIO_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self._n += 1
        return self._n - 1

    async def recv(self) -> av.AudioFrame:
        return self.frame(await self.next_index())
