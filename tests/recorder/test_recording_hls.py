"""A broadcast lesson whose teacher sends H.264 (a bot through the real SFU, its workers and S3 storage) is
recorded from its HLS segments: the recorder writes none of the teacher's camera or microphone, the store
holds those bytes once (as HLS segments), and the library's entry plays, seeks and downloads them as one MP4
with its frames in order and the lesson's duration, also after the node's disk lost its copies."""

from __future__ import annotations

import asyncio
import io
import shutil
import time
from dataclasses import asdict

import av
import numpy as np
import pytest

from core.storage import LocalStorage
from loadtest.bots import WsSignal, wait_for
from loadtest.broadcast_bots import H264Teacher
from media.fmp4 import with_duration
from media.hls_cutter import HlsCutter
from media.hls_recording import describe
from media.hls_stream import HlsStream
from recorder import broadcast
from recorder.composite import MP4_NAME, CompositeSettings, compose
from recorder.finalise import finalise, recover
from recorder.recording import Recording, TrackInfo
from recorder.testclip import looped, video_clip
from rooms.roles import RoomKind
from tests.conftest import login, seed_county, start_server, user_token
from tests.recorder.test_library_http import until
from tests.s3server import S3
from web.api.hls import HLS
from web.api.library import LIBRARY
from web.demo.clip import read_number
from web.keys import DB, SPOOL

pytestmark = pytest.mark.timeout(180)
LESSON_S = 8.0
LESSON = 8.0  # the composed lesson (courseware from 3 s)


def packager(stream_id: str, store: LocalStorage, prefix: str) -> tuple[HlsStream, HlsCutter]:
    """The packager's two halves in this process (a tap joins them through a worker channel otherwise)."""
    stream = HlsStream(stream_id, lambda name, data: store.put_bytes(prefix + name, data), segment_seconds=1.0)
    cutter = HlsCutter(lambda built: stream.receive({"segment": asdict(built)}), segment_seconds=1.0)
    cutter.set_audio(True)
    return stream, cutter


def frames_of(data: bytes) -> tuple[list[int], float, int]:
    """Frame numbers read off the pictures, the container's duration, and the audio frames."""
    with av.open(io.BytesIO(data), format="mp4") as container:
        duration = (container.duration or 0) / 1_000_000
        numbers = [n for f in container.decode(video=0) if (n := read_number(f)) is not None]
    with av.open(io.BytesIO(data), format="mp4") as container:
        audio = sum(1 for _ in container.decode(audio=0))
    return numbers, duration, audio


async def test_an_h264_broadcast_is_recorded_from_its_hls_segments_written_once(tmp_path, s3: S3):
    server, runner = await start_server(tmp_path, with_media=True, storage_url=s3.url, storage_retry_max=1.0)
    app = server.app
    county = await seed_county(app[DB], kind=RoomKind.BROADCAST)
    room_id = county.room_id
    signal = WsSignal(server.url, await user_token(server, "wang", room_id))
    teacher = H264Teacher("teacher", signal)
    coord = None
    try:
        await signal.connect(teacher)  # type: ignore[arg-type]
        await signal.request({"type": "room.start"})
        await teacher.publish()
        hls = app[HLS]
        assert await wait_for(lambda: (s := hls.stream(room_id)) is not None and len(s.segments) >= 1, 30), (
            hls.status(room_id)
        )
        first_segment_at = time.monotonic()
        await asyncio.sleep(LESSON_S)
        stream = hls.stream(room_id)
        assert stream is not None
        await signal.ws.send_json({"type": "room.end", "id": 1000})
        ended_at = time.monotonic()
        (index,) = await until(lambda: asyncio.sleep(0, app[LIBRARY].recorder.finished), timeout=30)
        rid = index.recording_id
        assert await app[SPOOL].drain(30), app[SPOOL].stats

        # The index takes the teacher from the broadcast: one generation, camera and microphone, no composite.
        assert index.hls is not None and index.lesson_is_hls, index
        assert sorted((t.kind, t.origin, t.file) for t in index.tracks) == [
            ("audio", "hls", "hls-1.mp4"), ("video", "hls", "hls-1.mp4"),
        ]  # fmt: skip
        assert index.tracks[0].participant_name == "王老师"
        assert app[LIBRARY].composites.status(rid) is None  # no transcode: the segments are the lesson MP4
        segments = [s.name for s in stream.segments]
        assert [s.name for s in index.hls.generations[0].segments] == segments
        lesson = sum(s.duration for s in stream.segments)
        assert lesson == pytest.approx(ended_at - first_segment_at + stream.segments[0].duration, abs=1.5)
        start = index.hls.generations[0].start_offset  # from 上课 to the camera's first frame
        # the recording runs from 上课 until the recorder stopped, which a loaded machine can delay a little
        assert 0 < start < 5 and start + lesson - 0.5 <= index.duration <= start + lesson + 3.0

        # Written once: the store holds the teacher's bytes as HLS segments and nothing of them beside.
        objects = await asyncio.to_thread(s3.objects)
        prefix = index.hls.prefix
        media_bytes = sum(len(objects[prefix + name]) for name in [stream.inits[1], *segments])
        recording = {k: len(v) for k, v in objects.items() if k.startswith(f"recordings/{rid}/")}
        others = sum(len(v) for k, v in objects.items() if not k.startswith(prefix))
        print(f"\n  teacher's media in the store {media_bytes} B (HLS segments); recording's own objects "
              f"{sum(recording.values())} B {sorted(recording)}; everything else {others} B; "
              f"store bytes / segment bytes = {(media_bytes + others) / media_bytes:.3f}")
        assert list(recording) == [f"recordings/{rid}/index.json"] and recording[f"recordings/{rid}/index.json"] < 8000
        assert others == sum(recording.values()) and media_bytes > 60_000
        local = app[LIBRARY].root / rid
        written = sorted(p.name for p in local.rglob("*") if p.is_file())
        assert written == ["heartbeat", "hls.json", "index.json", "recording.json"], written  # no media
        assert sum(p.stat().st_size for p in local.rglob("*") if p.is_file()) < 20_000

        # The library entry: duration, the MP4 (the segments joined), and the track seekable by range.
        coord = await login(server, "coord")
        async with coord.get(f"{server.url}/api/library/resources") as r:
            (item,) = [x for x in (await r.json())["resources"] if x["room_id"] == room_id]
        url = f"{server.url}/api/library/resources/{item['id']}"
        async with coord.get(url) as r:
            resource = (await r.json())["resource"]
        assert resource["duration"] == index.duration
        media = resource["media"]
        assert media["mp4"] and media["job"] is None and media["duration"] == index.duration
        init = with_duration(objects[prefix + stream.inits[1]], index.hls.generations[0].duration)
        expected = init + b"".join(objects[prefix + name] for name in segments)
        for node_copies in (True, False):
            async with coord.get(f"{url}/download") as r:
                assert r.status == 200 and r.headers["Content-Disposition"].startswith("attachment"), r.status
                assert r.headers["Content-Type"] == "video/mp4"
                body = await r.read()
            assert body == expected, "the download is the stored segments, joined"
            async with coord.get(f"{url}/media/hls-1.mp4", headers={"Range": "bytes=1000-4999"}) as r:
                assert r.status == 206 and r.headers["Content-Range"] == f"bytes 1000-4999/{len(expected)}"
                assert await r.read() == expected[1000:5000]
            if node_copies:  # the node's disk is lost: the library reads the bucket alone
                shutil.rmtree(server.settings.media_dir / "hls")
                shutil.rmtree(local)
        numbers, duration, audio = frames_of(body)
        assert duration == pytest.approx(lesson, abs=0.1), "the MP4 says how long the lesson is"
        steps = [(b - a) % 4096 for a, b in zip(numbers, numbers[1:], strict=False)]
        assert len(numbers) >= 0.8 * 15 * lesson and all(1 <= s <= 3 for s in steps), f"frames in order: {steps}"
        assert audio >= 40 * lesson, "the teacher's microphone (Opus, 20 ms frames) is in it"
    finally:
        if coord is not None:
            await coord.close()
        await teacher.close()
        await signal.close()
        await runner.cleanup()


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
