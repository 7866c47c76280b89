"""A bot lesson of more than 20 s through the real server and SFU is recorded: every track file decodes
completely with PyAV and holds the media the bots sent during the lesson (within 5 %).

On a loaded machine the bots themselves fall behind the clock (their media time is a frame counter), so
each track is compared with what its bot sent while the recording ran, and the recording with the clock.
"""

from __future__ import annotations

import asyncio
import time

import av
import pytest

from loadtest.bots import Bot, WsSignal, wait_for
from loadtest.clip import load
from rooms.roles import Role, RoomKind, grants_for
from rooms.store import RoomSpec, create_room
from tests.conftest import start_server
from web.api.library import LIBRARY
from web.keys import DB, TOKENS

LESSON_SECONDS = 22.0


def token(app, room_id: str, identity: str, role: str, side: str) -> str:
    grants = grants_for(Role(role), RoomKind.DELIVERY, room_id)
    return app[TOKENS].issue_join(identity, identity, role, grants, ttl=600, meta={"side": side})


def sent_seconds(bot: Bot) -> tuple[float, float]:
    """Seconds of (audio, video) media the bot has produced so far."""
    return bot.tone._n * 960 / 48000, bot.video_tracks["high"].sent / bot.clip.fps


def decode(path) -> tuple[int, float]:
    with av.open(str(path)) as container:
        stream = container.streams[0]
        first = last = None
        count = 0
        for frame in container.decode(stream):
            t = float(frame.pts * frame.time_base)
            first = t if first is None else first
            last = t + (frame.samples / frame.sample_rate if stream.type == "audio" else 1 / 30)
            count += 1
    return count, (last - first) if count else 0.0


@pytest.mark.parametrize("media_workers", [None, 0], ids=["sfu-workers", "in-process"])
async def test_bot_lesson_through_the_sfu_is_recorded_track_by_track(tmp_path, media_workers):
    """The default node records inside its SFU worker processes; `0` records in the one process. Both must
    write the same tracks, each holding what its bot sent."""
    more = {} if media_workers is None else {"media_workers": media_workers}
    server, runner = await start_server(tmp_path, with_media=True, **more)
    app = server.app
    clip = load(160, 128, 30, 90, 150_000)
    signals: list[WsSignal] = []
    bots: list[Bot] = []
    try:
        async with app[DB].session() as s:
            room_id = (await create_room(s, RoomSpec(kind=RoomKind.DELIVERY, title="录制测试 1+2"))).id
            await s.commit()

        async def join(identity: str, role: str, side: str, hz: float) -> tuple[Bot, WsSignal]:
            signal = WsSignal(server.url, token(app, room_id, identity, role, side))
            bot = Bot(identity, signal, clip=clip, tone_hz=hz, subscribe_mode="count")
            await signal.connect(bot)
            await bot.publish()
            signals.append(signal)
            bots.append(bot)
            return bot, signal

        hub, hub_signal = await join("hub", "hub_teacher", "hub", 440)
        classes = [await join(f"class{i}", "classroom", "remote", 550 + 110 * i) for i in range(2)]
        room = app[LIBRARY].recorder
        await hub_signal.request({"type": "room.start"})
        assert await wait_for(lambda: room.recording_of(room_id) is not None, 5)
        started = time.monotonic()
        sent_before = {b.name: sent_seconds(b) for b in bots}
        await asyncio.sleep(5)
        await classes[0][1].request({"type": "hand.raise"})
        await hub_signal.request({"type": "stage.invite", "participant_id": classes[0][1].participant_id})
        await asyncio.sleep(max(0.0, LESSON_SECONDS - (time.monotonic() - started)))
        for bot in bots:  # the bots stop sending; what is on its way reaches the recorder before the end
            await bot.pub.close()
        sent = {
            b.name: [a - z for a, z in zip(sent_seconds(b), sent_before[b.name], strict=True)] for b in bots
        }
        await asyncio.sleep(1.5)
        await hub_signal.ws.send_json({"type": "room.end"})  # the server closes every socket: no reply
        lesson = time.monotonic() - started
        assert await wait_for(lambda: bool(room.finished), 30)
    finally:
        for signal in signals:
            await signal.close()
        for bot in bots:
            await bot.close()
        await runner.cleanup()

    (index,) = room.finished
    directory = app[LIBRARY].root / index.recording_id
    assert index.duration == pytest.approx(lesson, rel=0.05)
    sources = sorted((t.participant_id, t.kind) for t in index.tracks)
    assert sources == sorted((p, k) for p in ("hub", "class0", "class1") for k in ("audio", "video"))
    for entry in index.tracks:
        count, covered = decode(directory / entry.file)
        assert count == entry.frames > 0, entry.file
        assert entry.start_offset < 2.0, entry
        audio, video = sent[entry.participant_id]
        expected = audio if entry.kind == "audio" else video
        assert expected > LESSON_SECONDS * 0.6, (entry, expected)  # the bots did send most of the lesson
        assert covered == pytest.approx(expected, rel=0.05), (entry, expected)
        assert covered == pytest.approx(LESSON_SECONDS, rel=0.05) or expected < LESSON_SECONDS * 0.95, entry
        assert entry.duration == pytest.approx(covered, rel=0.05), entry
    types = [m.type for m in index.markers]
    assert "hand_raised" in types and "stage_on" in types
