"""A broadcast lesson whose teacher sends H.264 (a bot through the real SFU, its workers and S3 storage) is
recorded from its HLS segments: the recorder writes none of the teacher's camera or microphone, the store
holds those bytes once (as HLS segments), and the library's entry plays, seeks and downloads them as one MP4
with its frames in order and the lesson's duration, also after the node's disk lost its copies. (The
recording's side alone, the packager in process: `test_recording_hls_segments`.)"""

from __future__ import annotations

import asyncio
import io
import shutil
import time
from datetime import UTC, datetime

import av
import pytest

from core.storage import LocalStorage
from loadtest.bots import WsSignal, wait_for
from loadtest.broadcast_bots import H264Teacher
from media.fmp4 import with_duration
from media.hls_recording import describe
from recorder import broadcast
from recorder.finalise import finalise
from recorder.recording import Recording, TrackInfo
from recorder.resources import LessonFacts, create_from_recording
from recorder.review import Actor, apply_review
from recorder.testclip import looped, video_clip
from rooms.records import RoomRecord
from rooms.roles import RoomKind
from signaling.media_seam import MediaTrack
from tests.conftest import (
    CHROMIUM_ARGS,
    connect,
    login,
    require_chromium,
    seed_county,
    start_server,
    user_token,
)
from tests.recorder.test_library_http import StandInSfu, until
from tests.recorder.test_recording_hls_segments import packager
from tests.s3server import S3
from web.api.hls import HLS
from web.api.library import LIBRARY
from web.demo.clip import read_number
from web.keys import DB, HUB, SPOOL

pytestmark = pytest.mark.timeout(180)
LESSON_S = 8.0


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


async def test_when_the_camera_goes_off_the_recorder_takes_the_teachers_microphone_back(tmp_path, mic_clip):
    """The HLS broadcast follows the camera: with it off, the teacher still talks, and the recorder writes the
    microphone itself until a camera is back in the broadcast (then the broadcast carries both again)."""
    sfu = StandInSfu()
    server, runner = await start_server(tmp_path, media=sfu)
    app = server.app
    county = await seed_county(app[DB], kind=RoomKind.BROADCAST)
    room_id = county.room_id
    teacher = await connect(server, await user_token(server, "wang", room_id))
    try:
        await teacher.send({"type": "room.start", "id": "s"})
        await teacher.next("ok", id="s")
        camera = video_clip(2.0, codec="H264", rgb=(0, 160, 0))

        async def publish(track_id: str, kind: str, source: str, codec: str) -> MediaTrack:
            track = MediaTrack(track_id, teacher.participant_id, kind, source, "high", codec)
            await app[HUB].on_track_published(room_id, track)
            return track

        async def play(seconds: float, ids: list[str]) -> None:
            t0 = time.monotonic()
            clips = {"cam1": camera, "cam2": camera, "mic": mic_clip}
            frames = sorted((f for i in ids for f in looped(clips[i], seconds, i, arrival_base=t0)),
                            key=lambda f: (f.arrival, f.kind != "video"))  # fmt: skip
            for frame in frames:
                if (delay := frame.arrival - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
                if frame.track_id in sfu.sinks:
                    sfu.sinks[frame.track_id](frame)

        cam = await publish("cam1", "video", "camera", "H264")
        await publish("mic", "audio", "microphone", "opus")
        recorder = app[LIBRARY].recorder
        await until(lambda: asyncio.sleep(0, "mic" in sfu.sinks and "cam1" in sfu.sinks))
        await play(3.0, ["cam1", "mic"])
        await app[HUB].on_track_unpublished(room_id, cam)  # camera off: the recorder takes the mic
        await until(lambda: asyncio.sleep(0, (live := recorder.live.get(room_id)) is not None and "mic" in live.tracks))
        await play(3.0, ["mic"])
        await publish("cam2", "video", "camera", "H264")  # camera back: the broadcast carries both again
        await until(lambda: asyncio.sleep(0, "mic" not in recorder.live[room_id].tracks and "cam2" in sfu.sinks))
        await play(3.0, ["cam2", "mic"])
        await teacher.send({"type": "room.end"})
        (index,) = await until(lambda: asyncio.sleep(0, recorder.finished), timeout=30)
    finally:
        await teacher.close()
        await runner.cleanup()
    assert index.hls is not None and len(index.hls.generations) == 2 and not index.lesson_is_hls
    by = sorted((t.origin, t.kind, t.file) for t in index.tracks)
    assert by == [
        ("file", "audio", "track-01-microphone.webm"), ("hls", "audio", "hls-1.mp4"), ("hls", "audio", "hls-2.mp4"),
        ("hls", "video", "hls-1.mp4"), ("hls", "video", "hls-2.mp4"),
    ], by  # fmt: skip
    mic = next(t for t in index.tracks if t.origin == "file")
    first, second = index.hls.generations
    assert first.start_offset + first.duration <= mic.start_offset + 0.5, "the file takes over where the HLS stopped"
    assert mic.duration == pytest.approx(3.0, abs=1.0) and second.start_offset >= mic.start_offset + 2.0


async def test_a_broadcast_that_does_not_record_has_its_segments_deleted_after_the_end(tmp_path, mic_clip):
    """Retention: the segments of a recorded broadcast are its recording; a room that does not record keeps
    them only `retain_s` after its end (caches and late viewers), then they go from the node and the store."""
    sfu = StandInSfu()
    server, runner = await start_server(tmp_path, media=sfu)
    app = server.app
    county = await seed_county(app[DB], kind=RoomKind.BROADCAST)
    room_id = county.room_id
    async with app[DB].session() as s:
        (await s.get(RoomRecord, room_id)).record = False
        await s.commit()
    app[HLS].retain_s = 1.0
    teacher = await connect(server, await user_token(server, "wang", room_id))
    try:
        await teacher.send({"type": "room.start", "id": "s"})
        await teacher.next("ok", id="s")
        for track_id, kind, source, codec in (("cam", "video", "camera", "H264"), ("mic", "audio", "microphone", "opus")):
            await app[HUB].on_track_published(
                room_id, MediaTrack(track_id, teacher.participant_id, kind, source, "high", codec)
            )
        await until(lambda: asyncio.sleep(0, {"cam", "mic"} <= set(sfu.sinks)))
        t0 = time.monotonic()
        camera = video_clip(2.0, codec="H264")
        for frame in sorted([*looped(camera, 3.0, "cam", arrival_base=t0), *looped(mic_clip, 3.0, "mic", arrival_base=t0)],
                            key=lambda f: (f.arrival, f.kind != "video")):  # fmt: skip
            if (delay := frame.arrival - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            sfu.sinks[frame.track_id](frame)
        directory = server.settings.media_dir / app[HLS].prefix(room_id)
        assert len(list(directory.glob("seg-*.m4s"))) >= 1
        await teacher.send({"type": "room.end"})
        await until(lambda: asyncio.sleep(0, app[HLS].stream(room_id).ended and (directory / "vod.m3u8").is_file()))
        assert list(directory.glob("seg-*.m4s")), "kept a while after the end"
        await until(lambda: asyncio.sleep(0, not directory.exists()), timeout=10)
        assert not app[LIBRARY].recorder.finished, "nothing was recorded"
    finally:
        await teacher.close()
        await runner.cleanup()


async def test_the_playback_page_plays_a_lesson_recorded_from_hls_in_chromium(tmp_path, mic_clip):
    """A published broadcast recording, watched anonymously (tracks, not the MP4): Chromium plays the joined
    segments with their sound in the same file, knows the length, and seeks by byte range."""
    from playwright.async_api import async_playwright

    chromium = require_chromium()
    server, runner = await start_server(tmp_path)
    try:
        app = server.app
        county = await seed_county(app[DB], kind=RoomKind.BROADCAST)
        media_dir = server.settings.media_dir
        store, prefix = LocalStorage(media_dir), "hls/room-p/abc/"
        stream, cutter = packager("abc", store, prefix)
        now = time.monotonic()
        recording = Recording(app[LIBRARY].root, "rec-hls-page", county.room_id, started=now)
        recording.start()
        camera = video_clip(2.0, codec="H264", rgb=(0, 160, 0))
        frames = [*looped(camera, 6.0, "cam", arrival_base=now), *looped(mic_clip, 6.0, "mic", arrival_base=now)]
        for frame in sorted(frames, key=lambda f: (f.arrival, f.kind != "video")):
            (cutter.on_video if frame.kind == "video" else cutter.on_audio)(frame)
        await cutter.flush()
        await stream.close()
        recording.stop()
        stored = describe(stream, prefix, ["cam", "mic"])
        assert stored is not None
        who = TrackInfo("cam", "t", "video", "camera", "H264", "王老师", "hub_teacher")
        broadcast.save(recording.directory, stored, now, who, media_dir)
        index = finalise(recording.directory)
        assert index.lesson_is_hls
        async with app[DB].session() as s:
            facts = LessonFacts(room_id=county.room_id, title="名校课堂 直播回放", subject="英语", grade=4,
                                teacher_user_id=county.user_ids["wang"], teacher_name="王老师",
                                started_at=datetime(2026, 11, 20, 2, tzinfo=UTC))  # fmt: skip
            r = await create_from_recording(s, facts, "rec-hls-page", index)
            wang = Actor(county.user_ids["wang"], "wang", "teacher")
            coord = Actor(county.user_ids["coord"], "coord", "coordinator")
            for actor, action in ((wang, "submit"), (coord, "approve"), (coord, "publish")):
                await apply_review(s, actor, r, action, scope="public" if action == "publish" else None)
            await s.commit()
            resource_id = r.id
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page(locale="zh-CN")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{server.url}/playback?id={resource_id}")
            await page.wait_for_selector("video")
            assert (await page.get_attribute("video", "src")).endswith("/media/hls-1.mp4")
            assert await page.locator("audio").count() == 0, "its sound is in the same file"
            video = "document.querySelector('video')"

            async def video_has(condition: str) -> bool:  # polled here: the page's CSP forbids eval'd predicates
                return bool(await page.evaluate(f"() => {{ const v = {video}; return {condition}; }}"))

            await until(lambda: video_has("v.readyState >= 1"), timeout=20)
            duration = await page.evaluate(f"() => {video}.duration")
            assert duration == pytest.approx(index.hls.generations[0].duration, abs=0.2), duration
            await page.evaluate(f"() => {{ const v = {video}; v.muted = true; v.currentTime = 3; return v.play(); }}")
            await until(lambda: video_has("v.currentTime > 3.5"), timeout=20)
            width = await page.evaluate(f"() => {video}.videoWidth")
            await browser.close()
        assert width == 160 and errors == []
    finally:
        await runner.cleanup()
