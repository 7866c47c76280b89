"""The encoded-frame record the SFU hands to in-process consumers (the recorder).

A frame is what the SFU's jitter buffer assembled from RTP: still encoded, never decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MediaKind = Literal["audio", "video"]


@dataclass(slots=True, frozen=True)
class EncodedFrame:
    track_id: str
    kind: MediaKind
    codec: str  # "VP8", "H264" or "opus" (mime subtype as negotiated)
    data: bytes
    timestamp: int  # RTP timestamp, in units of clock_rate
    clock_rate: int  # 90000 for video, 48000 for Opus
    keyframe: bool
    arrival: float  # time.monotonic() when the last packet of the frame arrived
