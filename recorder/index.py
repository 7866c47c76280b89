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


class Marker(BaseModel):
    """A lesson event placed on the timeline (stage changes, raised hands, courseware)."""

    t: float = Field(ge=0, description="seconds from the start of the recording")
    type: MarkerType
    participant_id: str = ""
    label: str = ""


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
