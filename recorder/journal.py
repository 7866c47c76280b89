"""The on-disk journal of a recording in progress: enough to finalise it after a crash.

Layout of `<root>/<recording_id>/`:
  recording.json        what is recorded (room, title, start time) and its status
  markers.jsonl         one timeline marker per line, appended as the lesson goes
  heartbeat             seconds recorded so far, rewritten every half second (how much a crash lost)
  tracks/<n>/track.json one track's metadata; tracks/<n>/seg-*.webm|mkv its segments
After finalising: one file per track, index.json, and the tracks/ folder is gone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from recorder.index import Marker, TrackSource, write_json_atomic

Status = Literal["recording", "finalising", "finalised", "failed"]


class RecordingMeta(BaseModel):
    recording_id: str
    room_id: str
    room_kind: str = ""
    title: str = ""
    started_at: str
    status: Status = "recording"
    ended_at: str | None = None


class TrackMeta(BaseModel):
    number: int
    track_id: str
    participant_id: str
    participant_name: str = ""
    participant_role: str = ""
    kind: Literal["audio", "video"]
    source: TrackSource
    codec: str
    start_offset: float | None = None  # set when the first frame is written
    width: int | None = None
    height: int | None = None


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def tracks_dir(self) -> Path:
        return self.directory / "tracks"

    def track_dir(self, number: int) -> Path:
        return self.tracks_dir / f"{number:02d}"

    def create(self, meta: RecordingMeta) -> None:
        self.tracks_dir.mkdir(parents=True, exist_ok=True)
        self.write_meta(meta)

    def write_meta(self, meta: RecordingMeta) -> None:
        write_json_atomic(self.directory / "recording.json", meta.model_dump(mode="json"), durable=False)

    def meta(self) -> RecordingMeta:
        return RecordingMeta.model_validate_json(
            (self.directory / "recording.json").read_text(encoding="utf-8")
        )

    def set_status(self, status: Status, *, ended_at: str | None = None) -> None:
        meta = self.meta()
        meta.status = status
        if ended_at is not None:
            meta.ended_at = ended_at
        self.write_meta(meta)

    def write_track(self, track: TrackMeta) -> None:
        directory = self.track_dir(track.number)
        directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(directory / "track.json", track.model_dump(mode="json"), durable=False)

    def tracks(self) -> list[tuple[TrackMeta, Path]]:
        found = []
        if self.tracks_dir.is_dir():
            for directory in sorted(self.tracks_dir.iterdir()):
                path = directory / "track.json"
                if path.is_file():
                    found.append((TrackMeta.model_validate_json(path.read_text(encoding="utf-8")), directory))
        return found

    def append_marker(self, marker: Marker) -> None:
        with open(self.directory / "markers.jsonl", "a", encoding="utf-8") as fh:
            fh.write(marker.model_dump_json() + "\n")

    def markers(self) -> list[Marker]:
        path = self.directory / "markers.jsonl"
        if not path.is_file():
            return []
        found = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                found.append(Marker.model_validate_json(line))
            except ValueError:
                continue  # a line cut short by a crash
        return found

    def heartbeat(self, elapsed: float) -> None:
        fd = os.open(self.directory / "heartbeat", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, f"{elapsed:12.3f}".encode(), 0)
        finally:
            os.close(fd)

    def last_heartbeat(self) -> float | None:
        try:
            return float((self.directory / "heartbeat").read_text())
        except (OSError, ValueError):
            return None


def is_recording_dir(path: Path) -> bool:
    return (path / "recording.json").is_file()


def read_status(path: Path) -> Status | None:
    try:
        return json.loads((path / "recording.json").read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError):
        return None
