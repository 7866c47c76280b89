"""What a finished HLS stream hands the recorder: the stored segments, as plain data, so the lesson's
recording can use them instead of writing the teacher's camera and microphone a second time.

Each generation (one init segment and the media segments after it) is one valid fragmented MP4 when its
init and segments are joined in order; the recorder's index lists them by storage key and the library
reads them from the store. Nothing here touches the bytes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from media.hls_stream import HlsStream


@dataclass(frozen=True, slots=True)
class StoredSegment:
    name: str
    size: int
    duration: float
    frames: int


@dataclass(slots=True)
class StoredGeneration:
    number: int
    init: str
    init_size: int
    width: int
    height: int
    codecs: str
    with_audio: bool
    start: float  # media seconds of its first frame on the stream's timeline
    segments: list[StoredSegment] = field(default_factory=list)


@dataclass(slots=True)
class StoredStream:
    """One room's broadcast as stored: keys are `prefix + name`."""

    prefix: str
    first_arrival: float  # time.monotonic() of its first frame (media time 0)
    tracks: list[str]  # the publisher tracks it carried as sent (remuxed, never transcoded)
    generations: list[StoredGeneration]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe(stream: HlsStream, prefix: str, tracks: list[str]) -> StoredStream | None:
    """The stream's stored segments by generation; None if it stored nothing."""
    if stream.first_arrival is None or not stream.segments:
        return None
    generations: dict[int, StoredGeneration] = {}
    for seg in stream.segments:
        gen = generations.get(seg.generation)
        if gen is None:
            info = stream.generations[seg.generation]
            gen = generations[seg.generation] = StoredGeneration(
                seg.generation, info.init, len(stream.get(info.init) or b""), info.width, info.height,
                info.codecs, info.with_audio, seg.start,
            )  # fmt: skip
        gen.segments.append(StoredSegment(seg.name, seg.size, round(seg.duration, 6), seg.frames))
    return StoredStream(prefix, stream.first_arrival, tracks, list(generations.values()))
