"""The broadcast's HLS segments as part of the lesson's recording, instead of a second copy of the teacher.

In a broadcast room whose teacher sends H.264, the HLS packager already stores the camera and microphone
as the teacher sent them (fMP4 segments, `media.hls_*`). The recorder leaves those tracks to it: when the
lesson stops it asks the packager what it stored (`Broadcasts.finish`) and notes it in the recording's
directory (`hls.json`); finalising turns the note into index entries that point at the stored segments
(`origin="hls"`, one entry per generation and kind). The library and the composite read the segments
from there (`recorder.hls_file`); nothing of the teacher's media is written twice.

If the broadcast started before the recording did (the teacher's camera on before 上课), the recording's
timeline starts with the broadcast: the other tracks and the markers move by that lead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from media.fmp4 import fragment_timing, init_picture
from media.hls_recording import StoredStream
from recorder.index import HlsGeneration, HlsPart, HlsSegment, TrackEntry, write_json_atomic
from recorder.recording import TrackInfo

HLS_JOURNAL = "hls.json"


class Broadcasts(Protocol):
    """The node's HLS packager as the recorder sees it (`media.hls_live.HlsService`)."""

    def carries(self, room_id: str, track_id: str) -> bool: ...

    def prefix(self, room_id: str) -> str | None: ...

    async def finish(self, room_id: str) -> StoredStream | None: ...


def note_pending(directory: Path, prefix: str, camera: TrackInfo, local_root: Path | None) -> None:
    """As the camera is left to the broadcast: where its segments go, so a crash (no `finish`) loses nothing."""
    write_json_atomic(directory / HLS_JOURNAL, {
        "pending": prefix, "participant_id": camera.participant_id, "participant_name": camera.participant_name,
        "participant_role": camera.participant_role, "local_root": str(local_root) if local_root else "",
    })  # fmt: skip


def save(directory: Path, stored: StoredStream, started: float, camera: TrackInfo, local_root: Path | None) -> None:
    """Note what the broadcast stored, on the recording's own timeline (`started`: time.monotonic())."""
    write_json_atomic(directory / HLS_JOURNAL, {
        "stream": stored.as_dict(), "offset": stored.first_arrival - started,
        "participant_id": camera.participant_id, "participant_name": camera.participant_name,
        "participant_role": camera.participant_role, "local_root": str(local_root) if local_root else "",
    })  # fmt: skip


@dataclass(frozen=True, slots=True)
class BroadcastNote:
    data: dict[str, Any]

    @property
    def offset(self) -> float:
        """Seconds from the recording's start to the broadcast's first frame (negative: it began before)."""
        return float(self.data["offset"])

    @property
    def local_root(self) -> Path | None:
        root = self.data.get("local_root") or ""
        return Path(root) if root else None

    def part(self, lead: float) -> tuple[HlsPart, list[TrackEntry]]:
        """The index's HLS part and its track entries; `lead` is how far the recording's timeline moved
        back to begin with the broadcast."""
        stream = self.data["stream"]
        generations: list[HlsGeneration] = []
        entries: list[TrackEntry] = []
        who = {k: str(self.data.get(k, "")) for k in ("participant_id", "participant_name", "participant_role")}
        for g in stream["generations"]:
            generation = HlsGeneration(
                number=g["number"], init=g["init"], init_size=g["init_size"], width=g["width"], height=g["height"],
                codecs=g["codecs"], with_audio=g["with_audio"],
                start_offset=round(max(0.0, self.offset + lead + g["start"]), 3),
                segments=[HlsSegment(**s) for s in g["segments"]],
            )  # fmt: skip
            generations.append(generation)
            common = {"file": generation.file, "start_offset": generation.start_offset,
                      "duration": round(generation.duration, 3), "origin": "hls", **who}  # fmt: skip
            entries.append(TrackEntry.model_validate({
                "track_id": f"hls-{g['number']}-video", "kind": "video", "source": "camera", "codec": "H264",
                "frames": generation.frames, "width": generation.width or None, "height": generation.height or None,
                **common,
            }))  # fmt: skip
            if generation.with_audio:
                entries.append(TrackEntry.model_validate({
                    "track_id": f"hls-{g['number']}-audio", "kind": "audio", "source": "microphone", "codec": "opus",
                    **common,
                }))  # fmt: skip
        return HlsPart(prefix=stream["prefix"], generations=generations), entries


def load(directory: Path, started_at: str = "") -> BroadcastNote | None:
    """The note; after a crash (only the pending note), rebuilt from the segments on this node's disk."""
    path = directory / HLS_JOURNAL
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if "stream" not in data and data.get("pending") and data.get("local_root") and started_at:
        recovered = _from_disk(Path(data["local_root"]), str(data["pending"]), started_at)
        if recovered is not None:
            data["stream"], data["offset"] = recovered
    return BroadcastNote(data) if data.get("stream", {}).get("generations") else None


def _from_disk(root: Path, prefix: str, started_at: str) -> tuple[dict[str, Any], float] | None:
    """The stream's generations from its files: timings read back from the fragments, and the recording's
    start placed by the first segment's write time (it is written within a moment of its last frame)."""
    directory = root / prefix
    if not directory.is_dir():
        return None
    found: dict[int, list[tuple[int, Path]]] = {}
    for path in directory.glob("seg-*-*.m4s"):
        _, generation, sequence = path.stem.split("-")
        found.setdefault(int(generation), []).append((int(sequence), path))
    generations, first_written = [], None
    for number in sorted(found):
        init = directory / f"init-{number}.mp4"
        if not init.is_file():
            continue
        width, height, tracks = init_picture(init.read_bytes())
        segments, start = [], None
        for _, path in sorted(found[number]):
            timing = fragment_timing(path.read_bytes(), 1)
            if timing is None:
                continue
            if start is None:
                start = timing.base_time / 90000
                if first_written is None:
                    first_written = path.stat().st_mtime - (timing.base_time + timing.duration) / 90000
            segments.append({"name": path.name, "size": path.stat().st_size, "duration": timing.duration / 90000,
                             "frames": timing.samples})  # fmt: skip
        if segments:
            generations.append({
                "number": number, "init": init.name, "init_size": init.stat().st_size, "width": width,
                "height": height, "codecs": "", "with_audio": tracks > 1, "start": start, "segments": segments,
            })  # fmt: skip
    if not generations or first_written is None:
        return None
    offset = first_written - datetime.fromisoformat(started_at).timestamp()
    return {"prefix": prefix, "generations": generations}, offset
