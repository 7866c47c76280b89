"""Small synthetic lessons encoded once with PyAV, shaped as the SFU's EncodedFrames.

Used by the tests and the benchmark to feed the recorder real VP8/H.264/Opus without a browser. Each video
clip is one flat colour with a moving bar, so a composite's layout can be checked by its pixels.
`Clip` is the one clip type: the media bots' numbered VP8 clip (`loadtest/clip.py`) is a `Clip` too,
with each frame's intra-only version in `keys` so a bot can answer a PLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

import av
import numpy as np

from media.frames import EncodedFrame

VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000


@dataclass(frozen=True, slots=True)
class Clip:
    """Encoded frames of one track, covering `seconds`; timestamps start at a random-looking RTP base.
    A bot's video clip also has `keys` (an intra-only version of every frame), its size and frame rate."""

    frames: tuple[EncodedFrame, ...]
    seconds: float
    keys: tuple[bytes, ...] = ()
    width: int = 0
    height: int = 0
    fps: int = 0

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def deltas(self) -> list[bytes]:
        """The normal stream's payloads (the first is a keyframe)."""
        return [f.data for f in self.frames]

    def shifted(self, track_id: str, rtp_base: int, arrival_base: float) -> list[EncodedFrame]:
        return [
            replace(
                f,
                track_id=track_id,
                timestamp=(f.timestamp + rtp_base) & 0xFFFFFFFF,
                arrival=arrival_base + f.timestamp / f.clock_rate,
            )
            for f in self.frames
        ]


def video_clip(
    seconds: float,
    *,
    codec: str = "VP8",
    width: int = 160,
    height: int = 120,
    fps: int = 15,
    rgb: tuple[int, int, int] = (0, 160, 0),
    bit_rate: int = 200_000,
    gop: int = 30,
) -> Clip:
    name = {"vp8": "libvpx", "h264": "libx264"}[codec.lower()]
    ctx = av.CodecContext.create(name, "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, VIDEO_CLOCK)
    ctx.framerate = Fraction(fps)
    ctx.bit_rate = bit_rate
    ctx.gop_size = gop
    if name == "libx264":
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "bframes": "0"}
    else:
        ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    base = np.empty((height, width, 3), np.uint8)
    base[:] = rgb
    bar = max(2, width // 16)
    packets = []
    count = round(seconds * fps)
    for i in range(count):
        img = base.copy()
        x = (i * 3) % (width - bar)
        img[:, x : x + bar] = (255, 255, 255)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i * VIDEO_CLOCK // fps
        frame.time_base = ctx.time_base
        packets.extend(ctx.encode(frame))
    packets.extend(ctx.encode(None))
    frames = tuple(
        EncodedFrame(
            track_id="",
            kind="video",
            codec=codec,
            data=bytes(p),
            timestamp=int(p.pts),
            clock_rate=VIDEO_CLOCK,
            keyframe=bool(p.is_keyframe),
            arrival=0.0,
        )
        for p in sorted(packets, key=lambda p: p.pts)
    )
    return Clip(frames, count / fps)


def audio_clip(seconds: float, *, tone_hz: float = 440.0) -> Clip:
    """Opus in 20 ms packets, as WebRTC sends it."""
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate = AUDIO_CLOCK
    ctx.layout = "stereo"
    ctx.format = "s16"
    ctx.bit_rate = 32000
    ctx.time_base = Fraction(1, AUDIO_CLOCK)
    step = 960
    total = round(seconds * AUDIO_CLOCK / step)
    t = np.arange(step) / AUDIO_CLOCK
    packets = []
    for i in range(total):
        wave = (np.sin(2 * np.pi * tone_hz * (t + i * step / AUDIO_CLOCK)) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(wave[None, :], 2, axis=0).T.reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = AUDIO_CLOCK
        frame.pts = i * step
        frame.time_base = ctx.time_base
        packets.extend(ctx.encode(frame))
    packets.extend(ctx.encode(None))
    packets = [p for p in packets if p.pts is not None]
    first = packets[0].pts if packets else 0
    frames = tuple(
        EncodedFrame(
            track_id="",
            kind="audio",
            codec="opus",
            data=bytes(p),
            timestamp=int(p.pts - first),
            clock_rate=AUDIO_CLOCK,
            keyframe=True,
            arrival=0.0,
        )
        for p in packets
    )
    return Clip(frames, total * step / AUDIO_CLOCK)


def looped(
    clip: Clip, seconds: float, track_id: str, *, rtp_base: int = 0, arrival_base: float = 0.0
) -> Iterator[EncodedFrame]:
    """Repeat a clip (it starts with a keyframe) to cover `seconds`, with continuous timestamps."""
    elapsed = 0.0
    while elapsed < seconds - 1e-9:
        for frame in clip.frames:
            if frame.timestamp >= clip.seconds * frame.clock_rate:
                continue  # encoder flush output past the clip's end
            t = elapsed + frame.timestamp / frame.clock_rate
            if t >= seconds - 1e-9:
                return
            ts = round(t * frame.clock_rate)
            yield replace(
                frame,
                track_id=track_id,
                timestamp=(ts + rtp_base) & 0xFFFFFFFF,
                arrival=arrival_base + t,
            )
        elapsed += clip.seconds
