"""Turns a recording's segments into one file per track plus index.json; finds and finalises crashed ones.

The same code path serves a clean stop and recovery after a crash: segments are copied packet by packet
(no transcoding) into the track file; a segment cut short by a crash is read up to where it breaks.
Order matters for crash safety: track files, then the index, then the status, and only then are the
segments deleted — a crash in between is finalised again on the next start.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import av

from recorder import broadcast
from recorder.codecs import container_for
from recorder.index import RecordingIndex, TrackEntry, load_index, save_index
from recorder.journal import Journal, TrackMeta, is_recording_dir, read_status
from recorder.segments import PART

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CopyResult:
    frames: int
    duration: float
    salvaged_parts: int


def _segments(directory: Path) -> list[Path]:
    """Closed segments and at most one unfinished (.part) one, in recording order."""
    return sorted(p for p in directory.iterdir() if p.name.startswith("seg-"))


def concatenate(segments: list[Path], target: Path, container_format: str) -> CopyResult:
    """Copy every packet of `segments` into `target`; unreadable tails of crashed segments are skipped."""
    tmp = target.with_name(target.name + PART)
    output = av.open(str(tmp), "w", format=container_format)
    out_stream = None
    frames = 0
    salvaged = 0
    first_pts: int | None = None
    last_end = 0
    time_base = None
    try:
        for path in segments:
            try:
                source = av.open(str(path))
            except av.FFmpegError as exc:
                log.info("skipping unreadable segment %s: %s", path.name, exc)
                continue
            with source:
                if not source.streams:
                    continue
                in_stream = source.streams[0]
                if out_stream is None:
                    out_stream = output.add_stream_from_template(in_stream)
                    time_base = in_stream.time_base
                if path.name.endswith(PART):
                    salvaged += 1
                try:
                    for packet in source.demux(in_stream):
                        if packet.dts is None or packet.size == 0:
                            continue
                        if first_pts is None:
                            first_pts = packet.pts
                        last_end = max(last_end, packet.pts + (packet.duration or 0))
                        packet.stream = out_stream
                        output.mux_one(packet)
                        frames += 1
                except av.FFmpegError as exc:
                    log.info("segment %s ends early: %s", path.name, exc)
    finally:
        output.close()
    if out_stream is None:
        tmp.unlink(missing_ok=True)
        return CopyResult(0, 0.0, salvaged)
    os.replace(tmp, target)
    duration = float((last_end - (first_pts or 0)) * time_base) if time_base else 0.0
    return CopyResult(frames, duration, salvaged)


def _track_file_name(meta: TrackMeta, suffix: str) -> str:
    return f"track-{meta.number:02d}-{meta.source}{suffix}"


def finalise(directory: Path) -> RecordingIndex:
    """Finalise the recording in `directory` (idempotent: a finalised one just returns its index)."""
    journal = Journal(directory)
    meta = journal.meta()
    if meta.status == "finalised" and (directory / "index.json").is_file():
        return load_index(directory)
    recovered = meta.status == "recording"
    if meta.status != "finalising":
        journal.set_status("finalising")
    entries: list[TrackEntry] = []
    note = broadcast.load(directory, meta.started_at)  # the teacher's camera and mic as the broadcast stored them
    lead = max(0.0, -note.offset) if note is not None else 0.0
    for track, track_dir in journal.tracks():
        segments = _segments(track_dir)
        if not segments or track.start_offset is None:
            continue
        container = container_for(track.codec)
        name = _track_file_name(track, container.suffix)
        result = concatenate(segments, directory / name, container.format)
        if result.frames == 0:
            continue
        entries.append(
            TrackEntry(
                track_id=track.track_id,
                participant_id=track.participant_id,
                participant_name=track.participant_name,
                participant_role=track.participant_role,
                kind=track.kind,
                source=track.source,
                codec=track.codec,
                file=name,
                start_offset=round(track.start_offset + lead, 3),
                duration=round(result.duration, 3),
                frames=result.frames,
                width=track.width,
                height=track.height,
            )
        )
    hls, from_hls = note.part(lead) if note is not None else (None, [])
    entries = from_hls + entries
    media_end = max((e.start_offset + e.duration for e in entries), default=0.0)
    heartbeat = (journal.last_heartbeat() or 0.0) + lead
    duration = max(media_end, heartbeat) if not recovered else media_end
    lost = max(0.0, heartbeat - media_end) if recovered else 0.0
    index = RecordingIndex(
        recording_id=meta.recording_id,
        room_id=meta.room_id,
        room_kind=meta.room_kind,
        title=meta.title,
        started_at=meta.started_at,
        duration=round(duration, 3),
        recovered=recovered,
        lost_seconds=round(lost, 3),
        tracks=entries,
        markers=sorted(
            (m.model_copy(update={"t": round(m.t + lead, 3)}) for m in journal.markers() if m.t + lead <= duration + 1),
            key=lambda m: m.t,
        ),
        hls=hls,
    )
    save_index(directory, index)
    journal.set_status("finalised")
    shutil.rmtree(journal.tracks_dir, ignore_errors=True)
    return index


def unfinished(root: Path) -> list[Path]:
    """Recording directories under `root` whose recording never reached 'finalised'."""
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if p.is_dir() and is_recording_dir(p) and read_status(p) != "finalised"
    )


def recover(root: Path) -> list[RecordingIndex]:
    """Finalise what a crash left behind. Call on start, before any new recording begins."""
    done = []
    for directory in unfinished(root):
        try:
            done.append(finalise(directory))
        except Exception:
            log.exception("could not finalise %s", directory)
            Journal(directory).set_status("failed")
    return done
