"""Which container and muxer settings each negotiated codec is recorded with, and the few header bits we read.

Reading the VP8 frame header (no decoding) gives the picture size the container header should carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from media.h264 import annexb_units


@dataclass(frozen=True, slots=True)
class Container:
    format: str  # libavformat muxer
    suffix: str
    stream_codec: str  # the codec name PyAV's add_stream needs to describe the stream


_CONTAINERS = {
    "vp8": Container("webm", ".webm", "libvpx"),
    "opus": Container("webm", ".webm", "libopus"),
    "h264": Container("matroska", ".mkv", "libx264"),
}


class UnsupportedCodec(ValueError):
    pass


def container_for(codec: str) -> Container:
    try:
        return _CONTAINERS[codec.lower()]
    except KeyError:
        raise UnsupportedCodec(f"cannot record codec {codec!r}") from None


def vp8_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 §9.1), or None if this is not a keyframe."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


def h264_avcc(data: bytes) -> bytes | None:
    """The avcC record (ISO 14496-15) from the SPS and PPS an Annex-B keyframe carries in band.

    The container needs it in its header; taking it from the stream itself (rather than from an encoder
    PyAV would open to describe the stream) keeps header and packets in agreement.
    """
    units = annexb_units(data)
    sps = [u for u in units if u[0] & 0x1F == 7]
    pps = [u for u in units if u[0] & 0x1F == 8]
    if not sps or not pps or len(sps[0]) < 4:
        return None
    s, p = sps[0], pps[0]
    return (
        bytes([1, s[1], s[2], s[3], 0xFF, 0xE1])
        + len(s).to_bytes(2, "big")
        + s
        + b"\x01"
        + len(p).to_bytes(2, "big")
        + p
    )
