"""The lesson MP4: H.264 + AAC of the lesson's length, and its layout follows the courseware."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest

from recorder.composite import MP4_NAME, CompositeSettings, compose
from recorder.finalise import finalise
from recorder.jobs import CompositeQueue
from recorder.recording import Recording, TrackInfo
from recorder.testclip import looped, video_clip

LESSON = 8.0
COURSEWARE_AT = 3.0
GREEN = np.array([0, 160, 0])
BLUE = np.array([0, 0, 200])
RED = np.array([200, 0, 0])
STAGE = (5.0, 7.0)


@pytest.fixture(scope="module")
def classroom_clip():
    return video_clip(2.0, rgb=(200, 0, 0))


@pytest.fixture
def lesson(tmp_path, camera_clip, screen_clip, mic_clip, classroom_clip):
    clock = [500.0]
    recording = Recording(tmp_path, "lesson-1", "room-1", clock=lambda: clock[0])
    recording.start()
    sinks = {
        "cam": recording.add_track(
            TrackInfo("cam", "teacher", "video", "camera", "VP8", "李老师", "hub_teacher")
        ),
        "scr": recording.add_track(
            TrackInfo("scr", "teacher", "video", "screen", "VP8", "李老师", "hub_teacher")
        ),
        "mic": recording.add_track(
            TrackInfo("mic", "teacher", "audio", "microphone", "opus", "李老师", "hub_teacher")
        ),
        "c1": recording.add_track(TrackInfo("c1", "class1", "video", "camera", "VP8", "村小1", "classroom")),
    }
    frames = [
        *looped(camera_clip, LESSON, "cam", arrival_base=500.0),
        *looped(screen_clip, LESSON - COURSEWARE_AT, "scr", arrival_base=500.0 + COURSEWARE_AT),
        *looped(mic_clip, LESSON, "mic", arrival_base=500.0),
        *looped(classroom_clip, LESSON, "c1", arrival_base=500.0),
    ]
    for frame in sorted(frames, key=lambda f: f.arrival):
        sinks[frame.track_id](frame)
    recording.mark("courseware_on", participant_id="teacher", at=500.0 + COURSEWARE_AT)
    recording.mark("stage_on", participant_id="class1", at=500.0 + STAGE[0])
    recording.mark("stage_off", participant_id="class1", at=500.0 + STAGE[1])
    clock[0] += LESSON
    recording.stop()
    return recording.directory, finalise(recording.directory)


def dominant(rgb: np.ndarray) -> np.ndarray:
    """The median colour of a region (the clips' moving white bar is a minority)."""
    return np.median(rgb.reshape(-1, 3), axis=0)


def close_to(colour: np.ndarray, expected: np.ndarray) -> bool:
    return bool(np.all(np.abs(colour - expected) < 40))


async def test_composite_mp4_has_video_and_audio_and_switches_layout_when_courseware_starts(lesson):
    directory, index = lesson
    queue = CompositeQueue(CompositeSettings(width=320, height=180, fps=10, preset="ultrafast"))
    queue.start()
    job = queue.submit(directory)
    assert job.state == "queued" and queue.position("lesson-1") == 0
    await asyncio.wait_for(queue.join(), 60)
    await queue.stop()
    assert job.state == "done", job.error
    assert job.progress == 1.0

    with av.open(str(directory / MP4_NAME)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert float(video.duration * video.time_base) == pytest.approx(LESSON, rel=0.05)
        assert float(audio.duration * audio.time_base) == pytest.approx(LESSON, rel=0.05)
        pictures = {}
        for frame in container.decode(video):
            pictures[round(float(frame.pts * frame.time_base), 1)] = frame.to_ndarray(format="rgb24")
    with av.open(str(directory / MP4_NAME)) as container:
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert np.abs(samples).max() > 0.05  # the tone, not silence

    before, after = pictures[1.0], pictures[6.0]
    # Teacher only: the camera fills the middle; no courseware anywhere.
    assert close_to(dominant(before[60:120, 120:200]), GREEN)
    assert not close_to(dominant(before[20:160, 60:260]), BLUE)
    # Courseware on: it fills the middle, the teacher sits in the bottom-right corner.
    assert close_to(dominant(after[40:120, 100:220]), BLUE)
    assert close_to(dominant(after[130:170, 245:310]), GREEN)
    assert not close_to(dominant(before[130:170, 245:310]), BLUE)
    # A classroom on stage appears in the other corner, and only while it is on stage.
    left_corner = (slice(130, 170), slice(10, 75))
    assert close_to(dominant(after[left_corner]), RED)
    assert close_to(dominant(pictures[4.0][left_corner]), BLUE)
    assert close_to(dominant(pictures[7.5][left_corner]), BLUE)
    assert not any(close_to(dominant(p[20:160, 20:300]), RED) for p in (before, pictures[4.0]))


async def test_queue_runs_one_job_at_a_time_and_requeues_after_restart(lesson, tmp_path):
    directory, _ = lesson
    queue = CompositeQueue(CompositeSettings(width=160, height=92, fps=5, preset="ultrafast"))
    jobs = queue.requeue_missing(tmp_path)
    assert [j.recording_id for j in jobs] == ["lesson-1"]
    assert queue.submit(directory) is jobs[0]  # no duplicate while queued
    queue.start()
    await asyncio.wait_for(queue.join(), 60)
    await queue.stop()
    assert jobs[0].state == "done"
    broken = tmp_path / "elsewhere" / "broken"
    broken.mkdir(parents=True)
    (broken / "index.json").write_text("{}")
    failing = queue.submit(broken)
    queue.start()
    await asyncio.wait_for(queue.join(), 60)
    await queue.stop()
    assert failing.state == "failed" and "validation error" in failing.error
    restarted = CompositeQueue()
    assert restarted.requeue_missing(tmp_path) == []
    assert restarted.submit(directory).state == "done"


async def test_a_teacher_who_reconnects_stays_in_the_picture(tmp_path, camera_clip, mic_clip):
    """A reconnect publishes a new camera track: the MP4 shows the teacher from both tracks."""
    clock = [0.0]
    recording = Recording(tmp_path, "reconnect", "room-1", clock=lambda: clock[0])
    recording.start()
    first = recording.add_track(
        TrackInfo("cam-1", "teacher", "video", "camera", "VP8", "李老师", "hub_teacher")
    )
    second = recording.add_track(
        TrackInfo("cam-2", "teacher", "video", "camera", "VP8", "李老师", "hub_teacher")
    )
    for frame in looped(camera_clip, 3.0, "cam-1", arrival_base=0.0):
        first(frame)
    for frame in looped(camera_clip, 3.0, "cam-2", rtp_base=123456, arrival_base=4.0):
        second(frame)
    clock[0] = 7.0
    recording.stop()
    index = finalise(recording.directory)
    compose(recording.directory, index, CompositeSettings(width=160, height=92, fps=5, preset="ultrafast"))
    with av.open(str(recording.directory / MP4_NAME)) as container:
        seen = {
            round(float(f.pts * f.time_base), 1): f.to_ndarray(format="rgb24")
            for f in container.decode(video=0)
        }
    assert close_to(dominant(seen[1.0][30:60, 60:100]), GREEN)
    assert not close_to(dominant(seen[3.6][30:60, 60:100]), GREEN)  # between the two tracks
    assert close_to(dominant(seen[6.0][30:60, 60:100]), GREEN)


async def test_in_a_delivery_lesson_a_classroom_is_heard_only_while_on_stage(tmp_path, camera_clip, mic_clip):
    clock = [0.0]
    recording = Recording(tmp_path, "heard", "room-1", room_kind="delivery", clock=lambda: clock[0])
    recording.start()
    cam = recording.add_track(TrackInfo("cam", "teacher", "video", "camera", "VP8", "李老师", "hub_teacher"))
    mic = recording.add_track(
        TrackInfo("c1mic", "class1", "audio", "microphone", "opus", "村小1", "classroom")
    )
    for frame in looped(camera_clip, 6.0, "cam", arrival_base=0.0):
        cam(frame)
    for frame in looped(mic_clip, 6.0, "c1mic", arrival_base=0.0):
        mic(frame)
    recording.mark("stage_on", participant_id="class1", at=2.0)
    recording.mark("stage_off", participant_id="class1", at=4.0)
    clock[0] = 6.0
    recording.stop()
    index = finalise(recording.directory)
    compose(recording.directory, index, CompositeSettings(width=160, height=92, fps=5, preset="ultrafast"))
    with av.open(str(recording.directory / MP4_NAME)) as container:
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)[0]

    def loudness(a: float, b: float) -> float:
        return float(np.abs(samples[int(a * 48000) : int(b * 48000)]).mean())

    assert loudness(0.2, 1.8) < 0.005 and loudness(4.3, 5.8) < 0.005
    assert loudness(2.3, 3.7) > 0.05


def test_classrooms_on_stage_line_up_without_covering_each_other_or_the_teacher():
    from recorder.composite import Rect, corner, stage_boxes

    def overlap(a: Rect, b: Rect) -> bool:
        return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h

    settings = CompositeSettings(width=1280, height=720)
    teacher = corner(settings, "right")
    for courseware in (True, False):
        for n in range(1, 7):
            boxes = stage_boxes(settings, n, courseware)
            assert len(boxes) == min(n, 2 if courseware else 3)  # 1280 wide: quarter-width boxes with margins
            assert all(0 <= b.x and b.x + b.w <= 1280 and 0 <= b.y and b.y + b.h <= 720 for b in boxes)
            assert not any(overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
            if courseware:
                assert not any(overlap(b, teacher) for b in boxes)
