"""A pre-encoded VP8 clip whose frame number can be read back from the decoded pixels.

Publishing bots send these bytes without encoding anything (cheap enough to run forty of them). Each
frame exists twice: in a normal stream (one keyframe, then deltas) and as an intra-only keyframe, so a
bot answers a PLI by sending the keyframe version of the next frame and continuing with the deltas.
The top band of each picture holds 12 bits of frame number and a 4-bit check, as black/white
macroblocks (the picture must be at least 128 pixels wide).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from fractions import Fraction

import av
import numpy as np

from media.frames import EncodedFrame
from recorder.testclip import VIDEO_CLOCK, Clip

BITS = 16
MB = 16  # blocks on the codec's macroblock grid are reproduced exactly enough to read back
BAND = 2 * MB  # two rows of eight bits
VIDEO_TIME_BASE = Fraction(1, 90000)


def _check(number: int) -> int:
    return (number * 7 + 3) & 0xF


def pattern(number: int, width: int, height: int, noise: np.ndarray, shift: int) -> np.ndarray:
    """yuv420p picture: a band of number bits on top of a scrolling noise texture."""
    y = np.roll(noise, shift, axis=1)[:height, :width].copy()
    value = (number & 0xFFF) | (_check(number & 0xFFF) << 12)
    y[:BAND, :] = 128
    for bit in range(BITS):
        row, col = divmod(bit, BITS // 2)
        y[row * MB : (row + 1) * MB, col * MB : (col + 1) * MB] = 235 if (value >> bit) & 1 else 16
    uv = np.full((height // 2, width), 128, dtype=np.uint8)
    return np.vstack([y, uv])


def read_number(frame: av.VideoFrame) -> int | None:
    """The frame number drawn by `pattern`, or None if the band is damaged (a broken frame)."""
    plane = frame.to_ndarray(format="yuv420p")
    value = 0
    for bit in range(BITS):
        row, col = divmod(bit, BITS // 2)
        block = plane[row * MB + 4 : (row + 1) * MB - 4, col * MB + 4 : (col + 1) * MB - 4]
        if float(block.mean()) >= 125:
            value |= 1 << bit
    number = value & 0xFFF
    return number if (value >> 12) == _check(number) else None


def _encoder(width: int, height: int, fps: int, bitrate: int, gop: int) -> av.VideoCodecContext:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.framerate = Fraction(fps, 1)
    codec.bit_rate = bitrate
    codec.gop_size = gop
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "bufsize": str(bitrate),
        "partitions": "0",
        # every frame decodes with default probabilities and no alt-ref, so a keyframe from the intra-only
        # stream can stand in for the normal stream's frame at a PLI
        "error-resilient": "1",
        "auto-alt-ref": "0",
    }
    codec.thread_count = 1
    return codec


def _encode(codec: av.VideoCodecContext, frame: av.VideoFrame) -> bytes:
    return b"".join(bytes(p) for p in codec.encode(frame))


def build(width: int, height: int, fps: int, frames: int, bitrate: int) -> Clip:
    rng = np.random.default_rng(7)
    noise = rng.integers(60, 190, size=(height, width + 64), dtype=np.uint8)
    noise = np.repeat(np.repeat(noise[::4, ::4], 4, axis=0), 4, axis=1)[:height]
    normal = _encoder(width, height, fps, bitrate, gop=10_000)
    intra = _encoder(width, height, fps, bitrate * 4, gop=1)
    deltas: list[bytes] = []
    keys: list[bytes] = []
    for i in range(frames):
        picture = pattern(i, width, height, noise, (i * 2) % 64)
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = i
        frame.time_base = Fraction(1, fps)
        deltas.append(_encode(normal, frame))
        key_frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        key_frame.pts = i
        key_frame.time_base = Fraction(1, fps)
        key_frame.pict_type = av.video.frame.PictureType.I
        keys.append(_encode(intra, key_frame))
    encoded = tuple(
        EncodedFrame(
            track_id="", kind="video", codec="VP8", data=data, timestamp=i * VIDEO_CLOCK // fps,
            clock_rate=VIDEO_CLOCK, keyframe=i == 0, arrival=0.0,
        )
        for i, data in enumerate(deltas)
    )  # fmt: skip
    return Clip(encoded, frames / fps, tuple(keys), width, height, fps)


def load(width: int = 320, height: int = 240, fps: int = 30, frames: int = 90, bitrate: int = 300_000) -> Clip:
    """Build once per parameter set and cache in the temp directory (the benchmark's processes share it)."""
    path = os.path.join(tempfile.gettempdir(), f"sanke-clip2-{width}x{height}-{fps}-{frames}-{bitrate}.pkl")
    try:
        with open(path, "rb") as f:
            clip = pickle.load(f)
        if isinstance(clip, Clip) and len(clip) == frames:
            return clip
    except (OSError, pickle.PickleError, EOFError, AttributeError):
        pass
    clip = build(width, height, fps, frames, bitrate)
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "wb") as f:
        pickle.dump(clip, f)
    os.replace(tmp, path)
    return clip
