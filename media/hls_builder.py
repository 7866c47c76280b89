"""Turns one segment's encoded frames into fMP4 bytes (run in a worker thread, one segment after another).

The event loop only collects frames and picks cut points (`media.hls_stream`); everything that touches
the bytes of a frame (splitting Annex-B, length prefixes, the boxes) happens here. A new init segment (a
new *generation*, announced with EXT-X-DISCONTINUITY) is made when the stream's parameter sets change
(Chrome changes resolution under load by sending a new SPS) or when audio comes or goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from media import fmp4
from media.h264 import ParameterSets, annexb_units, length_prefixed, parameter_sets

VIDEO_ID = 1
AUDIO_ID = 2
OPUS_FRAME = 960  # 20 ms at 48 kHz: the duration of the last audio sample when its successor is unknown


@dataclass(slots=True)
class SegmentJob:
    """What the loop hands the builder: frames with decode times (video 90 kHz, audio 48 kHz)."""

    sequence: int
    video: list[tuple[int, bytes]]  # (dts, Annex-B access unit); the first one is a keyframe
    video_end: int  # dts where the next segment starts (the last frame's duration ends there)
    audio: list[tuple[int, bytes]] = field(default_factory=list)
    audio_next: int | None = None  # dts of the audio frame after the last one, if known
    with_audio: bool = False
    restart: bool = False  # the first segment after the camera was gone: a new generation (a discontinuity)


@dataclass(slots=True)
class BuiltSegment:
    sequence: int
    generation: int
    data: bytes
    duration: float  # seconds of video
    start: float  # media seconds of its first video frame
    init: bytes | None  # a new init segment this segment needs (the first of a generation)
    codecs: str
    width: int = 0  # the generation's picture size (from its SPS)
    height: int = 0
    with_audio: bool = False
    frames: int = 0  # video samples in the segment
    first_arrival: float = 0.0  # time.monotonic() of the stream's first frame (its media time 0)
    wall0: float = 0.0  # time.time() at that moment


class SegmentBuilder:
    """Owns the generation state; not thread-safe by design: one job at a time, in order."""

    def __init__(self) -> None:
        self.generation = 0
        self._params: ParameterSets | None = None
        self._with_audio: bool | None = None
        self.codecs = ""

    def build(self, job: SegmentJob) -> BuiltSegment | None:
        if not job.video:
            return None
        samples: list[tuple[int, bytes, bool]] = []
        init = None
        for i, (dts, data) in enumerate(job.video):
            units = annexb_units(data)
            if not units:
                continue
            if i == 0:
                params = parameter_sets(units)
                if params is None and self._params is None:
                    return None  # no SPS/PPS yet: a decoder could not start here
                changed = (params is not None and params != self._params) or job.with_audio != self._with_audio
                if changed or job.restart:
                    self._params = params or self._params
                    self._with_audio = job.with_audio
                    init = self._init()
            nxt = job.video[i + 1][0] if i + 1 < len(job.video) else job.video_end
            samples.append((max(1, nxt - dts), length_prefixed(units), i == 0))
        if not samples:
            return None
        runs = [fmp4.Run(VIDEO_ID, job.video[0][0], samples)]
        if self._with_audio and job.audio:
            audio: list[tuple[int, bytes, bool]] = []
            for i, (dts, data) in enumerate(job.audio):
                following = job.audio[i + 1][0] if i + 1 < len(job.audio) else job.audio_next
                gap = following - dts if following is not None else 0
                audio.append((gap if 0 < gap < 48000 else OPUS_FRAME, data, True))
            runs.append(fmp4.Run(AUDIO_ID, job.audio[0][0], audio))
        data = fmp4.fragment(job.sequence, runs)
        duration = (job.video_end - job.video[0][0]) / 90000
        p = self._params
        return BuiltSegment(
            job.sequence, self.generation, data, duration, job.video[0][0] / 90000, init, self.codecs,
            p.width if p else 0, p.height if p else 0, bool(self._with_audio), len(samples),
        )  # fmt: skip

    def _init(self) -> bytes:
        assert self._params is not None
        self.generation += 1
        p = self._params
        tracks: list[fmp4.Track] = [fmp4.VideoTrack(VIDEO_ID, p.width, p.height, p.avcc())]
        codecs = [p.codec_string]
        if self._with_audio:
            tracks.append(fmp4.AudioTrack(AUDIO_ID))
            codecs.append("opus")
        self.codecs = ",".join(codecs)
        return fmp4.init_segment(tracks)
