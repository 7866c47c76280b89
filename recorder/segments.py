"""Writes one track's encoded frames, as they arrive, into consecutive segment files of a few seconds.

Why segments: a closed segment is a complete file on disk, so a crash or SIGKILL loses at most the segment
being written. Nothing is decoded: the SFU's encoded frames are muxed as they are. Timestamps come from
RTP (unwrapped past 2^32) and are continuous across segments, so finalising is a plain packet copy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from media.frames import EncodedFrame
from recorder.codecs import Container, container_for, h264_avcc, vp8_keyframe_size

PART = ".part"
RTP_WRAP = 1 << 32
GLOBAL_HEADER = 1 << 22  # AV_CODEC_FLAG_GLOBAL_HEADER
# Close a Matroska cluster every half second and hand each packet to the kernel: an open segment cut short
# by a crash is then readable up to its last half second (finalise salvages it).
SALVAGEABLE = {"cluster_time_limit": "500", "flush_packets": "1"}


def segment_name(number: int, suffix: str, *, done: bool) -> str:
    return f"seg-{number:06d}{suffix}" + ("" if done else PART)


@dataclass(slots=True)
class _Unwrapper:
    """Turns 32-bit RTP timestamps into a monotonic 64-bit count from the first frame."""

    first: int | None = None
    last: int = 0
    cycles: int = 0

    def __call__(self, ts: int) -> int:
        if self.first is None:
            self.first = self.last = ts
            return 0
        delta = ts - self.last
        if delta < -(RTP_WRAP // 2):
            self.cycles += 1
        elif delta > RTP_WRAP // 2:
            self.cycles -= 1
        self.last = ts
        return ts + self.cycles * RTP_WRAP - self.first


@dataclass(slots=True)
class TrackStats:
    frames: int = 0
    dropped: int = 0
    segments: int = 0
    first_arrival: float | None = None
    last_pts: int = -1
    width: int | None = None
    height: int | None = None
    bytes: int = 0
    clock_rate: int = 90000
    last_frame_ticks: int = 0

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one (its length estimated from the previous)."""
        if self.last_pts < 0:
            return 0.0
        return (self.last_pts + self.last_frame_ticks) / self.clock_rate


class SegmentWriter:
    """One track → segment files in `directory`. Not thread-safe: one writer thread owns it."""

    def __init__(
        self, directory: Path, codec: str, kind: str, *, segment_seconds: float = 2.0,
        on_closed: Callable[[Path], None] | None = None,
    ) -> None:
        self.directory = directory
        self.on_closed = on_closed  # told each closed segment's path (the storage spool uploads it)
        self.codec = codec
        self.kind = kind
        self.container: Container = container_for(codec)
        self.segment_seconds = segment_seconds
        self.stats = TrackStats()
        self._unwrap = _Unwrapper()
        self._output: av.container.OutputContainer | None = None
        self._stream: av.stream.Stream | None = None
        self._segment_start_pts = 0
        self._segment_opened_at = 0.0
        self._number = 0
        self._extradata: bytes | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, frame: EncodedFrame) -> None:
        stats = self.stats
        if stats.first_arrival is None:
            if self.kind == "video" and not frame.keyframe:
                stats.dropped += 1  # a decodable file starts at a keyframe; attaching asked for one
                return
            stats.clock_rate = frame.clock_rate
            stats.first_arrival = frame.arrival
            if self.codec.lower() == "vp8":
                size = vp8_keyframe_size(frame.data)
                if size:
                    stats.width, stats.height = size
            elif self.codec.lower() == "h264":
                self._extradata = h264_avcc(frame.data)
        pts = self._unwrap(frame.timestamp)
        if pts <= stats.last_pts:
            stats.dropped += 1  # a late or repeated frame; the muxer needs increasing timestamps
            return
        if (
            self._output is not None
            and (pts - self._segment_start_pts) >= self.segment_seconds * stats.clock_rate
        ):
            self._close_segment()
        if self._output is None:
            self._open_segment(pts, frame.arrival)
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = pts
        packet.time_base = Fraction(1, stats.clock_rate)
        packet.is_keyframe = frame.keyframe
        packet.stream = self._stream
        self._output.mux_one(packet)
        if stats.last_pts >= 0:
            stats.last_frame_ticks = pts - stats.last_pts
        stats.last_pts = pts
        stats.frames += 1
        stats.bytes += len(frame.data)

    def rotate_if_idle(self, now: float) -> None:
        """Close a segment that has been open too long by the clock, e.g. when the track went quiet."""
        if self._output is not None and now - self._segment_opened_at >= self.segment_seconds:
            self._close_segment()

    def close(self) -> None:
        if self._output is not None:
            self._close_segment()

    def _open_segment(self, pts: int, now: float) -> None:
        self._number += 1
        path = self.directory / segment_name(self._number, self.container.suffix, done=False)
        output = av.open(str(path), "w", format=self.container.format, options=SALVAGEABLE)
        if self.kind == "video":
            stream = output.add_stream(
                self.container.stream_codec, width=self.stats.width or 640, height=self.stats.height or 480
            )
        else:
            stream = output.add_stream(self.container.stream_codec, rate=48000, layout="stereo")
        if self._extradata is not None:
            ctx = stream.codec_context
            ctx.flags = ctx.flags & ~GLOBAL_HEADER  # the describing encoder must not write its own header
            ctx.extradata = self._extradata
        stream.time_base = Fraction(1, self.stats.clock_rate)
        self._output, self._stream = output, stream
        self._segment_start_pts = pts
        self._segment_opened_at = now

    def _close_segment(self) -> None:
        assert self._output is not None
        self._output.close()
        part = self.directory / segment_name(self._number, self.container.suffix, done=False)
        done = part.with_name(segment_name(self._number, self.container.suffix, done=True))
        os.replace(part, done)
        self._output = self._stream = None
        self.stats.segments += 1
        if self.on_closed is not None:
            self.on_closed(done)
