"""A 1+3 delivery lesson through the real server: signaling over /ws, rooms' audience plan, the SFU."""

from __future__ import annotations

import time

import aiohttp
import pytest

from loadtest.bots import Bot, WsSignal, wait_for

HUB_HZ = 440
CLASS_HZ = [550, 660, 770]


def _max_skip(numbers: list[int], clip_frames: int) -> int:
    """Largest jump in frame numbers: a stall for a keyframe (≥ 0.5 s) skips about 15 frames."""
    steps = [(b - a) % clip_frames for a, b in zip(numbers, numbers[1:], strict=False)]
    return max((s for s in steps if s < clip_frames - 2), default=0)  # a switch may step back one or two


def _pitch_ok(measured: float, expected: float) -> bool:
    return abs(measured - expected) < 25


@pytest.mark.solo  # four bots decode layered video in real time: with two cores busy it failed 2 of 4 (the code before this session 4 of 4)
async def test_delivery_1_plus_3_with_stage_and_late_joiner(lesson_server, high_clip, low_clip):
    srv = lesson_server
    room = await srv.room("delivery")
    signals: list[WsSignal] = []
    bots: list[Bot] = []

    async def join(identity: str, role: str, side: str, hz: float | None, low: bool = True) -> Bot:
        signal = WsSignal(srv.url, srv.token(room, "delivery", identity, role, side))
        bot = Bot(identity, signal, clip=high_clip, low_clip=low_clip if low else None, tone_hz=hz)
        await signal.connect(bot)
        await bot.publish()
        signals.append(signal)
        bots.append(bot)
        return bot

    try:
        hub = await join("hub", "hub_teacher", "hub", HUB_HZ, low=False)
        classes = [await join(f"class{i}", "classroom", "remote", CLASS_HZ[i]) for i in range(3)]
        hub_cam = "hub:0"

        def frames(bot: Bot, track_id: str) -> int:
            check = bot.video.get(track_id)
            return check.frames if check else 0

        # every remote classroom decodes the hub camera; the hub decodes the three return videos (low)
        assert await wait_for(lambda: all(frames(c, hub_cam) >= 30 for c in classes), 15)
        assert await wait_for(lambda: all(frames(hub, f"{c.name}:0") >= 20 for c in classes), 15)
        for c in classes:
            check = c.video[hub_cam]
            assert check.broken == 0 and check.backwards == 0
            assert (320, 240) in check.sizes
            assert _pitch_ok(c.audio["hub:2"].pitch_hz if "hub:2" in c.audio else c.audio["hub:1"].pitch_hz, HUB_HZ)
            # before the stage, classrooms neither see nor hear each other
            assert not any(t.startswith("class") for t in c.video) and not any(t.startswith("class") for t in c.audio)
        for c in classes:
            check = hub.video[f"{c.name}:0"]
            assert check.broken == 0 and check.backwards == 0
            # low once the low twin is published (the high one may come first), without a stall
            assert check.last_size == (160, 128)
            assert _max_skip(check.numbers, len(high_clip)) <= 10, check.numbers
        assert not hub.audio  # the hub hears only classrooms on stage

        # the hub puts class0 on stage: the other two see it (high) and everyone hears it
        await signals[0].request({"type": "stage.invite", "participant_id": "class0"})
        staged_audio = "class0:2"
        assert await wait_for(lambda: all(frames(c, "class0:0") >= 20 for c in classes[1:]), 15)
        assert await wait_for(
            lambda: all(staged_audio in b.audio and b.audio[staged_audio].pitch_hz > 0 for b in [hub, *classes[1:]]),
            10,
        )
        for b in [hub, *classes[1:]]:
            assert _pitch_ok(b.audio[staged_audio].pitch_hz, CLASS_HZ[0]), b.name
        for c in classes[1:]:
            check = c.video["class0:0"]
            assert check.broken == 0 and check.backwards == 0
            assert (320, 240) in check.sizes
        assert await wait_for(lambda: (320, 240) in hub.video["class0:0"].sizes, 10)

        # a late joiner gets its first picture within a second of its subscriber connection coming up
        late = await join("class3", "classroom", "remote", None, low=True)
        assert await wait_for(lambda: frames(late, hub_cam) >= 1, 10)
        first = late.video[hub_cam].first_at - late.sub_connected_at
        assert first < 1.0, first

        # per-track stats as Prometheus text
        async with aiohttp.ClientSession() as http, http.get(srv.url + "/metrics") as response:
            assert response.status == 200
            text = await response.text()
        line = next(x for x in text.splitlines() if x.startswith("sanke_media_track_packets_forwarded_total{"))
        assert f'room="{room}"' in line

        # every subscriber's frames kept advancing
        for b in bots:
            for track_id, check in b.video.items():
                assert check.broken == 0 and check.backwards == 0, (b.name, track_id)
    finally:
        t0 = time.monotonic()
        for bot, signal in zip(bots, signals, strict=True):
            await bot.close()
            await signal.close()
        assert time.monotonic() - t0 < 20


@pytest.mark.solo  # six bots decode in real time (frames within 15 s): starved under -n 2 on a loaded machine
@pytest.mark.parametrize("lesson_server", [0], indirect=True)  # it reads the in-process router's slots
async def test_coteach_room_of_six_forwards_last_n(lesson_server, low_clip, monkeypatch):
    from rooms import audience

    monkeypatch.setattr(audience, "LAST_N", 3)
    srv = lesson_server
    room = await srv.room("coteach")
    bots: list[Bot] = []
    signals: list[WsSignal] = []
    speakers = {"t1", "t3", "t4"}
    try:
        for i in range(6):
            name = f"t{i}"
            signal = WsSignal(srv.url, srv.token(room, "coteach", name, "coteacher"))
            bot = Bot(name, signal, clip=low_clip, tone_hz=400 + 60 * i, speaking=name in speakers,
                      subscribe_mode="count")
            await signal.connect(bot)
            await bot.publish()
            bots.append(bot)
            signals.append(signal)
        live = srv.rooms.get(room)
        assert await wait_for(lambda: speakers <= set(live.speakers) and len(live.tracks) == 12, 10)
        router = srv.media.routers[room]

        def videos(pid: str) -> set[str]:
            slots = router.subscribers[pid].slots
            return {t for t, s in slots.items() if s.active and s.consumer.kind == "video"}

        def audios(pid: str) -> set[str]:
            slots = router.subscribers[pid].slots
            return {t for t, s in slots.items() if s.active and s.consumer.kind == "audio"}

        speaker_cams = {f"{s}:0" for s in speakers}
        for bot in bots:
            expected = speaker_cams - {f"{bot.name}:0"}
            assert await wait_for(lambda bot=bot, expected=expected: expected <= videos(bot.name), 15), bot.name
            assert len(videos(bot.name)) == 3, (bot.name, videos(bot.name))
            assert await wait_for(lambda bot=bot: len(audios(bot.name)) == 5, 5)  # everyone is heard
        # the last-N videos really flow
        for bot in bots:
            for track_id in videos(bot.name):
                assert await wait_for(
                    lambda bot=bot, t=track_id: t in bot.video and bot.video[t].frames >= 5, 15
                ), (bot.name, track_id)
    finally:
        for bot, signal in zip(bots, signals, strict=True):
            await bot.close()
            await signal.close()
