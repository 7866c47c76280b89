"""Byte-level RTP helpers for forwarding: keyframe detection, header and extension building, RTX wrapping.

The forwarding path builds each outgoing header with one `struct.pack` instead of aiortc's generic
`RtpPacket.serialize`, which is the single largest cost per forwarded packet.
"""

from __future__ import annotations

import struct
import time
from collections import deque

_HEADER = struct.Struct("!BBHII")
# header extension ids on a subscriber leg (the SFU is the offerer there, so aiortc's own ids apply)
ExtKey = tuple[int, int]  # (abs-send-time id or 0, audio-level id or 0)
_NTP_EPOCH_OFFSET = 2208988800

VP8 = "VP8"
H264 = "H264"


def vp8_keyframe_start(payload: bytes) -> bool:
    """True if this VP8 RTP payload starts a keyframe (RFC 7741: S=1, PID=0, P bit clear)."""
    n = len(payload)
    if n < 2:
        return False
    b0 = payload[0]
    if not (b0 & 0x10) or (b0 & 0x0F):
        return False
    i = 1
    if b0 & 0x80:
        b1 = payload[1]
        i = 2
        if b1 & 0x80:
            if i >= n:
                return False
            i += 2 if payload[i] & 0x80 else 1
        if b1 & 0x40:
            i += 1
        if b1 & 0x30:
            i += 1
    if i >= n:
        return False
    return not (payload[i] & 0x01)


def h264_keyframe_start(payload: bytes) -> bool:
    """True if this H.264 RTP payload carries the start of an IDR picture or an SPS (RFC 6184)."""
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in (5, 7):
        return True
    if nal == 24:  # STAP-A
        pos = 1
        while pos + 2 < len(payload):
            size = (payload[pos] << 8) | payload[pos + 1]
            if (payload[pos + 2] & 0x1F) in (5, 7):
                return True
            pos += 2 + size
        return False
    if nal == 28 and len(payload) > 1:  # FU-A
        return bool(payload[1] & 0x80) and (payload[1] & 0x1F) in (5, 7)
    return False


def keyframe_detector(codec: str):
    if codec == VP8:
        return vp8_keyframe_start
    if codec == H264:
        return h264_keyframe_start
    return None


def ntp_now() -> int:
    """64-bit NTP time now, without aiortc's datetime round trip."""
    return int((time.time() + _NTP_EPOCH_OFFSET) * 4294967296.0)


def abs_send_time_extension(ext_id: int, ntp: int) -> bytes:
    """One-byte-header extension block carrying abs-send-time (6.18 fixed point seconds)."""
    value = (ntp >> 14) & 0x00FFFFFF
    return bytes((0xBE, 0xDE, 0x00, 0x01, (ext_id << 4) | 2, value >> 16, (value >> 8) & 0xFF, value & 0xFF))


def restamp_abs_send_time(ext: bytes) -> bytes:
    """The same one-element abs-send-time block, stamped now: a packet that waited in the pacer must tell
    the receiver's delay estimator when it left, not when it arrived (libwebrtc stamps at the pacer too)."""
    value = (ntp_now() >> 14) & 0x00FFFFFF
    return ext[:5] + bytes((value >> 16, (value >> 8) & 0xFF, value & 0xFF))


def audio_level_extension(ext_id: int, level: tuple[bool, int]) -> bytes:
    """One-byte-header extension block carrying ssrc-audio-level (RFC 6464), padded to 4 bytes."""
    vad, dbov = level
    return bytes((0xBE, 0xDE, 0x00, 0x01, ext_id << 4, (0x80 if vad else 0) | (dbov & 0x7F), 0, 0))


def rtp_header(marker: int, payload_type: int, seq: int, timestamp: int, ssrc: int, extension: bool) -> bytes:
    return _HEADER.pack(0x90 if extension else 0x80, (marker << 7) | payload_type, seq, timestamp, ssrc)


def split_header(data: bytes) -> tuple[int, int, int, int, bytes, bytes]:
    """(marker, seq, timestamp, first byte, extension block, payload) of a packet this module built."""
    b0, m_pt, seq, timestamp, _ssrc = _HEADER.unpack_from(data)
    pos = 12 + 4 * (b0 & 0x0F)
    ext = b""
    if b0 & 0x10:
        length = 4 + 4 * ((data[pos + 2] << 8) | data[pos + 3])
        ext = data[pos : pos + length]
        pos += length
    return m_pt >> 7, seq, timestamp, b0, ext, data[pos:]


def wrap_rtx(data: bytes, rtx_payload_type: int, rtx_seq: int, rtx_ssrc: int) -> bytes:
    """RFC 4588 retransmission of a packet we sent: original sequence number in front of the payload."""
    marker, seq, timestamp, _b0, ext, payload = split_header(data)
    header = rtp_header(marker, rtx_payload_type, rtx_seq, timestamp, rtx_ssrc, bool(ext))
    return header + ext + struct.pack("!H", seq) + payload


def seq_newer(a: int, b: int) -> bool:
    """a is after b in 16-bit sequence space."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000


def take_in_span(seqs: deque[int], after: int, upto: int) -> int:
    """How many of `seqs` (16-bit, wrapping) lie in (after, upto]; those and any older are forgotten. A
    receiver report's loss between two of its highest sequence numbers is read against such a record."""
    if not seqs:
        return 0
    span = (upto - after) & 0xFFFF
    if span >= 0x8000:
        return 0
    count = sum(1 for seq in seqs if 0 < (seq - after) & 0xFFFF <= span)
    kept = [seq for seq in seqs if 0 < (seq - upto) & 0xFFFF < 0x8000]  # newer than the report
    seqs.clear()
    seqs.extend(kept)
    return count
