"""Recording writes segments as frames arrive and finalises them into one decodable file per track."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from recorder.finalise import finalise
from recorder.index import load_index
from recorder.recording import Recording, TrackInfo
from recorder.testclip import looped, video_clip


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def decode_all(path: Path) -> tuple[int, float]:
    """Decode every frame of the file's only stream; return frame count and media seconds covered."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        count = 0
        first = last = None
        for frame in container.decode(stream):
            count += 1
            t = float(frame.pts * frame.time_base)
            first = t if first is None else first
            last = t + (frame.samples / frame.sample_rate if stream.type == "audio" else 0)
        return count, (last - first) if count else 0.0


def record(
    root: Path, tracks: dict[str, tuple[TrackInfo, list]], clock: FakeClock, seconds: float
) -> Recording:
    recording = Recording(root, "rec-1", "room-1", room_kind="delivery", title="Unit 1", clock=clock)
    recording.start()
    sinks = {tid: recording.add_track(info) for tid, (info, _) in tracks.items()}
    frames = sorted((f for _, fs in tracks.values() for f in fs), key=lambda f: f.arrival)
    for frame in frames:
        sinks[frame.track_id](frame)
    recording.mark("courseware_on", participant_id="teacher", label="课件", at=clock.t + 2.5)
    clock.t += seconds
    recording.stop()
    return recording


def test_each_track_becomes_one_file_that_decodes_completely(tmp_path, camera_clip, mic_clip):
    clock = FakeClock()
    seconds = 9.0
    cam = list(looped(camera_clip, seconds - 0.4, "cam", rtp_base=2**32 - 30_000, arrival_base=clock.t + 0.4))
    mic = list(looped(mic_clip, seconds - 0.1, "mic", rtp_base=77, arrival_base=clock.t + 0.1))
    tracks = {
        "cam": (TrackInfo("cam", "teacher", "video", "camera", "VP8", "王老师", "hub_teacher"), cam),
        "mic": (TrackInfo("mic", "teacher", "audio", "microphone", "opus", "王老师", "hub_teacher"), mic),
    }
    recording = record(tmp_path, tracks, clock, seconds)
    segments = sorted(p.name for p in (recording.directory / "tracks" / "01").glob("seg-*"))
    assert len(segments) >= 4 and not any(name.endswith(".part") for name in segments)

    index = finalise(recording.directory)

    assert index.duration == pytest.approx(seconds, abs=0.05)
    assert not index.recovered and index.lost_seconds == 0
    by_source = {t.source: t for t in index.tracks}
    assert by_source["camera"].start_offset == pytest.approx(0.4, abs=0.01)
    assert by_source["microphone"].start_offset == pytest.approx(0.1, abs=0.01)
    assert (by_source["camera"].width, by_source["camera"].height) == (160, 120)
    for entry, fed in ((by_source["camera"], cam), (by_source["microphone"], mic)):
        count, covered = decode_all(recording.directory / entry.file)
        assert count == len(fed) == entry.frames
        expected = seconds - entry.start_offset
        assert covered == pytest.approx(expected, rel=0.05)
        assert entry.duration == pytest.approx(expected, rel=0.05)
    assert [m.type for m in index.markers] == ["courseware_on"]
    assert index.markers[0].t == pytest.approx(2.5)
    assert not (recording.directory / "tracks").exists()
    assert load_index(recording.directory) == index
    assert finalise(recording.directory) == index  # idempotent


def test_video_waits_for_a_keyframe_and_drops_repeated_timestamps(tmp_path, camera_clip):
    clock = FakeClock()
    frames = list(looped(camera_clip, 4.0, "cam", arrival_base=clock.t))
    fed = frames[3:30] + [frames[29]] + frames[30:]  # starts mid-GOP (no keyframe) and repeats one frame
    tracks = {"cam": (TrackInfo("cam", "t", "video", "camera", "VP8"), fed)}
    recording = record(tmp_path, tracks, clock, 4.0)
    index = finalise(recording.directory)
    (entry,) = index.tracks
    assert entry.start_offset == pytest.approx(2.0, abs=0.01)  # the second GOP's keyframe
    count, _ = decode_all(recording.directory / entry.file)
    assert count == len(frames) - 30 == entry.frames


def test_h264_is_recorded_into_matroska_without_transcoding(tmp_path):
    clock = FakeClock()
    clip = video_clip(2.0, codec="H264")
    frames = list(looped(clip, 5.0, "cam", arrival_base=clock.t))
    tracks = {"cam": (TrackInfo("cam", "t", "video", "camera", "H264"), frames)}
    recording = record(tmp_path, tracks, clock, 5.0)
    index = finalise(recording.directory)
    (entry,) = index.tracks
    assert entry.file.endswith(".mkv")
    with av.open(str(recording.directory / entry.file)) as container:
        packets = [bytes(p) for p in container.demux(container.streams[0]) if p.size]
        assert container.streams[0].codec_context.name == "h264"
    assert len(packets) == len(frames)
    count, covered = decode_all(recording.directory / entry.file)
    assert count == len(frames)
    assert covered == pytest.approx(5.0, rel=0.05)


def test_a_track_that_goes_quiet_has_its_segment_closed_by_the_clock(tmp_path, camera_clip):
    import time

    recording = Recording(tmp_path, "rec-q", "room-1", segment_seconds=0.5)
    recording.start()
    sink = recording.add_track(TrackInfo("cam", "t", "video", "camera", "VP8"))
    for frame in looped(camera_clip, 0.3, "cam", arrival_base=time.monotonic()):
        sink(frame)
    track_dir = recording.directory / "tracks" / "01"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not list(track_dir.glob("seg-000001.webm")):
        time.sleep(0.05)
    assert [p.name for p in track_dir.glob("seg-*")] == ["seg-000001.webm"]
    recording.stop()


def test_bad_input_is_refused_or_skipped_without_stopping_the_other_tracks(tmp_path, mic_clip):
    from media.frames import EncodedFrame
    from recorder.codecs import UnsupportedCodec

    clock = FakeClock()
    recording = Recording(tmp_path, "rec-bad", "room-1", clock=clock)
    recording.start()
    with pytest.raises(UnsupportedCodec):
        recording.add_track(TrackInfo("pcmu", "t", "audio", "microphone", "PCMU"))
    mic = recording.add_track(TrackInfo("mic", "t", "audio", "microphone", "opus"))
    cam = recording.add_track(TrackInfo("cam", "t", "video", "camera", "VP8"))
    cam(
        EncodedFrame("cam", "video", "VP8", b"\x00garbage", 0, 90000, True, clock.t)
    )  # not a VP8 keyframe header
    for frame in looped(mic_clip, 3.0, "mic", arrival_base=clock.t):
        mic(frame)
    clock.t += 3.0
    recording.stop()
    index = finalise(recording.directory)
    by_source = {t.source: t for t in index.tracks}
    assert by_source["microphone"].duration == pytest.approx(3.0, rel=0.05)
    assert by_source["camera"].width is None  # muxed as it came; nothing decodes on the live path
