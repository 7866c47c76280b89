"""The JSON index of a finished recording: what the playback page, the composite job and the library read.

It is the only description of a recording that outlives the segments, so it is versioned and validated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

TrackSource = Literal["camera", "microphone", "screen"]
LESSON_NAME = "lesson.mp4"  # the lesson MP4 (recorder.composite makes it, unless the broadcast is it)
MarkerType = Literal[
    "stage_on", "stage_off", "hand_raised", "hand_lowered", "courseware_on", "courseware_off", "note"
]


class TrackEntry(BaseModel):
    """One recorded track: a file of encoded media as it arrived, never transcoded."""

    track_id: str
    participant_id: str
    participant_name: str = ""
    participant_role: str = ""
    kind: Literal["audio", "video"]
    source: TrackSource
    codec: str
    file: str  # relative to the recording directory
    start_offset: float = Field(
        ge=0, description="seconds from the start of the recording to the first frame"
    )
    duration: float = Field(ge=0, description="seconds of media in the file")
    frames: int = 0
    width: int | None = None
    height: int | None = None
    origin: Literal["file", "hls"] = Field(
        default="file", description="file: written by the recorder; hls: the broadcast's stored segments"
    )


class Marker(BaseModel):
    """A lesson event placed on the timeline (stage changes, raised hands, courseware)."""

    t: float = Field(ge=0, description="seconds from the start of the recording")
    type: MarkerType
    participant_id: str = ""
    label: str = ""


class HlsSegment(BaseModel):
    name: str
    size: int = Field(ge=0)
    duration: float = Field(ge=0)
    frames: int = 0


class HlsGeneration(BaseModel):
    """One init segment and the media segments after it: joined in order, one fragmented MP4 file."""

    number: int
    init: str
    init_size: int = Field(ge=0)
    width: int = 0
    height: int = 0
    codecs: str = ""
    with_audio: bool = False
    start_offset: float = Field(ge=0, description="seconds from the start of the recording to its first frame")
    segments: list[HlsSegment]

    @property
    def file(self) -> str:
        return f"hls-{self.number}.mp4"

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.segments)


class HlsPart(BaseModel):
    """The teacher's camera and microphone as the broadcast stored them (keys `prefix + name`): the
    recording lists them instead of writing them a second time."""

    prefix: str
    generations: list[HlsGeneration]


class RecordingIndex(BaseModel):
    version: Literal[1] = 1
    recording_id: str
    room_id: str
    room_kind: str = ""
    title: str = ""
    started_at: str  # ISO 8601, UTC
    duration: float = Field(ge=0)
    recovered: bool = False
    lost_seconds: float = Field(default=0.0, ge=0, description="estimated media lost to a crash")
    tracks: list[TrackEntry]
    markers: list[Marker]
    hls: HlsPart | None = None

    def hls_generation(self, name: str) -> HlsGeneration | None:
        """The HLS generation a file name of this recording stands for (`hls-N.mp4`; the lesson MP4 when the
        broadcast is the whole recording)."""
        if self.hls is None:
            return None
        if name == LESSON_NAME:
            return self.hls.generations[0] if self.lesson_is_hls else None
        return next((g for g in self.hls.generations if g.file == name), None)

    @property
    def lesson_is_hls(self) -> bool:
        """The recording is one HLS generation and nothing else: its segments are the lesson MP4 as they
        are (no composite is made)."""
        return (
            self.hls is not None and len(self.hls.generations) == 1
            and all(t.origin == "hls" for t in self.tracks)
        )  # fmt: skip

    def track(self, source: TrackSource, participant_id: str | None = None) -> TrackEntry | None:
        for entry in self.tracks:
            if entry.source == source and (participant_id is None or entry.participant_id == participant_id):
                return entry
        return None


INDEX_NAME = "index.json"


def write_json_atomic(path: Path, data: dict, *, durable: bool = True) -> None:
    """Write via a temporary file and rename, so a crash leaves either the old or the new file.

    `durable` also syncs to disk (survives power loss); journal writes made on the event loop skip it,
    as a process crash alone keeps what the kernel has.
    """
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_index(directory: Path, index: RecordingIndex) -> Path:
    path = directory / INDEX_NAME
    write_json_atomic(path, index.model_dump(mode="json"))
    return path


def load_index(directory: Path) -> RecordingIndex:
    return RecordingIndex.model_validate_json((directory / INDEX_NAME).read_text(encoding="utf-8"))
