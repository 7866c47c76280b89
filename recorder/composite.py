"""One H.264 + AAC MP4 per lesson, composed from the recorded tracks with PyAV.

This is the single transcode a lesson gets, and it runs off the live path (a queued background job).
Layout: the courseware large with the teacher in a corner while courseware is on; the teacher alone
otherwise; a classroom brought on stage appears in the other corner. Audio: the microphones mixed as
they were heard live (in a delivery lesson a classroom only while on stage). Work is streamed (decode → place → encode) so memory stays flat for a 45-minute lesson.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from recorder import broadcast
from recorder.hls_file import JoinedFile, joined
from recorder.index import LESSON_NAME, Marker, RecordingIndex, TrackEntry
from recorder.layout import CompositeSettings, Rect, corner, fit, stage_boxes

RATE = 48000
AAC_FRAME = 1024
MP4_NAME = LESSON_NAME
DEFAULT_SETTINGS = CompositeSettings()
HOLD_SECONDS = 0.5  # a video keeps its last picture this long after its last frame


Source = Path | JoinedFile


def source_of(directory: Path, index: RecordingIndex, entry: TrackEntry) -> Source:
    """A track's file, or for one the broadcast stored, its HLS segments joined (the node's local copies)."""
    if entry.origin == "file":
        return directory / entry.file
    whole = joined(index, entry.file)
    if whole is None:
        raise ValueError(f"{entry.file} is not in the recording's HLS part")
    note = broadcast.load(directory)
    root = note.local_root if note is not None and note.local_root else directory.parent.parent
    return JoinedFile(root, whole)


def _open(source: Source) -> av.container.InputContainer:
    return av.open(str(source) if isinstance(source, Path) else source)


class VideoReader:
    """Decodes one track forward in time and answers 'which picture shows at lesson time t'."""

    def __init__(self, path: Source, entry: TrackEntry) -> None:
        self.container = _open(path)
        stream = self.container.streams.video[0]
        stream.thread_type = "SLICE"
        stream.codec_context.thread_count = 1
        self._frames = self.container.decode(stream)
        self.offset = entry.start_offset
        self.end = entry.start_offset + entry.duration + HOLD_SECONDS
        self._first: float | None = None
        self.current: av.VideoFrame | None = None
        self._next: av.VideoFrame | None = None
        self._next_t = 0.0
        self._done = False
        self.version = 0  # changes whenever `current` changes, so callers can cache its scaled planes

    def _t(self, frame: av.VideoFrame) -> float:
        t = float(frame.pts * frame.time_base)
        if self._first is None:
            self._first = t
        return self.offset + t - self._first

    def _pull(self) -> None:
        try:
            frame = next(self._frames)
        except (StopIteration, av.FFmpegError):
            self._done = True
            self._next = None
            return
        self._next, self._next_t = frame, self._t(frame)

    def at(self, t: float) -> av.VideoFrame | None:
        if t < self.offset or t >= self.end:
            return None
        if self._next is None and not self._done and self.current is None:
            self._pull()
        while self._next is not None and self._next_t <= t:
            self.current = self._next
            self.version += 1
            self._pull()
        return self.current

    def close(self) -> None:
        self.container.close()


class AudioReader:
    """Decodes one track to 48 kHz stereo float and serves it by lesson sample position (zeros outside)."""

    def __init__(self, path: Source, entry: TrackEntry) -> None:
        self.container = _open(path)
        self._frames = self.container.decode(self.container.streams.audio[0])
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
        self.offset = round(entry.start_offset * RATE)
        self._buf = np.zeros((2, 0), np.float32)
        self._buf_start = self.offset
        self._first: float | None = None
        self._done = False
        self.heard: list[tuple[float, float]] | None = None  # None: always in the mix

    def _decode_more(self) -> None:
        try:
            frame = next(self._frames)
        except (StopIteration, av.FFmpegError):
            self._done = True
            return
        t = float(frame.pts * frame.time_base) if frame.pts is not None else None
        for out in self._resampler.resample(frame):
            samples = out.to_ndarray().astype(np.float32, copy=False)
            end = self._buf_start + self._buf.shape[1]
            if t is not None:
                if self._first is None:
                    self._first = t
                position = self.offset + round((t - self._first) * RATE)
                if position > end + AAC_FRAME:  # a gap in the track (packets never arrived): silence
                    gap = np.zeros((2, position - end), np.float32)
                    self._buf = np.concatenate([self._buf, gap], axis=1)
                t = None
            self._buf = np.concatenate([self._buf, samples], axis=1)

    def read(self, start: int, count: int) -> np.ndarray:
        while not self._done and self._buf_start + self._buf.shape[1] < start + count:
            self._decode_more()
        out = np.zeros((2, count), np.float32)
        lo = max(start, self._buf_start)
        hi = min(start + count, self._buf_start + self._buf.shape[1])
        if hi > lo:
            out[:, lo - start : hi - start] = self._buf[:, lo - self._buf_start : hi - self._buf_start]
        drop = max(0, min(start + count, self._buf_start + self._buf.shape[1]) - self._buf_start)
        if drop:
            self._buf = self._buf[:, drop:]
            self._buf_start += drop
        return out

    def close(self) -> None:
        self.container.close()


def stage_intervals(markers: list[Marker], duration: float) -> dict[str, list[tuple[float, float]]]:
    """participant_id → the times it was on stage, from the stage markers."""
    open_at: dict[str, float] = {}
    spans: dict[str, list[tuple[float, float]]] = {}
    for m in sorted(markers, key=lambda m: m.t):
        if m.type == "stage_on" and m.participant_id not in open_at:
            open_at[m.participant_id] = m.t
        elif m.type == "stage_off" and m.participant_id in open_at:
            spans.setdefault(m.participant_id, []).append((open_at.pop(m.participant_id), m.t))
    for pid, start in open_at.items():
        spans.setdefault(pid, []).append((start, duration))
    return spans


def pick_teacher(index: RecordingIndex) -> TrackEntry | None:
    """The hub teacher's camera: the one whose owner shares courseware, else a teacher's, else the first."""
    cameras = [t for t in index.tracks if t.kind == "video" and t.source == "camera"]
    presenters = {t.participant_id for t in index.tracks if t.source == "screen"}
    for rule in (
        lambda t: t.participant_id in presenters,
        lambda t: "teacher" in t.participant_role and "co" not in t.participant_role,
        lambda t: True,
    ):
        for cam in cameras:
            if rule(cam):
                return cam
    return None


class _Canvas:
    """A yuv420p picture as one packed array, with plane views to paste scaled pictures into."""

    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.data = np.empty((h * 3 // 2, w), np.uint8)
        self.y = self.data[:h]
        self.u = self.data[h : h + h // 4].reshape(h // 2, w // 2)
        self.v = self.data[h + h // 4 :].reshape(h // 2, w // 2)

    def clear(self) -> None:
        self.y.fill(16)
        self.u.fill(128)
        self.v.fill(128)

    def paste(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], r: Rect) -> None:
        y, u, v = planes
        self.y[r.y : r.y + r.h, r.x : r.x + r.w] = y
        cx, cy, cw, ch = r.x // 2, r.y // 2, r.w // 2, r.h // 2
        self.u[cy : cy + ch, cx : cx + cw] = u
        self.v[cy : cy + ch, cx : cx + cw] = v


def _planes(frame: av.VideoFrame, r: Rect) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scaled = frame.reformat(width=r.w, height=r.h, format="yuv420p")
    planes = []
    for plane in scaled.planes:
        data = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        planes.append(data[:, : plane.width].copy())
    return planes[0], planes[1], planes[2]


class _Slot:
    """One person's source drawn in one place: the tracks it published one after another (a reconnect
    publishes a new track), latest first. Caches the scaled picture until the picture changes."""

    def __init__(self, readers: list[VideoReader]) -> None:
        self.readers = sorted(readers, key=lambda r: r.offset, reverse=True)
        self._key: tuple | None = None
        self._planes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._rect: Rect | None = None

    def draw(self, canvas: _Canvas, t: float, box: Rect) -> bool:
        for reader in self.readers:
            frame = reader.at(t)
            if frame is not None:
                break
        else:
            return False
        key = (id(reader), reader.version, box)
        if key != self._key:
            self._rect = fit(frame.width, frame.height, box)
            self._planes = _planes(frame, self._rect)
            self._key = key
        canvas.paste(self._planes, self._rect)
        return True


def _yuv_rgb_guard(settings: CompositeSettings) -> None:
    if settings.width % 4 or settings.height % 4:
        raise ValueError("composite width and height must be multiples of 4")


def compose(
    directory: Path,
    index: RecordingIndex,
    settings: CompositeSettings = DEFAULT_SETTINGS,
    progress: Callable[[float], None] | None = None,
    target: Path | None = None,
) -> Path:
    """Write `lesson.mp4` beside the tracks; `progress` gets 0..1 as it goes."""
    _yuv_rgb_guard(settings)
    target = target or directory / MP4_NAME
    tmp = target.with_name(target.name + ".part")
    duration = index.duration
    teacher = pick_teacher(index)
    screens = [t for t in index.tracks if t.kind == "video" and t.source == "screen"]
    stage = stage_intervals(index.markers, duration)
    cameras: dict[str, list[TrackEntry]] = {}
    for t in index.tracks:
        if t.kind == "video" and t.source == "camera":
            cameras.setdefault(t.participant_id, []).append(t)
    mics = [t for t in index.tracks if t.kind == "audio"]

    def slot(entries: list[TrackEntry]) -> _Slot:
        return _Slot([VideoReader(source_of(directory, index, e), e) for e in entries])

    teacher_slot = slot(cameras.pop(teacher.participant_id)) if teacher else None
    screen_slots = [slot([s]) for s in screens]
    classroom_slots = {pid: slot(entries) for pid, entries in cameras.items() if pid in stage}
    audio = [AudioReader(source_of(directory, index, m), m) for m in mics]
    teacher_id = teacher.participant_id if teacher else None
    for reader, mic in zip(audio, mics, strict=True):
        if (
            index.room_kind == "delivery"
            and mic.participant_id != teacher_id
            and "teacher" not in mic.participant_role
        ):
            reader.heard = stage.get(mic.participant_id, [])  # as live: a classroom is heard while on stage
    slots = [s for s in [teacher_slot, *screen_slots, *classroom_slots.values()] if s]
    readers: list[VideoReader | AudioReader] = [r for s in slots for r in s.readers] + audio

    output = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
    try:
        vstream = output.add_stream("libx264", rate=settings.fps)
        vstream.width, vstream.height, vstream.pix_fmt = settings.width, settings.height, "yuv420p"
        vstream.codec_context.gop_size = settings.fps * 2
        vstream.codec_context.thread_count = settings.threads
        vstream.codec_context.options = {"preset": settings.preset, "crf": str(settings.crf), "bframes": "0"}
        astream = output.add_stream("aac", rate=RATE, layout="stereo")
        astream.codec_context.bit_rate = settings.audio_bit_rate
        canvas = _Canvas(settings.width, settings.height)
        full = Rect(0, 0, settings.width, settings.height)
        right = corner(settings, "right")
        total_frames = max(1, round(duration * settings.fps))
        audio_pos = 0
        audio_total = round(duration * RATE)
        for i in range(total_frames):
            t = i / settings.fps
            canvas.clear()
            courseware = any(slot.draw(canvas, t, full) for slot in screen_slots)
            if teacher_slot:
                teacher_slot.draw(canvas, t, right if courseware else full)
            staged = [slot for pid, slot in classroom_slots.items() if any(a <= t < b for a, b in stage[pid])]
            for slot, box in zip(staged, stage_boxes(settings, len(staged), courseware), strict=False):
                slot.draw(canvas, t, box)
            frame = av.VideoFrame.from_ndarray(canvas.data, format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, settings.fps)
            output.mux(vstream.encode(frame))
            until = min(audio_total, round((i + 1) / settings.fps * RATE))
            while audio_pos + AAC_FRAME <= until or (i == total_frames - 1 and audio_pos < audio_total):
                output.mux(astream.encode(_audio_frame(audio, audio_pos)))
                audio_pos += AAC_FRAME
            if progress and (i % settings.fps == 0):
                progress(i / total_frames)
        output.mux(vstream.encode(None))
        output.mux(astream.encode(None))
    finally:
        output.close()
        for reader in readers:
            reader.close()
    os.replace(tmp, target)
    if progress:
        progress(1.0)
    return target


def _audio_frame(audio: list[AudioReader], position: int) -> av.AudioFrame:
    mix = np.zeros((2, AAC_FRAME), np.float32)
    t = position / RATE
    for reader in audio:
        samples = reader.read(position, AAC_FRAME)
        if reader.heard is None or any(a <= t < b for a, b in reader.heard):
            mix += samples
    np.clip(mix, -1.0, 1.0, out=mix)
    frame = av.AudioFrame.from_ndarray(mix, format="fltp", layout="stereo")
    frame.sample_rate = RATE
    frame.pts = position
    frame.time_base = Fraction(1, RATE)
    return frame


def frames_of(path: Path) -> Iterator[av.VideoFrame]:
    """Decoded pictures of a composite (for checks and thumbnails)."""
    with av.open(str(path)) as container:
        yield from container.decode(video=0)


def main(argv: list[str] | None = None) -> int:
    """`python -m recorder.composite DIR`: compose one recording, printing `progress <0..1>` lines.

    The queue runs the composite in its own (niced) process, so the transcode never holds the live
    node's GIL or competes with the SFU at the same priority.
    """
    import argparse
    import sys

    from recorder.index import load_index

    parser = argparse.ArgumentParser(prog="python -m recorder.composite")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--width", type=int, default=CompositeSettings.width)
    parser.add_argument("--height", type=int, default=CompositeSettings.height)
    parser.add_argument("--fps", type=int, default=CompositeSettings.fps)
    parser.add_argument("--preset", default=CompositeSettings.preset)
    parser.add_argument("--crf", type=int, default=CompositeSettings.crf)
    args = parser.parse_args(argv)
    settings = CompositeSettings(
        width=args.width, height=args.height, fps=args.fps, preset=args.preset, crf=args.crf
    )

    def progress(value: float) -> None:
        print(f"progress {value:.4f}", flush=True)

    try:
        compose(args.directory, load_index(args.directory), settings, progress)
    except Exception as exc:
        summary = " ".join(str(exc).split())[:300]
        print(f"error {type(exc).__name__}: {summary}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
