"""A lesson recorded into S3-compatible storage (a real S3 API server on 127.0.0.1): segments reach the bucket
as they close; the store goes down mid-lesson (SANKE_S3_OUTAGE_SECONDS, a few seconds by default, 60 for the
full minute) and nothing is lost; afterwards the library plays and downloads the lesson from the bucket alone
(the node's local copy deleted), through the same access checks."""

from __future__ import annotations

import asyncio
import shutil
import time

import aiohttp
import pytest

from recorder.composite import CompositeSettings
from recorder.testclip import looped
from signaling.media_seam import MediaTrack
from tests.conftest import connect, login, seed_county, start_server, user_token
from tests.recorder.test_library_http import StandInSfu, until
from tests.s3server import S3, outage_seconds
from web.api.library import LIBRARY
from web.keys import DB, HUB, SPOOL


async def test_lesson_in_s3_survives_an_outage_and_plays_from_the_bucket(tmp_path, s3: S3, camera_clip, mic_clip):
    outage = outage_seconds()
    sfu = StandInSfu()
    server, runner = await start_server(tmp_path, media=sfu, storage_url=s3.url, storage_retry_max=1.0)
    app = server.app
    app[LIBRARY].composites.settings = CompositeSettings(width=320, height=180, fps=10, preset="ultrafast")
    county = await seed_county(app[DB])
    spool = app[SPOOL]
    coord = anonymous = None
    try:
        teacher = await connect(server, await user_token(server, "wang", county.room_id))
        await teacher.send({"type": "room.start", "id": "s"})
        await teacher.next("ok", id="s")
        for track_id, kind, source, codec in (("cam", "video", "camera", "VP8"), ("mic", "audio", "microphone", "opus")):
            await app[HUB].on_track_published(
                county.room_id, MediaTrack(track_id, teacher.participant_id, kind, source, "high", codec)
            )
        await until(lambda: asyncio.sleep(0, {"cam", "mic"} <= set(sfu.sinks)))
        t0 = time.monotonic()
        lesson, cut_at = outage + 7.0, 3.0
        frames = sorted(
            [*looped(camera_clip, lesson, "cam", arrival_base=t0), *looped(mic_clip, lesson, "mic", arrival_base=t0)],
            key=lambda f: f.arrival,
        )
        before_cut: list[str] = []
        during: dict[str, int] = {}
        back_at = caught_up_at = 0.0
        backlog: list = []
        read_at = t0
        for frame in frames:
            if time.monotonic() - read_at > 3.0:  # read the socket, so aiohttp answers the server's pings
                await teacher.drain(0.01)
                read_at = time.monotonic()
            delay = frame.arrival - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            t = frame.arrival - t0
            if t >= cut_at and not before_cut:
                before_cut = sorted(await asyncio.to_thread(s3.objects))
                await s3.proxy.down()
            if t >= cut_at + outage and not during:
                during = {"pending": spool.pending(), "failures": spool.stats.failures}
                backlog = sorted(spool.directory.glob("*.json"))  # what the outage left waiting
                await s3.proxy.up()
                back_at = time.monotonic()
            if back_at and not caught_up_at and not any(p.exists() for p in backlog):
                caught_up_at = time.monotonic()  # the backlog of the outage is uploaded
            sfu.sinks[frame.track_id](frame)
        while not caught_up_at and time.monotonic() - back_at < 30:
            await asyncio.sleep(0.1)
            if not any(p.exists() for p in backlog):
                caught_up_at = time.monotonic()
        await teacher.send({"type": "room.end"})
        await teacher.close()

        print(f"\n  S3 down {outage:.0f} s mid-lesson: {during['pending']} files spooled, {during['failures']} failed "
              f"attempts; backlog of {len(backlog)} uploaded {caught_up_at - back_at:.1f} s after the store came back")
        assert caught_up_at, "the outage's backlog was not uploaded within 30 s of the store coming back"
        # Segments went up as they closed (2 s each), before the store went down.
        assert any("/tracks/01/seg-" in k for k in before_cut) and any("/tracks/02/seg-" in k for k in before_cut)
        # While it was down, the closed segments waited in the spool and uploads kept failing.
        assert during["pending"] >= 2 * int(outage // 2) - 1 and during["failures"] >= 2, during
        (index,) = await until(lambda: asyncio.sleep(0, app[LIBRARY].recorder.finished), timeout=30)
        rid = index.recording_id
        local = app[LIBRARY].root / rid
        jobs = app[LIBRARY].composites
        await until(lambda: asyncio.sleep(0, getattr(jobs.status(rid), "state", "") == "done"), timeout=90)
        assert await spool.drain(30), spool.stats
        objects = await asyncio.to_thread(s3.objects)
        names = sorted(k.rsplit("/", 1)[1] for k in objects)
        assert names == sorted(["index.json", "lesson.mp4", *(t.file for t in index.tracks)])
        for key, body in objects.items():
            assert body == (local / key.rsplit("/", 1)[1]).read_bytes(), key  # byte for byte
        assert not any("/tracks/" in k for k in objects)  # the segments' objects were replaced by the tracks
        assert index.duration == pytest.approx(lesson, abs=1.0) and not index.recovered
        for track in index.tracks:
            assert track.duration == pytest.approx(lesson, abs=1.0), track  # no hole where the store was down

        # The node's disk loses the recording: the library still has it, from the bucket.
        shutil.rmtree(local)
        coord, anonymous = await login(server, "coord"), aiohttp.ClientSession()
        async with coord.get(f"{server.url}/api/library/resources") as r:
            (item,) = (await r.json())["resources"]
        url = f"{server.url}/api/library/resources/{item['id']}"
        async with coord.get(url) as r:
            media = (await r.json())["resource"]["media"]
        assert media["mp4"] and {t["source"] for t in media["tracks"]} == {"camera", "microphone"}
        camera = next(t["file"] for t in media["tracks"] if t["source"] == "camera")
        async with anonymous.get(f"{url}/media/{camera}", allow_redirects=False) as r:
            assert r.status in (403, 404) and "Location" not in r.headers  # a draft: no URL leaks
        async with coord.get(f"{url}/media/{camera}", allow_redirects=False) as r:
            assert r.status == 302
            presigned = r.headers["Location"]
        assert presigned.startswith(s3.endpoint) and "X-Amz-Signature=" in presigned
        async with anonymous.get(presigned) as r:
            assert r.status == 200 and await r.read() == objects[f"recordings/{rid}/{camera}"]
        async with coord.get(f"{url}/download") as r:
            assert r.status == 200 and r.headers["Content-Disposition"].startswith("attachment")
            assert await r.read() == objects[f"recordings/{rid}/lesson.mp4"]  # streamed through the node
    finally:
        for http in (coord, anonymous):
            if http is not None:
                await http.close()
        await runner.cleanup()
