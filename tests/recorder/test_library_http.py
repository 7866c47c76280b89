"""A lesson through the running server: the recorder joins as "录制中", records the SFU's frames (a stand-in
SFU here), marks the lesson's events, and the lesson arrives in the library with its timetable metadata,
its MP4, review by role over HTTP, search and download."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from media.frames import EncodedFrame
from recorder.composite import CompositeSettings
from recorder.testclip import looped
from signaling.media_seam import MediaTrack
from tests.conftest import classroom_token, connect, login, seed_county, start_server, user_token
from web.api.library import LIBRARY
from web.keys import DB, HUB


@dataclass
class StandInSink:
    """A frame subscription (id + close), as the SFU returns one."""

    id: str
    sinks: dict[str, Callable[[EncodedFrame], None]]

    def close(self) -> None:
        self.sinks.pop(self.id, None)


class StandInSfu:
    """The MediaSeam as no-ops plus attach_sink: the test pushes the encoded frames itself."""

    def __init__(self) -> None:
        self.sinks: dict[str, Callable[[EncodedFrame], None]] = {}

    def set_listener(self, listener) -> None: ...
    async def publish_offer(self, *a, **k) -> str:
        return ""

    async def subscriber_answer(self, *a, **k) -> None: ...
    async def ice_candidate(self, *a, **k) -> None: ...
    async def set_subscriptions(self, *a, **k) -> None: ...
    async def leave(self, *a, **k) -> None: ...
    async def close_room(self, *a, **k) -> None: ...
    async def close(self) -> None: ...

    def attach_sink(self, room_id: str, track_id: str, sink: Callable[[EncodedFrame], None]) -> StandInSink:
        self.sinks[track_id] = sink
        return StandInSink(track_id, self.sinks)


async def until(predicate, timeout: float = 30.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def running(tmp_path):
    sfu = StandInSfu()
    server, runner = await start_server(tmp_path, media=sfu)
    server.app[LIBRARY].composites.settings = CompositeSettings(
        width=320, height=180, fps=10, preset="ultrafast"
    )
    county = await seed_county(server.app[DB])
    yield server, county, sfu
    await runner.cleanup()


async def test_a_lesson_becomes_a_library_resource(running, camera_clip, screen_clip, mic_clip):
    server, county, sfu = running
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    c1 = await connect(server, await classroom_token(server, county.codes["c1"]))
    await teacher.send({"type": "room.start", "id": "s"})
    await teacher.next("ok", id="s")
    seat = await teacher.next("participant.joined", timeout=5)
    while seat["participant"]["role"] != "recorder":
        seat = await teacher.next("participant.joined", timeout=5)
    assert seat["participant"]["name"] == "录制中"

    hub = server.app[HUB]
    for track_id, kind, source, codec in (
        ("cam", "video", "camera", "VP8"),
        ("mic", "audio", "microphone", "opus"),
    ):
        await hub.on_track_published(
            county.room_id, MediaTrack(track_id, teacher.participant_id, kind, source, "high", codec)
        )
    await until(lambda: asyncio.sleep(0, {"cam", "mic"} <= set(sfu.sinks)))
    t0 = time.monotonic()
    lesson = 4.0
    frames = sorted(
        [*looped(camera_clip, lesson, "cam", arrival_base=t0), *looped(mic_clip, lesson, "mic", arrival_base=t0),
         *looped(screen_clip, lesson - 2.0, "scr", arrival_base=t0 + 2.0)],
        key=lambda f: f.arrival,
    )  # fmt: skip
    events_done = False
    for frame in frames:
        delay = frame.arrival - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if (
            frame.track_id == "scr" and "scr" not in sfu.sinks
        ):  # courseware on: the SFU attaches at a keyframe
            await hub.on_track_published(
                county.room_id, MediaTrack("scr", teacher.participant_id, "video", "screen", "high", "VP8")
            )
            await until(lambda: asyncio.sleep(0, "scr" in sfu.sinks))
        if not events_done and frame.arrival - t0 > 1.0:
            events_done = True
            await c1.send({"type": "hand.raise", "id": 1})
            await c1.next("ok", id=1)
            await teacher.send({"type": "stage.invite", "participant_id": c1.participant_id, "id": 2})
            await teacher.next("ok", id=2)
        if frame.track_id in sfu.sinks:
            sfu.sinks[frame.track_id](frame)
    await teacher.send({"type": "room.end"})
    await c1.next("room.ended")
    await teacher.close()
    await c1.close()

    wang, coord, chen, zhao = [await login(server, u) for u in ("wang", "coord", "chen", "zhao")]
    anonymous = aiohttp.ClientSession()
    try:

        async def mine():
            async with wang.get(f"{server.url}/api/library/resources") as r:
                body = await r.json()
                return body["resources"] if body["total"] else None

        (item,) = await until(mine)
        assert item["status"] == "draft" and item["subject"] == "英语" and item["grade"] == 4
        assert item["teacher"]["name"] == "王老师" and item["school"]["name"] == "城关一小"
        assert sorted(item["classrooms"]) == ["村小1 四年级", "村小2 四年级", "村小3 四年级"]
        url = f"{server.url}/api/library/resources/{item['id']}"

        async def ready():
            async with wang.get(url) as r:
                res = (await r.json())["resource"]
                return res if res["media"]["mp4"] else None

        res = await until(ready, timeout=60)
        media = res["media"]
        assert {t["source"] for t in media["tracks"]} == {"camera", "microphone", "screen"}
        kinds = [m["type"] for m in media["markers"]]
        assert {"hand_raised", "stage_on", "courseware_on"} <= set(kinds)
        stage_on = next(m for m in media["markers"] if m["type"] == "stage_on")
        assert stage_on["participant_id"] == c1.participant_id and stage_on["label"].startswith("村小1")
        assert media["duration"] == pytest.approx(lesson, abs=1.5)
        assert res["actions"] == ["submit"] and res["can_edit"]

        async with wang.get(f"{server.url}/api/library/textbooks") as r:
            stages = (await r.json())["nodes"]
        assert [n["name"] for n in stages] == ["小学", "初中"]
        async with wang.get(f"{server.url}/api/library/resources?q=weather") as r:
            assert (await r.json())["total"] == 0
        async with wang.get(f"{server.url}/api/library/knowledge") as r:
            english = next(f for f in (await r.json())["frameworks"] if f["subject"] == "英语")
        async with wang.get(f"{server.url}/api/library/knowledge/{english['id']}") as r:
            vocabulary = (await r.json())["tree"][0]
        weather = next(c for c in vocabulary["children"] if c["name"] == "天气")
        async with wang.patch(
            url, json={"knowledge_point_ids": [weather["id"]], "title": "Unit 3 Weather"}
        ) as r:
            assert r.status == 200, await r.text()

        async def review(http, action: str, **kw) -> int:
            async with http.post(f"{url}/review", json={"action": action, **kw}) as r:
                return r.status

        assert await review(chen, "submit") == 404  # an observer does not even see a draft
        assert await review(zhao, "submit") == 404
        assert await review(wang, "submit") == 200
        assert await review(wang, "approve") == 403
        assert await review(coord, "approve") == 200
        assert await review(coord, "publish", scope="galaxy") == 400
        assert await review(coord, "publish", scope="county") == 200

        async with chen.get(f"{server.url}/api/library/resources", params={"kp": str(weather["id"])}) as r:
            assert [x["id"] for x in (await r.json())["resources"]] == [item["id"]]
        async with chen.get(f"{server.url}/api/library/resources", params={"q": "weather 王老师"}) as r:
            assert (await r.json())["total"] == 1
        async with anonymous.get(f"{server.url}/api/library/resources", params={"q": "weather"}) as r:
            assert (await r.json())["total"] == 0  # county scope: not for the public
        async with chen.get(f"{url}/download") as r:
            assert r.status == 403
        async with zhao.get(f"{url}/download") as r:
            assert r.status == 200 and r.headers["Content-Disposition"].startswith("attachment")
            assert (await r.read())[4:8] == b"ftyp"
        async with chen.get(f"{url}/media/lesson.mp4", headers={"Range": "bytes=0-99"}) as r:
            assert r.status == 403  # the MP4 is the download, whatever the route; chen plays the tracks
        async with zhao.get(f"{url}/media/lesson.mp4", headers={"Range": "bytes=0-99"}) as r:
            assert r.status == 206
        async with chen.get(f"{url}/media/..%2Frecording.json") as r:
            assert r.status == 404
        async with server.app[DB].session() as s:
            actions = [
                a.action for a in (await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
            ]
        assert [a for a in actions if a.startswith("library.")] == [
            "library.record", "library.edit", "library.submit", "library.approve", "library.publish", "library.download",
            "library.download",  # the MP4 through the playback route is a download too
        ]  # fmt: skip
    finally:
        for http in (wang, coord, chen, zhao, anonymous):
            await http.close()
