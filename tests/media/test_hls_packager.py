"""A teacher bot publishing H.264 into a broadcast room through the real server: the SFU remuxes it into
fMP4 HLS that PyAV plays back frame by frame, served with the right types, cache headers and signatures.
"""

from __future__ import annotations

import asyncio
import io
import time
from urllib.parse import parse_qs, urlsplit

import aiohttp
import av
import pytest

from loadtest.bots import WsSignal, wait_for
from loadtest.broadcast_bots import H264Teacher
from rooms.roles import Role, RoomKind, grants_for
from rooms.store import RoomSpec, create_room
from tests.conftest import start_server
from web.api.hls import HLS, LINKS
from web.demo.clip import read_number
from web.keys import DB, STORAGE, TOKENS

pytestmark = pytest.mark.timeout(120)


def join_token(app, room_id: str, identity: str, role: Role) -> str:
    grants = grants_for(role, RoomKind.BROADCAST, room_id)
    return app[TOKENS].issue_join(identity, identity, role.value, grants, ttl=600, meta={"side": "hub"})


def playlist_entries(text: str) -> tuple[str, list[tuple[float, str]]]:
    init, entries, duration = "", [], 0.0
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:URI="):
            init = line.split('"')[1]
        elif line.startswith("#EXTINF:"):
            duration = float(line[8:].rstrip(","))
        elif line and not line.startswith("#"):
            entries.append((duration, line))
    return init, entries


def decode(init: bytes, segments: list[bytes]) -> tuple[list[int | None], list[bool], int]:
    """Frame numbers read from the pictures, keyframe flags of the first packet per segment, audio frames."""
    numbers: list[int | None] = []
    with av.open(io.BytesIO(init + b"".join(segments)), format="mp4") as container:
        video = container.streams.video[0]
        for frame in container.decode(video):
            numbers.append(read_number(frame))
    starts = []
    for seg in segments:
        with av.open(io.BytesIO(init + seg), format="mp4") as container:
            first = next(container.demux(container.streams.video[0]))
            starts.append(bool(first.is_keyframe))
    audio_frames = 0
    with av.open(io.BytesIO(init + b"".join(segments)), format="mp4") as container:
        if container.streams.audio:
            audio_frames = sum(1 for _ in container.decode(container.streams.audio[0]))
    return numbers, starts, audio_frames


async def test_h264_broadcast_is_packaged_into_fmp4_hls_and_served_signed(tmp_path):
    server, runner = await start_server(tmp_path, with_media=True)
    app = server.app
    async with app[DB].session() as s:
        room_id = (await create_room(s, RoomSpec(kind=RoomKind.BROADCAST, title="名校网络课堂"))).id
        await s.commit()
    signal = WsSignal(server.url, join_token(app, room_id, "teacher", Role.HUB_TEACHER))
    teacher = H264Teacher("teacher", signal)
    http = aiohttp.ClientSession()
    try:
        await signal.connect(teacher)  # type: ignore[arg-type]
        await teacher.publish()
        service = app[HLS]
        assert await wait_for(lambda: (s := service.stream(room_id)) is not None and len(s.segments) >= 5, 30), (
            f"no HLS segments: {service.status(room_id)}"
        )
        status = service.status(room_id)
        assert status["state"] == "live" and status["codecs"].startswith("avc1.42") and status["audio"]

        # a viewer (guest by the watch link) asks for its URL with its join token
        viewer = join_token(app, room_id, "guest:abc", Role.VIEWER)
        async with http.post(f"{server.url}/api/hls/{room_id}/url", json={"token": viewer}) as r:
            assert r.status == 200, await r.text()
            url = (await r.json())["url"]
        async with http.get(server.url + url) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "application/vnd.apple.mpegurl"
            assert r.headers["Cache-Control"] == "max-age=1"
            text = await r.text()
        assert "#EXT-X-VERSION:7" in text and "#EXT-X-INDEPENDENT-SEGMENTS" in text
        init_uri, entries = playlist_entries(text)
        assert 5 <= len(entries) <= 6
        base = server.url + url.split("live.m3u8")[0]
        async with http.get(base + init_uri) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "video/mp4"
            assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            init = await r.read()
        segments = []
        for duration, uri in entries:
            assert 0.8 <= duration <= 2.0, text  # 1 s target: the keyframe the packager asked for came in time
            async with http.get(base + uri) as r:
                assert r.status == 200 and r.headers["Content-Type"] == "video/iso.segment"
                assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
                segments.append(await r.read())
        numbers, starts, audio_frames = decode(init, segments)
        assert all(starts), f"every segment starts on a keyframe: {starts}"
        read = [n for n in numbers if n is not None]
        assert len(read) >= 0.95 * len(numbers) and len(numbers) >= 0.8 * 15 * sum(d for d, _ in entries)
        steps = [(b - a) % 4096 for a, b in zip(read, read[1:], strict=False)]
        assert all(1 <= step <= 3 for step in steps), f"frames in order, none lost: {steps}"
        assert audio_frames >= 40 * sum(d for d, _ in entries), "Opus audio at 50 frames/s (20 ms)"

        # the same segments are in the store (local directory here; S3 the same way through core.storage)
        key = service.storage_key(room_id, entries[-1][1].split("/")[-1])
        stored = app[STORAGE].local_path(key)
        await asyncio.sleep(0.2)
        assert stored.read_bytes() == segments[-1]

        # forged, expired, other room: 403; an unknown name: 404
        q = parse_qs(urlsplit(url).query)
        forged = url.replace(q["s"][0], q["s"][0][:-2] + ("AA" if not q["s"][0].endswith("AA") else "BB"))
        expired = app[LINKS].viewer_query(room_id, "guest:abc", now=time.time() - 5 * 3600)
        token = init_uri.split("/")[0]
        other = app[LINKS].room_token("another-room")
        for bad in (
            forged,
            f"/hls/{room_id}/live.m3u8?v={expired['v']}&e={expired['e']}&s={expired['s']}",
            f"/hls/{room_id}/live.m3u8?v=guest:other&e={q['e'][0]}&s={q['s'][0]}",
            f"/hls/{room_id}/{other}/{entries[-1][1].split('/')[-1]}",
            f"/hls/{room_id}/{token[:-1]}x/{entries[-1][1].split('/')[-1]}",
        ):
            async with http.get(server.url + bad) as r:
                assert r.status == 403, (bad, r.status)
                assert (await r.json())["error"]["code"] == "forbidden"
        async with http.get(f"{base}{token}/seg-1-999999.m4s") as r:
            assert r.status == 404
        async with http.post(f"{server.url}/api/hls/other/url", json={"token": viewer}) as r:
            assert r.status == 403

        # the lesson ends: the live playlist ends, and the store keeps the whole broadcast as a VOD playlist
        # over the same segments (the recording, without writing the media twice)
        stream = service.stream(room_id)
        await signal.request({"type": "room.start"})
        await signal.ws.send_json({"type": "room.end", "id": 1000})  # the socket closes with room.ended
        store = app[STORAGE]
        vod_path = store.local_path(service.storage_key(room_id, "vod.m3u8"))
        assert await wait_for(lambda: stream.ended and vod_path.exists(), 10)
        async with http.get(server.url + url) as r:
            assert r.status == 200 and (await r.text()).rstrip().endswith("#EXT-X-ENDLIST")
        vod = vod_path.read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in vod and vod.rstrip().endswith("#EXT-X-ENDLIST")
        vod_init, vod_entries = playlist_entries(vod)
        assert len(vod_entries) == len(stream.segments) >= 5
        directory = store.local_path(service.storage_key(room_id, vod_init)).parent
        whole = [(directory / uri).read_bytes() for _, uri in vod_entries]
        numbers, starts, _ = decode((directory / vod_init).read_bytes(), whole)
        assert all(starts) and len(numbers) >= 0.8 * 15 * sum(d for d, _ in vod_entries)
    finally:
        await http.close()
        await teacher.close()
        await signal.close()
        await runner.cleanup()


async def test_a_vp8_teacher_is_transcoded_once_and_the_audience_needs_staff(tmp_path, high_clip):
    """A browser that will not send H.264: its VP8 is transcoded once per stream (a thread of its own), and
    the HLS viewers see the same numbered frames; WebRTC viewers keep the VP8 as forwarded."""
    from loadtest.bots import Bot

    server, runner = await start_server(tmp_path, with_media=True)
    app = server.app
    async with app[DB].session() as s:
        room_id = (await create_room(s, RoomSpec(kind=RoomKind.BROADCAST, title="VP8 老师"))).id
        await s.commit()
    signal = WsSignal(server.url, join_token(app, room_id, "teacher", Role.HUB_TEACHER))
    teacher = Bot("teacher", signal, clip=high_clip, tone_hz=440, subscribe_mode="count")
    http = aiohttp.ClientSession()
    try:
        await signal.connect(teacher)
        await teacher.publish()
        service = app[HLS]
        started = time.monotonic()
        assert await wait_for(lambda: (s := service.stream(room_id)) is not None and len(s.segments) >= 4, 40), (
            service.status(room_id)
        )
        status = service.status(room_id)
        assert status["transcoded"] and status["codecs"].startswith("avc1.42")
        cpu_share = status["transcode_cpu_s"] / (time.monotonic() - started)
        print(f"VP8→H.264 transcode 320x240 30 fps: {cpu_share * 100:.1f} % of a core")
        stream = service.stream(room_id)
        shown = stream.segments[-4:]
        numbers, starts, audio_frames = decode(stream.get(stream.inits[shown[0].generation]) or b"",
                                               [stream.get(seg.name) or b"" for seg in shown])
        assert all(starts) and audio_frames > 0
        read = [n for n in numbers if n is not None]
        assert len(read) >= 0.9 * len(numbers) >= 0.9 * 0.8 * 30 * sum(seg.duration for seg in shown), numbers
        assert all(1 <= (b - a) % 4096 <= 3 or (a > 80 and b < 4) for a, b in zip(read, read[1:], strict=False)), read
        async with http.get(f"{server.url}/api/hls/{room_id}/audience") as r:
            assert r.status == 401  # the audience count is for staff
    finally:
        await http.close()
        await teacher.close()
        await signal.close()
        await runner.cleanup()


async def test_segments_reach_s3_through_the_spool(tmp_path, s3):
    """With `--storage-url s3://…` the segments land in the bucket (moto's real S3 API), byte for byte."""
    from web.keys import SPOOL

    server, runner = await start_server(tmp_path, with_media=True, storage_url=s3.url, storage_retry_max=1.0)
    app = server.app
    async with app[DB].session() as s:
        room_id = (await create_room(s, RoomSpec(kind=RoomKind.BROADCAST, title="S3 直播"))).id
        await s.commit()
    signal = WsSignal(server.url, join_token(app, room_id, "teacher", Role.HUB_TEACHER))
    teacher = H264Teacher("teacher", signal)
    try:
        await signal.connect(teacher)  # type: ignore[arg-type]
        await teacher.publish()
        service = app[HLS]
        assert await wait_for(lambda: (s := service.stream(room_id)) is not None and len(s.segments) >= 3, 30)
        stream = service.stream(room_id)
        names = [stream.inits[1], *(seg.name for seg in stream.segments[:3])]
        assert await app[SPOOL].drain(10)
        objects = s3.objects()
        for name in names:
            key = service.storage_key(room_id, name)
            local = (server.settings.media_dir / key).read_bytes()  # the node's copy, as built
            assert objects.get(key) == local and local == (stream.get(name) or local), f"{key} in the bucket"
    finally:
        await teacher.close()
        await signal.close()
        await runner.cleanup()
