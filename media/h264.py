"""H.264 access units as the SFU receives them, read without decoding: NAL units, parameter sets, picture size.

The receive tap hands the packager frames that aiortc's depayloader already reassembled from FU-A
fragments and STAP-A aggregates into Annex-B (start codes before each NAL unit). MP4 wants the same NAL
units length-prefixed, and its header wants the SPS/PPS (avcC) and the picture size (read from the SPS by
its exp-Golomb fields; nothing is decoded).
"""

from __future__ import annotations

from dataclasses import dataclass

NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9


def annexb_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex-B buffer (3- or 4-byte start codes), without their start codes."""
    units = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        start = i + 3
        nxt = data.find(b"\x00\x00\x01", start)
        end = len(data) if nxt < 0 else nxt
        unit = data[start:end]
        if nxt >= 0:
            unit = unit.rstrip(b"\x00")  # a 4-byte start code's leading zero, trailing_zero_8bits (a NAL ends in 1)
        if unit:
            units.append(unit)
        i = nxt
    return units


def length_prefixed(units: list[bytes]) -> bytes:
    """An MP4 sample: each NAL unit after its 4-byte big-endian length (AUDs dropped, as MP4 needs none)."""
    return b"".join(len(u).to_bytes(4, "big") + u for u in units if u[0] & 0x1F != NAL_AUD)


@dataclass(frozen=True, slots=True)
class ParameterSets:
    sps: bytes
    pps: bytes
    width: int
    height: int

    @property
    def codec_string(self) -> str:
        """RFC 6381 name for HLS/MSE, e.g. avc1.42e01f."""
        return "avc1." + self.sps[1:4].hex()

    def avcc(self) -> bytes:
        """The avcC record (ISO 14496-15 §5.3.3.1) with one SPS and one PPS, 4-byte NAL lengths."""
        s, p = self.sps, self.pps
        return bytes([1, s[1], s[2], s[3], 0xFF, 0xE1]) + len(s).to_bytes(2, "big") + s + b"\x01" + len(
            p
        ).to_bytes(2, "big") + p


def parameter_sets(units: list[bytes]) -> ParameterSets | None:
    """SPS, PPS and picture size from a keyframe's NAL units, or None when either set is missing."""
    sps = next((u for u in units if u[0] & 0x1F == NAL_SPS), None)
    pps = next((u for u in units if u[0] & 0x1F == NAL_PPS), None)
    if sps is None or pps is None or len(sps) < 4:
        return None
    try:
        width, height = sps_size(sps)
    except (IndexError, ValueError):
        return None
    return ParameterSets(sps, pps, width, height)


def is_idr(units: list[bytes]) -> bool:
    return any(u[0] & 0x1F == NAL_IDR for u in units)


class _Bits:
    """Exp-Golomb reader over an RBSP (emulation-prevention bytes removed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data.replace(b"\x00\x00\x03", b"\x00\x00")
        self.pos = 0

    def bit(self) -> int:
        byte = self.data[self.pos >> 3]
        value = (byte >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _skip_scaling_list(r: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + r.se() + 256) % 256
        last = nxt or last


def sps_size(sps: bytes) -> tuple[int, int]:
    """Cropped picture width and height from an SPS NAL unit (H.264 §7.3.2.1.1)."""
    r = _Bits(sps[1:])
    profile = r.bits(8)
    r.bits(16)  # constraint flags, level
    r.ue()  # seq_parameter_set_id
    chroma = 1
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = r.ue()
        if chroma == 3:
            r.bit()
        r.ue()
        r.ue()
        r.bit()
        if r.bit():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if r.bit():
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.bit()
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()  # max_num_ref_frames
    r.bit()
    width_mbs = r.ue() + 1
    height_map = r.ue() + 1
    frame_mbs_only = r.bit()
    if not frame_mbs_only:
        r.bit()
    r.bit()  # direct_8x8_inference
    width, height = width_mbs * 16, height_map * 16 * (2 - frame_mbs_only)
    if r.bit():  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        crop_x = 1 if chroma == 0 else 2 if chroma in (1, 2) else 1
        crop_y = (1 if chroma in (0, 3) else 2 if chroma == 1 else 1) * (2 - frame_mbs_only)
        width -= (left + right) * crop_x
        height -= (top + bottom) * crop_y
    return width, height
