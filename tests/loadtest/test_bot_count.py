"""A counting bot shows frames as a browser would: a keyframe after a hole starts afresh."""

from __future__ import annotations

from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtp import RtpPacket

from loadtest.bots import KeyframeResyncBuffer
from media.aiortc_seams import TapJitterBuffer
from web.demo.clip import load


def _stream(lost_frame: int, key_frame: int, frames: int = 30) -> list[RtpPacket]:
    """RTP packets of a clip's first `frames` frames: the first packet of `lost_frame` never arrives (the SFU's
    pacer dropped it), and `key_frame` is sent as a keyframe (what the SFU asked the publisher for then)."""
    clip = load(160, 128, 30, frames, 100_000)
    packets: list[RtpPacket] = []
    seq = 1000
    for number in range(frames):
        data = clip.keys[number] if number == key_frame else clip.deltas[number]
        payloads = Vp8Encoder._packetize(data, picture_id=number)
        for i, payload in enumerate(payloads):
            if not (number == lost_frame and i == 0):
                packets.append(RtpPacket(
                    payload_type=97, marker=int(i == len(payloads) - 1), sequence_number=seq,
                    timestamp=3000 * number, payload=payload,
                ))
            seq += 1
    return packets


def _shown(buffer: TapJitterBuffer, packets: list[RtpPacket]) -> list[int]:
    """The frame numbers the buffer completes, in order."""
    counted: list[int] = []
    buffer.on_frame = lambda frame: counted.append(frame.timestamp // 3000)
    for packet in packets:
        packet._data = packet.payload  # what aiortc's receiver sets before the jitter buffer (depayloaded)
        buffer.add(packet)
    return counted


def test_a_keyframe_after_a_hole_resumes_the_count():
    packets = _stream(lost_frame=5, key_frame=15)
    shown = _shown(KeyframeResyncBuffer("video", lambda packet: None), packets)
    # a frame is complete once the next packet shows its end: 0-3 before the hole; 5-14 are undecodable;
    # from the keyframe on, all but the newest one or two (aiortc's buffer hands out one frame per packet)
    assert shown[:4] == [0, 1, 2, 3]
    assert shown[4:] == list(range(15, 15 + len(shown) - 4)) and len(shown) - 4 >= 12, shown
    # aiortc's own buffer waits for the lost packet until 512 more have passed: the camera looks frozen
    assert _shown(TapJitterBuffer("video", lambda packet: None), packets) == [0, 1, 2, 3]
