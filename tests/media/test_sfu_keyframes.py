"""Keyframe request throttling and the byte-level RTP helpers."""

from __future__ import annotations

import asyncio
import struct

from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtp import RtpPacket, unwrap_rtx

from media.keyframes import KeyframeRequester
from media.rtp import h264_keyframe_start, rtp_header, vp8_keyframe_start, wrap_rtx


async def _until(cond, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.005)
    return True


async def test_requests_are_coalesced_throttled_and_retried():
    sent: list[float] = []
    loop = asyncio.get_running_loop()

    def pli() -> bool:
        sent.append(loop.time())
        return True

    kf = KeyframeRequester(pli, interval=0.2, retry=0.4)
    start = loop.time()
    for _ in range(10):
        kf.request()  # a burst: one PLI now
    assert len(sent) == 1
    await asyncio.sleep(0.05)
    kf.on_keyframe()
    kf.request()
    kf.request()  # inside the window: folded into one PLI at its end
    # read from the PLIs' own times, not from counts at fixed sleeps (a loaded loop wakes late)
    assert await _until(lambda: len(sent) >= 2, 3)
    assert sent[1] - start >= 0.19
    # no keyframe arrives: the PLI is sent again after `retry`, and nothing in between
    assert await _until(lambda: len(sent) >= 3, 3)
    kf.on_keyframe()
    assert sent[2] - sent[1] >= 0.39
    await asyncio.sleep(0.5)
    assert len(sent) == 3
    assert kf.requests == 12 and kf.plis_sent == 3
    kf.close()


async def test_pli_waits_until_the_publisher_transport_is_up():
    ready = [False]
    sent = []

    def pli() -> bool:
        if ready[0]:
            sent.append(1)
        return ready[0]

    kf = KeyframeRequester(pli, interval=0.5, retry=1.0)
    kf.request()
    assert not sent
    ready[0] = True
    await asyncio.sleep(0.1)
    assert sent == [1]
    kf.close()


def test_vp8_keyframe_detection_on_real_payloads(high_clip):
    key = Vp8Encoder._packetize(high_clip.deltas[0], picture_id=5)
    delta = Vp8Encoder._packetize(high_clip.deltas[1], picture_id=6)
    assert vp8_keyframe_start(key[0])
    assert not any(vp8_keyframe_start(p) for p in key[1:])  # continuation packets
    assert not any(vp8_keyframe_start(p) for p in delta)


def test_h264_keyframe_detection():
    assert h264_keyframe_start(bytes([0x65, 0x88]))  # IDR slice
    assert h264_keyframe_start(bytes([0x67, 0x42]))  # SPS
    assert not h264_keyframe_start(bytes([0x41, 0x9A]))  # non-IDR slice
    stap = bytes([0x78]) + struct.pack("!H", 2) + bytes([0x67, 0x42]) + struct.pack("!H", 2) + bytes([0x68, 0xCE])
    assert h264_keyframe_start(stap)
    assert h264_keyframe_start(bytes([0x7C, 0x85, 0x00]))  # FU-A start of an IDR
    assert not h264_keyframe_start(bytes([0x7C, 0x05, 0x00]))  # FU-A continuation


def test_rtx_wrapping_round_trips_through_aiortc():
    ext = bytes((0xBE, 0xDE, 0x00, 0x01, 0x32, 1, 2, 3))
    data = rtp_header(1, 97, 1234, 90000, 0xAABBCCDD, True) + ext + b"payload"
    rtx = RtpPacket.parse(wrap_rtx(data, 98, 7, 0x11223344))
    assert (rtx.payload_type, rtx.sequence_number, rtx.ssrc) == (98, 7, 0x11223344)
    original = unwrap_rtx(rtx, payload_type=97, ssrc=0xAABBCCDD)
    assert original.sequence_number == 1234 and original.payload == b"payload" and original.timestamp == 90000
