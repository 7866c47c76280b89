"""The recording read from a broadcast's HLS segments, with the packager in this process (no server): the
lesson MP4 composes the teacher from the segments, a crashed recording finds them on disk, and a restarted
packager goes on in a new generation on the stream's timeline."""

from __future__ import annotations

import time
from dataclasses import asdict

import av
import numpy as np
import pytest

from core.storage import LocalStorage
from media.hls_cutter import HlsCutter
from media.hls_recording import describe
from media.hls_stream import HlsStream
from recorder import broadcast
from recorder.composite import MP4_NAME, CompositeSettings, compose
from recorder.finalise import finalise, recover
from recorder.recording import Recording, TrackInfo
from recorder.testclip import looped, video_clip

pytestmark = pytest.mark.timeout(180)
LESSON = 8.0  # the composed lesson (courseware from 3 s)


def packager(stream_id: str, store: LocalStorage, prefix: str) -> tuple[HlsStream, HlsCutter]:
    """The packager's two halves in this process (a tap joins them through a worker channel otherwise)."""
    stream = HlsStream(stream_id, lambda name, data: store.put_bytes(prefix + name, data), segment_seconds=1.0)
    cutter = HlsCutter(lambda built: stream.receive({"segment": asdict(built)}), segment_seconds=1.0)
    cutter.set_audio(True)
    return stream, cutter


async def test_a_lesson_with_courseware_composes_the_teacher_from_the_hls_segments(tmp_path, screen_clip, mic_clip):
    """Courseware (not in the HLS) is recorded as before; the lesson MP4 composes it with the teacher's camera
    and microphone read from the broadcast's segments, laid out as for any lesson."""
    media_dir = tmp_path / "media"
    store, prefix = LocalStorage(media_dir), "hls/room-1/abc/"
    stream, cutter = packager("abc", store, prefix)
    clock = [500.0]
    recording = Recording(media_dir / "recordings", "lesson-2", "room-1", clock=lambda: clock[0])
    recording.start()
    screen = recording.add_track(TrackInfo("scr", "teacher", "video", "screen", "VP8", "李老师", "hub_teacher"))
    camera = video_clip(2.0, codec="H264", rgb=(0, 160, 0))
    frames = [
        *looped(camera, LESSON, "cam", arrival_base=500.0),
        *looped(mic_clip, LESSON, "mic", arrival_base=500.0),
        *looped(screen_clip, LESSON - 3.0, "scr", arrival_base=503.0),
    ]
    sinks = {"cam": cutter.on_video, "mic": cutter.on_audio, "scr": screen}
    for frame in sorted(frames, key=lambda f: (f.arrival, f.kind != "video")):
        sinks[frame.track_id](frame)
    recording.mark("courseware_on", participant_id="teacher", at=503.0)
    clock[0] += LESSON
    recording.stop()
    await cutter.flush()
    await stream.close()
    stored = describe(stream, prefix, ["cam", "mic"])
    assert stored is not None
    who = TrackInfo("cam", "teacher", "video", "camera", "H264", "李老师", "hub_teacher")
    broadcast.save(recording.directory, stored, 500.0, who, media_dir)
    index = finalise(recording.directory)
    assert not index.lesson_is_hls and {(t.source, t.origin) for t in index.tracks} == {
        ("camera", "hls"), ("microphone", "hls"), ("screen", "file"),
    }  # fmt: skip
    assert not list(recording.directory.glob("track-*-camera*")), "the camera is not written by the recorder"

    compose(recording.directory, index, CompositeSettings(width=320, height=180, fps=10, preset="ultrafast"))
    with av.open(str(recording.directory / MP4_NAME)) as container:
        video = container.streams.video[0]
        assert float(video.duration * video.time_base) == pytest.approx(index.duration, abs=0.5)
        pictures = {round(float(f.pts * f.time_base), 1): f.to_ndarray(format="rgb24") for f in container.decode(video)}
    with av.open(str(recording.directory / MP4_NAME)) as container:
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert np.abs(samples).max() > 0.05, "the teacher's microphone, from the segments"
    median = lambda rgb: np.median(rgb.reshape(-1, 3), axis=0)  # noqa: E731
    assert np.all(np.abs(median(pictures[1.0][60:120, 120:200]) - (0, 160, 0)) < 40), "the teacher fills the picture"
    assert np.all(np.abs(median(pictures[6.0][40:120, 100:220]) - (0, 0, 200)) < 40), "then the courseware"
    assert np.all(np.abs(median(pictures[6.0][130:170, 245:310]) - (0, 160, 0)) < 40), "teacher in the corner"


async def test_after_a_crash_the_recording_finds_the_broadcast_segments_on_disk(tmp_path, mic_clip):
    """The node dies mid-lesson (no `finish`, no note of the stream): recovery reads the segments the
    broadcast left on disk back, and the recording still has the teacher, with the segments' timing."""
    media_dir = tmp_path / "media"
    store, prefix = LocalStorage(media_dir), "hls/room-3/def/"
    stream, cutter = packager("def", store, prefix)
    recording = Recording(media_dir / "recordings", "lesson-3", "room-3")
    recording.start()
    who = TrackInfo("cam", "teacher", "video", "camera", "H264", "李老师", "hub_teacher")
    broadcast.note_pending(recording.directory, prefix, who, media_dir)
    camera = video_clip(2.0, codec="H264", rgb=(0, 160, 0))
    now = time.monotonic()
    frames = [*looped(camera, 6.0, "cam", arrival_base=now), *looped(mic_clip, 6.0, "mic", arrival_base=now)]
    for frame in sorted(frames, key=lambda f: (f.arrival, f.kind != "video")):
        (cutter.on_video if frame.kind == "video" else cutter.on_audio)(frame)
    await cutter.flush()
    await stream.close()  # the segments are on disk; the process "dies" before the recorder hears of them
    (index,) = recover(media_dir / "recordings")
    assert index.recovered and index.hls is not None and index.lesson_is_hls
    (generation,) = index.hls.generations
    assert [s.name for s in generation.segments] == [s.name for s in stream.segments]
    assert generation.duration == pytest.approx(sum(s.duration for s in stream.segments), abs=0.01)
    assert generation.frames == sum(s.frames for s in stream.segments) and generation.with_audio
    assert (generation.width, generation.height) == (160, 120)
    assert generation.start_offset < 1.0 and index.duration == pytest.approx(generation.duration, abs=1.0)


async def test_a_packager_started_again_continues_the_streams_numbers_and_timeline(tmp_path):
    """The SFU worker holding the packager was restarted: the new packager numbers its segments from 1 again;
    the stream goes on in a new generation (a discontinuity), never reusing a name (segments are cached
    forever), placed on the stream's own timeline, so the recording puts them where they were broadcast."""
    store, prefix = LocalStorage(tmp_path), "hls/room-w/abc/"
    stream, first = packager("abc", store, prefix)
    camera = video_clip(2.0, codec="H264")
    now = time.monotonic()
    for frame in looped(camera, 4.0, "cam", arrival_base=now):
        first.on_video(frame)
    await first.flush()
    second = HlsCutter(lambda built: stream.receive({"segment": asdict(built)}), segment_seconds=1.0)
    for frame in looped(camera, 4.0, "cam", arrival_base=now + 10.0):
        second.on_video(frame)
    await second.flush()
    await stream.close()
    names = [s.name for s in stream.segments]
    assert len(names) == len(set(names)) and {s.generation for s in stream.segments} == {1, 2}, names
    assert [s.sequence for s in stream.segments] == list(range(1, len(names) + 1))
    later = next(s for s in stream.segments if s.generation == 2)
    assert later.start == pytest.approx(10.0, abs=0.01) and later.discontinuity == 1
    assert "#EXT-X-DISCONTINUITY" in stream.playlist(lambda n: n, whole=True)
    assert all(store.local_path(prefix + n).is_file() for n in [*names, "init-1.mp4", "init-2.mp4"])
