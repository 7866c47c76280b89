"""A media worker killed mid-lesson (kill -9): its room's participants are told which tracks were lost,
their clients make new peer connections on the same signaling session, frames flow again within 5 s, and
the lesson's recording (written inside the worker) loses at most 5 s."""

from __future__ import annotations

import asyncio
import os
import signal as signals
import time

from loadtest.bots import Bot, WsSignal, wait_for
from media.workers import WorkerPool
from rooms.roles import Role, RoomKind, grants_for
from rooms.store import RoomSpec, create_room
from tests.conftest import start_server
from web.api.library import LIBRARY
from web.keys import DB, MEDIA, TOKENS

RECOVERY_S = 5.0


def _token(app, room_id: str, identity: str, role: str, side: str) -> str:
    grants = grants_for(Role(role), RoomKind.DELIVERY, room_id)
    return app[TOKENS].issue_join(identity, identity, role, grants, ttl=600, meta={"side": side})


def _first_after(bot: Bot, track_id: str, since: float) -> float | None:
    check = bot.video.get(track_id)
    return next((t for t in check.times if t > since), None) if check else None


async def test_killed_worker_mid_lesson_recovers_on_the_same_session(tmp_path, low_clip):
    server, runner = await start_server(tmp_path, with_media=True, media_workers=2)
    app = server.app
    pool = app[MEDIA]
    assert isinstance(pool, WorkerPool) and len(pool.workers) == 2
    signals_: list[WsSignal] = []
    bots: list[Bot] = []
    try:
        async with app[DB].session() as s:
            room_id = (await create_room(s, RoomSpec(kind=RoomKind.DELIVERY, title="重启测试"))).id
            await s.commit()

        async def join(identity: str, role: str, side: str, hz: float) -> tuple[Bot, WsSignal]:
            signal = WsSignal(server.url, _token(app, room_id, identity, role, side))
            bot = Bot(identity, signal, clip=low_clip, tone_hz=hz, subscribe_mode="count")
            await signal.connect(bot)
            await bot.publish()
            signals_.append(signal)
            bots.append(bot)
            return bot, signal

        hub, hub_signal = await join("hub", "hub_teacher", "hub", 440)
        pupil, pupil_signal = await join("class0", "classroom", "remote", 550)
        await hub_signal.request({"type": "room.start"})
        recorder = app[LIBRARY].recorder
        assert await wait_for(lambda: recorder.recording_of(room_id) is not None, 5)
        assert await wait_for(lambda: bool(pupil.video.get("hub:0")) and pupil.video["hub:0"].frames >= 30, 15)
        assert await wait_for(lambda: bool(hub.video.get("class0:0")) and hub.video["class0:0"].frames >= 30, 15)
        await asyncio.sleep(3)  # a few seconds recorded before the crash
        sockets = [s.ws for s in signals_]
        worker = pool.placement[room_id]

        killed_at = time.monotonic()
        os.kill(worker.pid, signals.SIGKILL)
        assert await wait_for(lambda: all(b.resets == 1 for b in bots), RECOVERY_S)
        (reset,) = [e for e in pupil_signal.events if e.get("type") == "media.reset"]
        assert {"hub:0", "hub:1"} <= set(reset["tracks"]) and reset["reason"] == "media_restarted"
        # frames flow again on new peer connections of the same signaling sessions, within 5 s of the kill
        assert await wait_for(lambda: _first_after(pupil, "hub:0", pupil.reset_at or 0) is not None, RECOVERY_S)
        assert await wait_for(lambda: _first_after(hub, "class0:0", hub.reset_at or 0) is not None, RECOVERY_S)
        back = max(_first_after(pupil, "hub:0", pupil.reset_at or 0), _first_after(hub, "class0:0", hub.reset_at or 0))
        assert back - killed_at <= RECOVERY_S, back - killed_at
        print(f"worker restart: frames again {back - killed_at:.2f} s after kill -9")
        assert [s.ws for s in signals_] == sockets and not any(s.ws.closed for s in signals_)
        assert all(not any(e.get("type") == "joined" for e in s.events) for s in signals_)  # no rejoin
        assert await wait_for(lambda: len(pool.workers) == 2, 30)  # the replacement joins once it answers
        assert pool.restarts == 1 and worker.pid not in {w.pid for w in pool.workers}
        before = pupil.video["hub:0"].frames
        await asyncio.sleep(3)
        assert pupil.video["hub:0"].frames >= before + 30  # and keep flowing
        await hub_signal.ws.send_json({"type": "room.end"})
        assert await wait_for(lambda: bool(recorder.finished), 30)
    finally:
        for signal in signals_:
            await signal.close()
        for bot in bots:
            await bot.close()
        await runner.cleanup()

    (index,) = recorder.finished
    for pid in ("hub", "class0"):
        for kind in ("video", "audio"):
            parts = sorted((t for t in index.tracks if t.participant_id == pid and t.kind == kind),
                           key=lambda t: t.start_offset)
            assert len(parts) == 2, (pid, kind, parts)  # before the crash, and after the republish
            first, second = parts
            assert first.duration > 2.5 and second.duration > 2.5, parts
            gap = second.start_offset - (first.start_offset + first.duration)
            assert gap <= RECOVERY_S, (pid, kind, gap)
            print(f"worker restart: recording gap {pid} {kind} {gap:.2f} s")
