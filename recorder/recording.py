"""A recording in progress: takes encoded frames from the SFU's sinks and writes them on its own thread.

The sink the SFU calls only puts the frame on a queue, so the live path never waits for a disk or a muxer
and nothing is decoded. One writer thread per recording owns every track's SegmentWriter.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from media.frames import EncodedFrame, MediaKind
from recorder.codecs import container_for
from recorder.index import Marker, MarkerType, TrackSource
from recorder.journal import Journal, RecordingMeta, TrackMeta
from recorder.segments import SegmentWriter

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 0.5
BATCH_PAUSE = 0.05  # seconds the writer rests between batches
MAX_QUEUED = 5000  # frames waiting for the writer (about 40 s of a lesson's six tracks)


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """What the room knows of a published track (the SFU only knows its id and codec)."""

    track_id: str
    participant_id: str
    kind: MediaKind
    source: TrackSource
    codec: str
    participant_name: str = ""
    participant_role: str = ""


class Recording:
    def __init__(
        self,
        root: Path,
        recording_id: str,
        room_id: str,
        *,
        room_kind: str = "",
        title: str = "",
        segment_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        on_segment: Callable[[Path], None] | None = None,
        started: float | None = None,
    ) -> None:
        """`started` (the clock's reading when the lesson's recording began) is given when the recording is
        written elsewhere than where it is directed (an SFU worker) or resumed after its writer died."""
        self.recording_id = recording_id
        self.directory = root / recording_id
        self.journal = Journal(self.directory)
        self.segment_seconds = segment_seconds
        self._clock = clock
        self._on_segment = on_segment  # each closed segment file (the storage spool uploads it)
        self._meta = RecordingMeta(
            recording_id=recording_id,
            room_id=room_id,
            room_kind=room_kind,
            title=title,
            started_at=datetime.now(UTC).isoformat(),
        )
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writers: dict[int, SegmentWriter] = {}
        self._tracks: dict[int, TrackMeta] = {}
        self._numbers: dict[str, int] = {}
        self._next_number = 1
        self._thread: threading.Thread | None = None
        self._started = started or 0.0
        self._given_start = started is not None
        self.errors: list[str] = []
        self.overflow = 0  # frames dropped because the writer fell too far behind

    @property
    def started(self) -> float:
        return self._started

    @property
    def writer_thread_id(self) -> int | None:
        """The writer thread's id (the benchmark reads its CPU clock)."""
        return self._thread.ident if self._thread else None

    def elapsed(self) -> float:
        return max(0.0, self._clock() - self._started) if self._started else 0.0

    def start(self, resume: bool = False) -> None:
        """Begin writing; `resume` continues a recording whose writer died (a killed SFU worker): the journal
        stays, and new tracks are numbered after the ones already there."""
        if not self._given_start:
            self._started = self._clock()
        if resume and self.journal.directory.joinpath("recording.json").is_file():
            self._next_number = max((meta.number for meta, _ in self.journal.tracks()), default=0) + 1
        else:
            self.journal.create(self._meta)
            self.journal.heartbeat(0.0)
        self._thread = threading.Thread(target=self._run, name=f"recorder-{self.recording_id}", daemon=True)
        self._thread.start()

    def add_track(self, info: TrackInfo) -> Callable[[EncodedFrame], None]:
        """Register a track and return the sink to attach to the SFU for it.

        Raises UnsupportedCodec (a ValueError) for a codec that has no container here (e.g. PCMU).
        """
        container_for(info.codec)
        number = self._next_number
        self._next_number += 1
        meta = TrackMeta(
            number=number,
            track_id=info.track_id,
            participant_id=info.participant_id,
            participant_name=info.participant_name,
            participant_role=info.participant_role,
            kind=info.kind,
            source=info.source,
            codec=info.codec,
        )
        self._tracks[number] = meta
        self._numbers[info.track_id] = number
        self.journal.write_track(meta)
        queue_ = self._queue

        def sink(frame: EncodedFrame) -> None:
            if queue_.qsize() >= MAX_QUEUED:  # the disk stalls: drop rather than grow without bound
                self.overflow += 1
                return
            queue_.put((number, frame))

        return sink

    def end_track(self, track_id: str) -> None:
        """The track was unpublished: close its open segment now rather than at the end of the lesson."""
        number = self._numbers.get(track_id)
        if number is not None:
            self._queue.put((number, None))

    def mark(
        self, type: MarkerType, *, participant_id: str = "", label: str = "", at: float | None = None
    ) -> Marker:
        t = (at if at is not None else self._clock()) - self._started
        marker = Marker(t=round(max(0.0, t), 3), type=type, participant_id=participant_id, label=label)
        self.journal.append_marker(marker)
        return marker

    def stop(self) -> None:
        """Flush every track; after this the recording directory can be finalised."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread = None
        self.journal.heartbeat(self.elapsed())
        self.journal.set_status("finalising", ended_at=datetime.now(UTC).isoformat())

    def _run(self) -> None:
        """Drain the queue in batches, pausing between them: waking once per frame would cost more CPU
        (and GIL hand-offs with the event loop) than muxing the frames does."""
        next_beat = self._clock() + HEARTBEAT_SECONDS
        get, get_nowait = self._queue.get, self._queue.get_nowait
        running = True
        while running:
            batch = []
            try:
                batch.append(get(timeout=HEARTBEAT_SECONDS))
                while True:
                    batch.append(get_nowait())
            except queue.Empty:
                pass
            for item in batch:
                if item is None:
                    running = False
                    break
                self._write(*item)
            now = self._clock()
            if now >= next_beat:
                next_beat = now + HEARTBEAT_SECONDS
                for writer in self._writers.values():
                    writer.rotate_if_idle(now)
                try:
                    self.journal.heartbeat(now - self._started)
                except OSError as e:  # a lost heartbeat costs only recovery precision; keep writing
                    log.warning("recording %s: heartbeat not written: %s", self.journal.directory, e)
            if running:
                time.sleep(BATCH_PAUSE)
        for writer in self._writers.values():
            writer.close()

    def _write(self, number: int, frame: EncodedFrame | None) -> None:
        meta = self._tracks[number]
        writer = self._writers.get(number)
        if frame is None:
            if writer is not None:
                writer.close()
            return
        if writer is None:
            writer = self._writers[number] = SegmentWriter(
                self.journal.track_dir(number), meta.codec, meta.kind, segment_seconds=self.segment_seconds,
                on_closed=self._on_segment,
            )
        try:
            writer.write(frame)
        except Exception as exc:  # a malformed frame must not stop the other tracks
            if len(self.errors) < 100:
                self.errors.append(f"track {meta.track_id}: {exc}")
            if len(self.errors) <= 3:  # one failure repeats per frame (a full disk): log the first few
                log.warning("recording %s track %s: %s", self.recording_id, meta.track_id, exc)
            return
        if meta.start_offset is None and writer.stats.first_arrival is not None:
            meta.start_offset = round(max(0.0, writer.stats.first_arrival - self._started), 3)
            meta.width, meta.height = writer.stats.width, writer.stats.height
            self.journal.write_track(meta)
