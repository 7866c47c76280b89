"""The numbered test clip lives with the product's demo bots (web/demo/clip.py); loadtest imports it there.

`grainy` adds fresh grain to every picture, so the encoder spends the whole bitrate it is given: the
demo clip's scrolling texture is predicted so well that a 1 Mbps setting yields under 200 kbps, too
little for a bandwidth test to tell a 600 kbps link from a 3 Mbps one.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from fractions import Fraction

import av
import numpy as np

from media.frames import EncodedFrame
from recorder.testclip import VIDEO_CLOCK
from web.demo.clip import VIDEO_TIME_BASE, Clip, build, load, pattern, read_number

__all__ = ["VIDEO_TIME_BASE", "Clip", "build", "grainy", "load", "pattern", "read_number"]


def _encoder(width: int, height: int, fps: int, bitrate: int, gop: int) -> av.VideoCodecContext:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.framerate = Fraction(fps, 1)
    codec.bit_rate = bitrate
    codec.gop_size = gop
    codec.options = {
        "deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "minrate": str(bitrate),
        "maxrate": str(bitrate), "bufsize": str(bitrate), "error-resilient": "1", "auto-alt-ref": "0",
    }  # fmt: skip
    codec.thread_count = 1
    return codec


def _encode(codec: av.VideoCodecContext, picture: np.ndarray, i: int, fps: int, intra: bool) -> bytes:
    frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
    frame.pts = i
    frame.time_base = Fraction(1, fps)
    if intra:
        frame.pict_type = av.video.frame.PictureType.I
    return b"".join(bytes(p) for p in codec.encode(frame))


def grainy(width: int, height: int, fps: int, frames: int, bitrate: int) -> Clip:
    """A numbered clip (see web/demo/clip.py) that really runs at about `bitrate`; cached on disk."""
    path = os.path.join(tempfile.gettempdir(), f"sanke-grainy1-{width}x{height}-{fps}-{frames}-{bitrate}.pkl")
    try:
        with open(path, "rb") as f:
            cached = pickle.load(f)
        if isinstance(cached, Clip) and len(cached) == frames:
            return cached
    except (OSError, pickle.PickleError, EOFError, AttributeError):
        pass
    rng = np.random.default_rng(11)
    noise = rng.integers(60, 190, size=(height, width + 64), dtype=np.uint8)
    normal = _encoder(width, height, fps, bitrate, gop=10_000)
    intra = _encoder(width, height, fps, bitrate * 4, gop=1)
    deltas: list[bytes] = []
    keys: list[bytes] = []
    for i in range(frames):
        picture = pattern(i, width, height, noise, (i * 2) % 64)
        grain = rng.integers(-24, 25, size=(height - 32, width), dtype=np.int16)
        picture[32:height] = np.clip(picture[32:height].astype(np.int16) + grain, 0, 255).astype(np.uint8)
        deltas.append(_encode(normal, picture, i, fps, intra=False))
        keys.append(_encode(intra, picture, i, fps, intra=True))
    encoded = tuple(
        EncodedFrame(track_id="", kind="video", codec="VP8", data=data, timestamp=i * VIDEO_CLOCK // fps,
                     clock_rate=VIDEO_CLOCK, keyframe=i == 0, arrival=0.0)
        for i, data in enumerate(deltas)
    )  # fmt: skip
    clip = Clip(encoded, frames / fps, tuple(keys), width, height, fps)
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "wb") as f:
        pickle.dump(clip, f)
    os.replace(tmp, path)
    return clip
