"""The packager's byte-level parts against libx264 and libavformat: picture size read from the SPS (with
cropping, and High profile's extra fields), and our fMP4 init + fragment read back by FFmpeg's demuxer."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
import pytest

from media import fmp4
from media.h264 import annexb_units, length_prefixed, parameter_sets


def encode(width: int, height: int, frames: int, profile: str) -> list[bytes]:
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, 30)
    codec.profile = profile
    codec.options = {"tune": "zerolatency", "preset": "ultrafast"}
    out = []
    for n in range(frames):
        picture = np.full((height * 3 // 2, width), (n * 40) % 255, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = n
        out.extend(bytes(p) for p in codec.encode(frame))
    out.extend(bytes(p) for p in codec.encode(None))
    return out


@pytest.mark.parametrize(("width", "height", "profile"), [(320, 180, "Baseline"), (640, 480, "Baseline"),
                                                         (1920, 1080, "High"), (352, 288, "Main")])
def test_sps_size_and_fmp4_read_back_by_ffmpeg(width: int, height: int, profile: str) -> None:
    units = encode(width, height, 5, profile)
    params = parameter_sets(annexb_units(units[0]))
    assert params is not None and (params.width, params.height) == (width, height)
    tracks: list[fmp4.Track] = [fmp4.VideoTrack(1, params.width, params.height, params.avcc())]
    samples = [(3000, length_prefixed(annexb_units(u)), i == 0) for i, u in enumerate(units)]
    data = fmp4.init_segment(tracks) + fmp4.fragment(1, [fmp4.Run(1, 0, samples)])
    with av.open(io.BytesIO(data), format="mp4") as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (width, height)
        decoded = list(container.decode(stream))
    assert len(decoded) == len(units)
    assert [round(float(f.pts * f.time_base), 3) for f in decoded] == [round(i / 30, 3) for i in range(len(units))]
